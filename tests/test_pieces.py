"""An entry written in pieces runs once, whole (SPEC §1): a shell script's
several `echo >> queue.yaml`, a program writing a block scalar a line at a
time, a write() that ends mid-line or inside a character; through a
descriptor held open across takes, or with a new open per piece; under a
daemon, a run without -d, `pegasus l --append` and `pegasus status`. The
live file's last entry waits until it has settled
(pegasus/queuefile/settle.py). Real writers, the real sshd."""

import collections
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers.runpegasus import Workspace, wait_for

# Between two pieces of one entry, inside the writer: well under the settle
# time (0.75 s), so that the pieces make one entry.
PAUSE = 0.15

# The first job keeps the only sub-host busy until the test lets it end, so
# that the take that follows it meets the pieces written meanwhile.
GATE = ("- touch {d}/started; while [ ! -e {d}/finish ]; do sleep 0.02; done; "
        "touch {d}/ended\n")

# Each entry, as its pieces, and the lines its jobs append to LOG when it
# runs whole (one line per job, but for the block scalar).
PIECES = {
    # The block scalar, one line per `echo >>`.
    "block scalar a line at a time": (
        [b"- |\n", b"  echo block-1 >> {log}\n", b"  echo block-2 >> {log}\n"],
        ["block-1", "block-2"]),
    # The command, then its parameters: a half is no job at all.
    "command, then its parameters": (
        [b"- command: echo lr={{ lr }} >> {log}\n", b"  lr: [1, 2]\n"],
        ["lr=1", "lr=2"]),
    "write ending mid-line": (
        [b"- echo hel", b"lo >> {log}\n"], ["hello"]),
    "write ending inside a character": (
        ["- echo h\u00e9llo >> {log}\n".encode()[:9], "- echo h\u00e9llo >> {log}\n".encode()[9:]],
        ["h\u00e9llo"]),
}


class Writer:
    """Writes pieces to queue.yaml: through one descriptor opened at the
    start and held (it outlives the takes that replace the file), or each
    piece with a new open by a shell, as `printf ... >> queue.yaml` does."""

    def __init__(self, work, held):
        self.work = work
        self.fd = os.open(work.file("queue.yaml"), os.O_WRONLY | os.O_APPEND) if held else None

    def write(self, data):
        if self.fd is not None:
            os.write(self.fd, data)
        else:
            subprocess.run(["sh", "-c", 'printf "%s" "$1" >> queue.yaml', "sh", data],
                           cwd=self.work.path, check=True)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def log_lines(work):
    try:
        with open(work.file("log"), encoding="utf-8") as stream:
            return stream.read().splitlines()
    except FileNotFoundError:
        return []


def _write_while_the_gate_closes(work, writer, pieces):
    """The first piece while the gate job runs, the rest after it ended,
    PAUSE apart: the take after the gate job meets a half-written entry."""
    wait_for(lambda: work.exists("started"))
    writer.write(pieces[0])
    open(work.file("finish"), "w").close()
    wait_for(lambda: work.exists("ended"))
    for piece in pieces[1:]:
        time.sleep(PAUSE)
        writer.write(piece)


def _pieces(kind, work):
    raw, expected = PIECES[kind]
    return [piece.replace(b"{log}", work.file("log").encode()) for piece in raw], expected


# A descriptor held across the take: pieces that end mid-line wait in the
# replaced file for their newline (see the test of a last line its writer
# keeps open), the others reach the queue in turn.
CASES = [(kind, False) for kind in PIECES] + [
    ("block scalar a line at a time", True), ("command, then its parameters", True)]


@pytest.mark.parametrize("kind, held", CASES, ids=[
    "%s, %s" % (kind, "held descriptor" if held else "separate opens") for kind, held in CASES])
def test_a_daemon_runs_an_entry_written_in_pieces_once_whole(tmp_path, sshd, kind, held):
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- node-1\n")
    work.queue(GATE.format(d=work.path))
    pieces, expected = _pieces(kind, work)
    writer = Writer(work, held)
    runner = work.start("q", "-d")
    try:
        _write_while_the_gate_closes(work, writer, pieces)
        writer.close()
        wait_for(lambda: len(log_lines(work)) >= len(expected), timeout=60)
        wait_for(lambda: not work.read("queue.yaml").strip())
    finally:
        writer.close()
        runner.send_signal(signal.SIGTERM)
        _out, err = runner.communicate(timeout=60)
    assert log_lines(work) == expected, err
    jobs = 1 if kind == "block scalar a line at a time" else len(expected)
    assert len(work.consumed()) == 1 + jobs
    # A half-written entry is not a broken queue.
    assert "nothing is taken until the file is fixed" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", ["block scalar a line at a time", "write ending mid-line"])
def test_a_run_without_d_waits_for_its_last_entry_still_being_written(tmp_path, sshd, kind):
    # The queue's last entry is still being written when the run would end:
    # it waits for it (the settle time), takes it whole, and ends.
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- node-1\n")
    work.queue(GATE.format(d=work.path))
    pieces, expected = _pieces(kind, work)
    runner = work.start("q")
    writer = Writer(work, held=False)
    _write_while_the_gate_closes(work, writer, pieces)
    _out, err = runner.communicate(timeout=120)
    assert runner.returncode == 0, err
    assert log_lines(work) == expected
    assert not work.read("queue.yaml").strip()


