"""No append is ever lost, whatever the writer does (SPEC §1): every kind of
program people feed a queue with, writing while `pegasus q -d` takes jobs
on the real sshd. Each appended job records itself when it runs; every one
must run, and pure appenders' jobs exactly once."""

import collections
import signal
import subprocess
import sys

import pytest
from helpers.runpegasus import Workspace, wait_for

COUNT = 100          # entries each writer adds
PAUSE = "0.01"       # seconds between two of them

# Each writer adds COUNT entries `- echo ID >> LOG`, in its own way.
SHELL_WRITERS = {
    # A new open and close per entry: the usual `>>`.
    "echo each": 'for i in $(seq {n}); do echo "- echo $i >> {log}" >> queue.yaml; '
                 "sleep {pause}; done",
    # One open for the whole loop: the descriptor outlives many takes.
    "loop redirected once": 'for i in $(seq {n}); do echo "- echo $i >> {log}"; '
                            "sleep {pause}; done >> queue.yaml",
    "exec 3>>": 'exec 3>>queue.yaml; for i in $(seq {n}); do echo "- echo $i >> {log}" >&3; '
                "sleep {pause}; done",
    "tee -a": 'for i in $(seq {n}); do echo "- echo $i >> {log}"; sleep {pause}; done '
              "| tee -a queue.yaml >/dev/null",
}

PYTHON_WRITERS = {
    # A long-lived program holding the file open in append mode.
    "program in append mode": """
with open("queue.yaml", "a") as stream:
    for i in range(1, N + 1):
        stream.write("- echo %d >> %s\\n" % (i, LOG)); stream.flush(); time.sleep(PAUSE)
""",
    # An editor that writes its buffer back into the same file.
    "editor rewriting in place": """
for i in range(1, N + 1):
    with open("queue.yaml", "r+") as stream:
        text = stream.read()
        stream.seek(0); stream.write(text + "- echo %d >> %s\\n" % (i, LOG)); stream.truncate()
    time.sleep(PAUSE)
""",
    # An editor that writes a new file and renames it over the old one.
    "editor renaming a new file": """
for i in range(1, N + 1):
    with open("queue.yaml") as stream:
        text = stream.read()
    with open(".queue.yaml.swp", "w") as stream:
        stream.write(text + "- echo %d >> %s\\n" % (i, LOG))
    os.replace(".queue.yaml.swp", "queue.yaml")
    time.sleep(PAUSE)
""",
}

# Editors write back what they read: a job pegasus took in between comes
# back with it and may run again. They must lose nothing all the same.
REWRITERS = {"editor rewriting in place", "editor renaming a new file"}


def writer_argv(kind, log):
    if kind in SHELL_WRITERS:
        return ["sh", "-c", SHELL_WRITERS[kind].format(n=COUNT, log=log, pause=PAUSE)]
    code = "import os, time\nN, LOG, PAUSE = %d, %r, %s\n" % (COUNT, log, PAUSE)
    return [sys.executable, "-c", code + PYTHON_WRITERS[kind]]


def ran(log):
    try:
        with open(log) as stream:
            return collections.Counter(line.strip() for line in stream if line.strip())
    except FileNotFoundError:
        return collections.Counter()


@pytest.mark.parametrize("kind", list(SHELL_WRITERS) + list(PYTHON_WRITERS))
def test_every_appended_job_runs(tmp_path, sshd, kind):
    work = Workspace(tmp_path, sshd.config)
    log = work.file("ran.log")
    work.hosts("- node-1\n- node-2\n")
    work.queue("")
    runner = work.start("q", "-d")
    try:
        writer = subprocess.run(writer_argv(kind, log), cwd=work.path, timeout=120, check=False)
        assert writer.returncode == 0
        expected = {str(i) for i in range(1, COUNT + 1)}
        wait_for(lambda: expected <= set(ran(log)), timeout=60)
    finally:
        runner.send_signal(signal.SIGINT)
        _out, err = runner.communicate(timeout=60)
    counts = ran(log)
    assert set(counts) == expected, err
    if kind not in REWRITERS:
        assert set(counts.values()) == {1}, "ran more than once: %s" % sorted(
            job for job, times in counts.items() if times > 1)
    assert "Traceback" not in err
    # Nothing is left behind unaccounted for: the queue is empty, and every
    # job that ran was recorded as taken.
    assert work.read("queue.yaml").strip() in ("", "[]")
    consumed = collections.Counter(job["command"].split()[1] for job in work.consumed())
    assert set(consumed) == expected


def test_a_replaced_file_still_open_for_appending_is_gathered_by_the_next_run(tmp_path, sshd):
    # The writer keeps its descriptor after the runner has gone: what it
    # writes then waits beside the queue and runs with the next runner.
    work = Workspace(tmp_path, sshd.config)
    log = work.file("ran.log")
    work.hosts("- node-1\n")
    work.queue("- echo 1 >> %s\n" % log)
    with open(work.file("queue.yaml"), "a") as stream:
        assert work.run("q").returncode == 0
        assert ran(log) == {"1": 1}
        stream.write("- echo 2 >> %s\n" % log)
        stream.flush()
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    assert ran(log) == {"1": 1, "2": 1}
