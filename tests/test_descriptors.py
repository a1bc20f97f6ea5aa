"""Too few file descriptors (issue 20, item 14), on the real sshd: a run
whose ssh masters cannot fit under the open-file limit is refused at the
start with the numbers; one whose jobs cannot all run at once runs fewer at
once; a job that could not be started for want of descriptors runs again;
and a message naming a hundred sub-hosts stays one short line."""

import collections
import resource
import subprocess
import sys

from helpers.runpegasus import Workspace, environment


def limited(soft_and_hard):
    """A preexec_fn giving the child a hard open-file limit."""
    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft_and_hard, soft_and_hard))
    return apply


def run_limited(work, limit, *args):
    process = work.start("q", *args, preexec_fn=limited(limit))
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def numbered(count, done):
    return "- command: echo {{ n }} >> %s\n  n: [%s]\n" % (
        done, ", ".join(str(n) for n in range(count)))


def test_masters_that_cannot_fit_are_refused_at_the_start_with_the_numbers(tmp_path, sshd):
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- hostname: node-1\n  k: [%s]\n" % ", ".join(str(k) for k in range(40)))
    queue = work.queue(numbered(5, work.file("done")))
    before = open(queue).read()
    status, out, err = run_limited(work, 64)
    assert status == 2, err
    assert "too few file descriptors for this run: its 40 ssh masters" in err
    assert "at most 64 (ulimit -n, hard limit 64)" in err
    assert "Too many open files" not in err and "dead runner" not in err
    assert "cannot run ssh" not in out + err
    assert work.read("queue.yaml") == before and not work.exists("consumed.yaml")


def test_under_a_low_limit_fewer_jobs_run_at_once_and_every_job_runs(tmp_path, sshd):
    work = Workspace(tmp_path, sshd.config)
    done = work.file("done")
    work.hosts("- hostname: node-1\n  k: [%s]\n" % ", ".join(str(k) for k in range(40)))
    work.queue(numbered(60, done))
    status, out, err = run_limited(work, 200)
    assert status == 0, err
    ran = collections.Counter(open(done).read().split())
    assert sorted(ran, key=int) == [str(n) for n in range(60)] and set(ran.values()) == {1}
    assert "jobs run at once, not 40" in err
    assert "Too many open files" not in out + err


def test_under_a_low_limit_a_broadcast_runs_everywhere_a_few_at_a_time(tmp_path, sshd):
    work = Workspace(tmp_path, sshd.config)
    done = work.file("done")
    work.hosts("- hostname: node-1\n  k: [%s]\n" % ", ".join(str(k) for k in range(40)))
    work.queue("- echo a {{ k }} >> %s\n- echo b {{ k }} >> %s\n" % (done, done))
    process = work.start("b", preexec_fn=limited(200))
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    ran = collections.Counter(open(done).read().splitlines())
    assert sorted(ran) == sorted("%s %d" % (job, k) for job in "ab" for k in range(40))
    assert set(ran.values()) == {1}
    assert "jobs run at once, not 40" in err and "Too many open files" not in out + err


# pegasus as it is, but with every descriptor left taken by someone else
# for a second once the run is under way: the first jobs cannot be started
# (EMFILE), through no fault of theirs.
SHORT_OF_DESCRIPTORS = """
import os, sys, threading
from pegasus.engine import connections
start = connections.Connections.start
def fill_then_start(self):
    taken = []
    try:
        while True:
            taken.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    def give_back():
        for fd in taken:
            os.close(fd)
    threading.Timer(1.0, give_back).start()
    start(self)
connections.Connections.start = fill_then_start
from pegasus.main import main
sys.exit(main())
"""


def test_a_job_that_could_not_be_started_for_want_of_descriptors_runs_again(tmp_path):
    work = Workspace(tmp_path)
    argv = [sys.executable, "-c", SHORT_OF_DESCRIPTORS, "q", "--joblog", "jobs.tsv",
            "-w", "localhost", "--", "echo one >> %s" % work.file("done"),
            "echo two >> %s" % work.file("done")]
    result = subprocess.run(argv, cwd=work.path, env=environment(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(work.read("done").split()) == ["one", "two"]
    assert "NOT STARTED: could not start here: Too many open files; it runs again" \
        in result.stdout
    assert "failed" not in result.stderr.replace("0 failed", "")


def test_a_hundred_sub_hosts_are_named_in_one_short_line(tmp_path, sshd):
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- localhost\n- hostname: node-1\n  k: [%s]\n"
               % ", ".join(str(k) for k in range(105)))
    work.queue("- 'true'\n")
    # One connection opened at a time: the job is done on localhost long
    # before the hundred others are up.
    result = work.run("q", "--connect-limit", "1")
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "the run ended before" in line]
    assert len(line) < 200, line
    assert "sub-hosts (node-1) connected: they ran nothing" in line

