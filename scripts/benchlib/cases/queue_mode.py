"""(b) `pegasus q` over the private sshd, and (c) GNU parallel doing the same work;
their targets against the limit (a) and each other."""

import os
import shlex
import subprocess
import time
from typing import List

from benchlib.core import Bench, CaseError, Row, Skip, Timed, run_process, tail, verify_queue_run
from benchlib.registry import Target, case, measured

TARGET_PEGASUS_VS_LIMIT = 1.5     # (b) <= 1.5 x (a)
TARGET_PARALLEL_VS_PEGASUS = 3.0  # (c) >= 3 x (b)


def pegasus_once(bench: Bench) -> float:
    directory = bench.workdir("pegasus")
    queue, hosts_file = bench.job_files(directory)
    prefix, env = bench.pegasus_command()
    errors = os.path.join(directory, "stderr")
    with open(errors, "wb") as log:
        start = time.monotonic()
        status = run_process(prefix + bench.pegasus_args(queue, hosts_file), env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=log, cwd=directory)
        seconds = time.monotonic() - start
    if status != 0:
        raise CaseError("pegasus q exited with status %d:\n%s" % (status, tail(errors)))
    verify_queue_run(directory, queue, bench.jobs)
    return seconds


def pegasus_targets(rows: List[Row]) -> List[Target]:
    seconds, _ = measured(rows)
    if "a" not in seconds or "b" not in seconds:
        return []
    ratio = seconds["b"] / seconds["a"]
    return [("(b)/(a)", "%.2fx" % ratio, "<= %gx" % TARGET_PEGASUS_VS_LIMIT,
             ratio <= TARGET_PEGASUS_VS_LIMIT)]


@case("b", "pegasus", "(b) pegasus q", targets=pegasus_targets)
def case_pegasus(bench: Bench) -> Timed:
    """`pegasus q` as a subprocess, JOBS `true` jobs over N sub-hosts; wall time,
    including starting Python and connecting."""
    return Timed("b", "(b) pegasus q (wall, incl. connecting)",
                 lambda: pegasus_once(bench), bench.jobs)


def check_gnu_parallel(path: str) -> None:
    out = subprocess.run([path, "--version"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, check=False).stdout
    if "GNU parallel" not in out:
        raise Skip("%s is not GNU parallel (moreutils?)" % path)


def parallel_once(bench: Bench, parallel: str) -> float:
    directory = bench.workdir("parallel")
    # GNU parallel's -M silently does nothing when --ssh has arguments, so
    # `ssh -F cfg` goes into a one-line wrapper.
    wrapper = os.path.join(directory, "ssh")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec ssh -F %s "$@"\n' % shlex.quote(bench.config))
    os.chmod(wrapper, 0o755)
    logins = os.path.join(directory, "sshlogins")
    with open(logins, "w") as f:
        f.write("".join("1/%s\n" % a for a in bench.aliases(bench.hosts)))
    commands = os.path.join(directory, "commands")
    with open(commands, "w") as f:
        f.write("true\n" * bench.jobs)
    home = os.path.join(directory, "parallel-home")   # not ~/.parallel
    os.mkdir(home)
    env = dict(os.environ, PARALLEL_HOME=home, TMPDIR=directory)
    errors = os.path.join(directory, "stderr")
    with open(commands, "rb") as stdin, open(errors, "wb") as log:
        start = time.monotonic()
        status = run_process([parallel, "--will-cite", "-M", "--sshloginfile", logins,
                              "--ssh", wrapper], env=env, stdin=stdin,
                             stdout=subprocess.DEVNULL, stderr=log, cwd=directory)
        seconds = time.monotonic() - start
    if status != 0:
        raise CaseError("parallel exited with status %d:\n%s" % (status, tail(errors)))
    return seconds


def parallel_targets(rows: List[Row]) -> List[Target]:
    seconds, _ = measured(rows)
    found: List[Target] = []
    if "a" in seconds and "c" in seconds:
        found.append(("(c)/(a)", "%.2fx" % (seconds["c"] / seconds["a"]), "(none)", None))
    if "b" in seconds and "c" in seconds:
        ratio = seconds["c"] / seconds["b"]
        found.append(("(c)/(b)", "%.2fx" % ratio,
                      ">= %gx (pegasus 3x faster than parallel)" % TARGET_PARALLEL_VS_PEGASUS,
                      ratio >= TARGET_PARALLEL_VS_PEGASUS))
    return found


@case("c", "parallel", "(c) GNU parallel", targets=parallel_targets)
def case_parallel(bench: Bench) -> Timed:
    """GNU parallel -M with the same jobs and N slots."""
    parallel = bench.tool("parallel", "parallel", check=check_gnu_parallel)
    version = subprocess.run([parallel, "--version"], stdout=subprocess.PIPE,
                             universal_newlines=True, check=False).stdout.splitlines()[0]
    return Timed("c", "(c) GNU parallel -M, %d slots" % bench.hosts,
                 lambda: parallel_once(bench, parallel), bench.jobs, note=version)
