"""(d) pegasus's own CPU time per job, measured in-process in a forked child, so
that neither its ssh children nor Python's start-up count."""

import json
import os
import resource
import sys
import time
import traceback
from typing import Any, Dict, List

from benchlib.core import REPO, Bench, CaseError, Row, tail, verify_queue_run
from benchlib.registry import Target, case, measured

TARGET_CPU_MS = 2.0               # (d) < 2 ms per job


def cpu_child(bench: Bench, directory: str, queue: str, hosts_file: str,
              write_fd: int) -> None:
    """In the forked child: run pegasus's main() in this process, in its
    main thread, and send our CPU times back as JSON."""
    result: Dict[str, Any] = {}
    try:
        os.chdir(directory)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        errors = os.open(os.path.join(directory, "stderr"),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(errors, 2)
        sys.path.insert(0, REPO)
        import pegasus.main
        result["module"] = pegasus.main.__file__
        before = resource.getrusage(resource.RUSAGE_SELF)
        kids_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        result["status"] = pegasus.main.main(bench.pegasus_args(queue, hosts_file))
        result["wall"] = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        kids_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        result["user"] = after.ru_utime - before.ru_utime
        result["sys"] = after.ru_stime - before.ru_stime
        result["children"] = (kids_after.ru_utime - kids_before.ru_utime
                              + kids_after.ru_stime - kids_before.ru_stime)
    except BaseException:  # noqa: BLE001  (whatever it is, the parent reports it)
        result["error"] = traceback.format_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.write(write_fd, json.dumps(result).encode())
        os._exit(0)


def cpu_targets(rows: List[Row]) -> List[Target]:
    _, per_job = measured(rows)
    if "d" not in per_job:
        return []
    ms = per_job["d"] * 1e3
    return [("(d) CPU per job", "%.2f ms" % ms, "< %g ms" % TARGET_CPU_MS, ms < TARGET_CPU_MS)]


@case("d", "cpu", "(d) pegasus CPU", targets=cpu_targets)
def case_cpu(bench: Bench) -> List[Row]:
    """pegasus's own CPU time per job (its process, not its ssh children), measured
    in-process in a forked child."""
    directory = bench.workdir("cpu")
    queue, hosts_file = bench.job_files(directory)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        cpu_child(bench, directory, queue, hosts_file, write_fd)
    os.close(write_fd)
    chunks = []
    with os.fdopen(read_fd, "rb") as pipe:
        chunks.append(pipe.read())
    os.waitpid(pid, 0)
    try:
        result = json.loads(b"".join(chunks).decode() or "{}")
    except ValueError:
        raise CaseError("the forked child sent no result") from None
    if "error" in result:
        raise CaseError("in-process pegasus raised:\n%s" % result["error"].strip())
    if result.get("status") != 0:
        raise CaseError("in-process pegasus returned %r:\n%s"
                        % (result.get("status"), tail(os.path.join(directory, "stderr"))))
    verify_queue_run(directory, queue, bench.jobs)
    cpu = result["user"] + result["sys"]
    bench.progress("(d) cpu %.3f s (user %.3f, sys %.3f), wall %.3f s"
                   % (cpu, result["user"], result["sys"], result["wall"]))
    return [Row("d", "(d) pegasus CPU, own process only", cpu, cpu / bench.jobs,
                vs_limit=False,
                note="user %.2f + sys %.2f s; wall %.2f s; its ssh children %.2f s CPU"
                     % (result["user"], result["sys"], result["wall"], result["children"]))]