def test_a_last_line_its_writer_keeps_open_waits_and_others_go_before_it(tmp_path, sshd):
    # A writer holds the file and stops in the middle of a line: that entry
    # waits, however long, while the rest of the queue runs; `pegasus l
    # --append` puts its entry before it; nobody calls the queue broken;
    # once the writer finishes the line, it runs whole.
    work = Workspace(tmp_path, sshd.config)
    log = work.file("log")
    work.hosts("- node-1\n")
    work.queue("")
    writer = Writer(work, held=True)
    try:
        writer.write(('- echo A >> %s\n- command: "echo B >' % log).encode())
        status = work.run("status", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["queue_error"] is None
        appended = work.run("l", "--append", "echo C >> %s" % log)
        assert appended.returncode == 0, appended.stderr
        first = work.run("q")
        assert first.returncode == 0, first.stderr
        assert log_lines(work) == ["A", "C"]
        assert "still being written" in first.stderr
        assert "nothing is taken until the file is fixed" not in first.stderr
        writer.write(('> %s"\n' % log).encode())
    finally:
        writer.close()
    second = work.run("q")
    assert second.returncode == 0, second.stderr
    assert log_lines(work) == ["A", "C", "B"]
    assert not work.read("queue.yaml").strip()


def test_append_waits_for_an_entry_just_written_and_keeps_the_order(tmp_path, sshd):
    # A guard of the rule above: an entry appended in one write just before
    # still comes first.
    work = Workspace(tmp_path, sshd.config)
    log = work.file("log")
    work.hosts("- node-1\n")
    work.queue("")
    subprocess.run(["sh", "-c", "echo '- echo A >> %s' >> queue.yaml" % log], cwd=work.path,
                   check=True)
    assert work.run("l", "--append", "echo B >> %s" % log).returncode == 0
    assert work.run("q").returncode == 0
    assert log_lines(work) == ["A", "B"]


# --- many writers at once -------------------------------------------------------------

WRITERS = 8
ENTRIES = 6          # per writer
LINES = 330          # `n=$((n+1))` lines in one entry: about 5 KiB

# A writer: ENTRIES entries of about 5 KiB, each in 3 write() calls cut at
# random places (mid-line too), pauses between them. The writers take turns
# entry by entry among themselves (flock on a file of theirs, not pegasus's
# lock), as programs that share a queue must: else their pieces interleave.
# "opens": each piece with a new open, as `>>` does; "held": one descriptor
# each, all opened before anything was taken (so all reach the same file).
WRITER = r"""
import fcntl, os, random, sys, time
name, held, log, pause = sys.argv[1], sys.argv[2] == "held", sys.argv[3], float(sys.argv[4])
random.seed(name)
fd = os.open("queue.yaml", os.O_WRONLY | os.O_APPEND) if held else None
open("ready-" + name, "w").close()
while not os.path.exists("go"):
    time.sleep(0.01)
turns = os.open("writers.lock", os.O_RDWR | os.O_CREAT)
for number in range(%(entries)d):
    entry = ("- command: |\n    n=0\n" + "    n=$((n+1))\n" * %(lines)d
             + "    echo %%s-%%d $n >> %%s\n" %% (name, number, log)).encode()
    cuts = sorted(random.sample(range(1, len(entry)), 2))
    fcntl.flock(turns, fcntl.LOCK_EX)
    for start, end in zip([0] + cuts, cuts + [len(entry)]):
        if start:
            time.sleep(random.uniform(0, pause))
        out = fd if held else os.open("queue.yaml", os.O_WRONLY | os.O_APPEND)
        os.write(out, entry[start:end])
        if not held:
            os.close(out)
    fcntl.flock(turns, fcntl.LOCK_UN)
""" % {"entries": ENTRIES, "lines": LINES}


@pytest.mark.parametrize("mode", ["opens", "held"])
def test_eight_writers_of_5_kib_entries_in_3_writes_each_run_once_whole(tmp_path, sshd, mode):
    work = Workspace(tmp_path, sshd.config)
    log = work.file("log")
    work.hosts("- node-1\n- node-2\n- node-3\n")
    work.queue("")
    runner = work.start("q", "-d", stdout=subprocess.DEVNULL)
    writers = []
    try:
        writers = [subprocess.Popen(
            [sys.executable, "-c", WRITER, "w%d" % index, mode, log, str(PAUSE)],
            cwd=work.path) for index in range(WRITERS)]
        wait_for(lambda: all(work.exists("ready-w%d" % index) for index in range(WRITERS)))
        open(work.file("go"), "w").close()
        for writer in writers:
            assert writer.wait(timeout=300) == 0
        wait_for(lambda: len(log_lines(work)) >= WRITERS * ENTRIES, timeout=120)
        wait_for(lambda: not work.read("queue.yaml").strip())
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
        runner.send_signal(signal.SIGTERM)
        _out, err = runner.communicate(timeout=60)
    ran = collections.Counter(log_lines(work))
    expected = {"w%d-%d %d" % (w, n, LINES) for w in range(WRITERS) for n in range(ENTRIES)}
    assert set(ran) == expected, err[-3000:]
    assert set(ran.values()) == {1}
    assert len(work.consumed()) == WRITERS * ENTRIES
    assert "nothing is taken until the file is fixed" not in err
    assert "Traceback" not in err
