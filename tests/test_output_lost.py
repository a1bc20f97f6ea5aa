"""A reader that leaves, a closed or full stdout or stderr: the run stops
taking jobs, puts the running ones back as on Ctrl-C, says why on the other
stream, and exits non-zero (141 when the reader of a pipe left, 1 when a
stream cannot be written, 2 when one was closed before anything began).
Every job ends run, back in the queue, or recorded; never a traceback.

The integration tests use real pipes whose reader closes them, on the
private sshd of the test harness."""

import errno
import json
import os
import selectors
import subprocess
from typing import List

import psutil
import pytest
from helpers.runpegasus import Workspace, wait_for

from pegasus.engine.loop import Loop
from pegasus.errors import OutputLost
from pegasus.spec.validate import validate_text
from pegasus.ui.printer import Printer

READER_LEFT = 141
WATCHES_PIPES = hasattr(selectors, "EpollSelector") or not hasattr(selectors, "KqueueSelector")


@pytest.fixture
def work(tmp_path, sshd):
    return Workspace(tmp_path, sshd.config)


def chatty(marks, stream=""):
    """A job that says it started (a file in `marks`), then prints forever."""
    return ("touch %s/{{ n }}; while :; do echo tick {{ n }} %s; sleep 0.1; done"
            % (marks, stream))


def queued(work):
    return [job.params.get("n", job.command)
            for job in validate_text(work.read("queue.yaml"), "queue.yaml")]


def status(work):
    result = work.run("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def processes_of(marks):
    """The job processes still alive on the (loopback) hosts."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(marks in part for part in process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            continue
    return found


def assert_every_job_accounted_for(work, names):
    """Each job is back in the queue, or recorded as run; none is left to a
    runner that died, nor running."""
    state = status(work)
    assert state["recoverable"] == [] and state["runners"] == []
    outcomes = [json.loads(line) for line in work.read(
        ".queue.yaml.pegasus/outcomes.jsonl").splitlines()]
    finished = [record for record in outcomes if record["kind"] != "cancelled"]
    assert len(finished) + len(queued(work)) == len(names)
    consumed = work.consumed()
    assert len(consumed) == len(outcomes)  # every job taken has its outcome


def finish(runner, timeout=120):
    """Await pegasus's exit (a safety net, not a timing claim)."""
    try:
        return runner.wait(timeout=timeout)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()


# --- the reader of stdout leaves -------------------------------------------------------------

def test_a_reader_that_leaves_stops_the_run_and_puts_the_running_jobs_back(work):
    marks = work.file("marks")
    os.mkdir(marks)
    work.hosts("- node-1\n- node-2\n")
    work.queue("- command: %s\n  n: [a, b, c, d]\n" % chatty(marks))
    with open(work.file("err"), "w") as err:
        runner = work.start("q", stderr=err)
        wait_for(lambda: len(os.listdir(marks)) == 2)
        assert runner.stdout.readline()
        runner.stdout.close()   # as `head -1` does
        assert finish(runner) == READER_LEFT
    said = work.read("err")
    assert "pegasus: stdout: its reader left (broken pipe): stopping; cancelling 2 running" \
        in said
    assert "put back 2 cancelled jobs at the top of queue.yaml" in said
    assert "Traceback" not in said
    assert queued(work) == ["a", "b", "c", "d"]
    assert status(work)["finished"]["cancelled"] == 2
    assert_every_job_accounted_for(work, "abcd")
    wait_for(lambda: not processes_of(marks))


@pytest.mark.skipif(not WATCHES_PIPES, reason="this system's selector does not report a "
                    "pipe whose reader left before a write")
def test_a_daemon_whose_reader_left_stops_before_it_writes_again(work):
    # The daemon has nothing more to print: it learns that its reader left
    # from the pipe itself, not from a write.
    work.hosts("- node-1\n")
    work.queue("- echo first\n")
    with open(work.file("err"), "w") as err:
        runner = work.start("q", "-d", stderr=err)
        while "#1 done" not in runner.stdout.readline():
            pass
        wait_for(lambda: "queue empty" in work.read("err"))
        runner.stdout.close()
        assert finish(runner, timeout=60) == READER_LEFT
    said = work.read("err")
    assert "stdout: its reader left (broken pipe): stopping (no job was running)" in said
    assert status(work)["finished"]["ok"] == 1


def test_a_reader_that_leaves_a_broadcast_puts_the_job_back_once(work):
    marks = work.file("marks")
    os.mkdir(marks)
    work.hosts("- node-1\n- node-2\n- node-3\n")
    queue = ("- command: touch %s/{{ hostname }}; while :; do echo tick; sleep 0.1; done\n"
             "- echo next\n" % marks)
    work.queue(queue)
    with open(work.file("err"), "w") as err:
        runner = work.start("b", stderr=err)
        wait_for(lambda: len(os.listdir(marks)) == 3)
        assert runner.stdout.readline()
        runner.stdout.close()
        assert finish(runner) == READER_LEFT
    assert "put back 1 cancelled job " in work.read("err")
    assert work.read("queue.yaml") == queue
    wait_for(lambda: not processes_of(marks))


def test_a_reader_that_leaves_gathered_output_stops_the_job_still_running(work):
    marks = work.file("marks")
    os.mkdir(marks)
    work.hosts("- node-1\n")
    work.queue("- echo one\n- touch %s/two; sleep 60\n" % marks)
    with open(work.file("err"), "w") as err:
        runner = work.start("q", "--gather", stderr=err)
        assert runner.stdout.readline() == "=== echo one\n"
        wait_for(lambda: os.listdir(marks))
        runner.stdout.close()
        assert finish(runner) == READER_LEFT
    assert queued(work) == ["touch %s/two; sleep 60" % marks]
    assert_every_job_accounted_for(work, ["one", "two"])


def test_a_reader_of_stderr_that_leaves_stops_the_run_too(work):
    marks = work.file("marks")
    os.mkdir(marks)
    work.hosts("- node-1\n- node-2\n")
    work.queue("- command: %s\n  n: [a, b, c]\n" % chatty(marks, ">&2"))
    runner = work.start("q", stdout=subprocess.DEVNULL)
    wait_for(lambda: len(os.listdir(marks)) == 2)
    assert runner.stderr.readline()
    runner.stderr.close()
    assert finish(runner) == READER_LEFT
    assert queued(work) == ["a", "b", "c"]
    assert_every_job_accounted_for(work, "abc")
    wait_for(lambda: not processes_of(marks))


# --- a full stdout, a closed one ---------------------------------------------------------------

def test_a_full_stdout_stops_the_run_puts_its_job_back_and_says_why(work):
    marks = work.file("marks")
    os.mkdir(marks)
    work.hosts("- node-1\n- node-2\n")
    work.queue("- command: touch %s/{{ n }}; sleep 60\n  n: [a, b, c]\n" % marks)
    with open("/dev/full", "w") as full:
        result = subprocess.run(work.argv("q"), cwd=work.path, stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    assert "pegasus: stdout: cannot write: No space left on device: stopping" in result.stderr
    assert "cannot write a file" not in result.stderr and "Traceback" not in result.stderr
    assert queued(work) == ["a", "b", "c"]
    assert_every_job_accounted_for(work, "abc")


@pytest.mark.parametrize("closed, other", [(1, "stderr"), (2, "stdout")])
def test_a_closed_stdout_or_stderr_is_refused_before_anything_is_taken(work, closed, other):
    work.hosts("- node-1\n")
    work.queue("- echo a\n- echo b\n")
    result = subprocess.run(["sh", "-c", 'exec "$@" %d>&-' % closed, "sh"] + work.argv("q"),
                            cwd=work.path, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 2
    said = result.stderr if other == "stderr" else result.stdout
    assert "pegasus: %s closed: " % ("stdout" if closed == 1 else "stderr") in said
    assert "/dev/null" in said and "Traceback" not in said
    assert work.read("queue.yaml") == "- echo a\n- echo b\n"
    assert not work.exists("consumed.yaml")


# --- modes that only print --------------------------------------------------------------------

def _closed_reader(work, *args):
    """Run pegasus with a stdout pipe whose reader left before it wrote."""
    runner = work.start(*args)
    runner.stdout.close()
    err = runner.stderr.read()
    return finish(runner), err


def test_status_and_a_requeue_dry_run_into_a_reader_that_left_say_so_by_their_status(work):
    work.hosts("- node-1\n")
    work.queue("- exit 3\n")
    assert work.run("q").returncode == 1
    assert _closed_reader(work, "status") == (READER_LEFT, "")
    status_json, err = _closed_reader(work, "status", "--json")
    assert (status_json, err) == (READER_LEFT, "")
    returncode, err = _closed_reader(work, "l", "--requeue", "failed", "--dry-run")
    assert returncode == READER_LEFT and "Traceback" not in err
    assert work.read("queue.yaml").strip() == ""   # a dry run still changes nothing
    assert work.run("l", "--requeue", "failed").returncode == 0   # the lock was let go


def test_status_into_a_full_stdout_says_why(work):
    work.queue("- echo a\n")
    with open("/dev/full", "w") as full:
        result = subprocess.run(work.argv("status"), cwd=work.path, stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr == "pegasus: stdout: cannot write: No space left on device\n"


def test_an_append_whose_stderr_reader_left_is_made_once_and_says_so_by_its_status(work):
    work.queue("- echo a\n")
    runner = work.start("l", "--append", "echo b")
    runner.stderr.close()
    assert finish(runner) == READER_LEFT
    assert work.read("queue.yaml") == "- echo a\n- echo b\n"


# --- the parts, without processes ----------------------------------------------------------------

class Told:
    """An OutputListener that keeps what it hears."""

    def __init__(self, heard: List[OutputLost]):
        self.heard = heard

    def output_lost(self, lost: OutputLost) -> None:
        self.heard.append(lost)


def test_the_printer_tells_once_that_stdout_is_lost_and_goes_on_with_stderr():
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    os.close(out_read)  # the reader left
    lost: List[OutputLost] = []
    with open(out_write, "w") as stdout, open(err_write, "w") as stderr:
        printer = Printer(stdout=stdout, stderr=stderr, color="never")
        printer.tell_when_lost(Told(lost))
        printer._emit(printer._out, "one\n")
        printer._emit(printer._out, "two\n")
        printer._emit(printer._err, "still said\n")
    assert len(lost) == 1 and isinstance(lost[0], OutputLost)
    assert (lost[0].stream, lost[0].errno, lost[0].reader_left) == ("stdout", errno.EPIPE, True)
    assert printer.lost is lost[0]
    with os.fdopen(err_read) as said:
        assert said.read() == "still said\n"


@pytest.mark.skipif(not WATCHES_PIPES, reason="this system's selector does not report a "
                    "pipe whose reader left before a write")
def test_the_loop_tells_when_the_reader_of_a_pipe_leaves():
    loop = Loop()
    read_end, write_end = os.pipe()
    told = []
    try:
        assert loop.on_reader_gone(write_end, lambda: told.append(True))
        os.close(read_end)
        loop.call_later(60, lambda: None)   # a safety net
        loop.run(until=lambda: bool(told))
        assert told == [True]
    finally:
        loop.close()
        os.close(write_end)


def test_the_loop_watches_only_pipes(tmp_path):
    loop = Loop()
    try:
        with open(tmp_path / "file", "w") as stream:
            assert not loop.on_reader_gone(stream.fileno(), lambda: None)
    finally:
        loop.close()
