"""A runner's journal (pegasus/queuefile/journal.py) stays bounded over a
daemon's whole life: what is finished is compacted away, crash-safely --
neither `pegasus status` nor crash recovery can tell, and a runner killed
in the middle of a compaction loses no running job's record."""

import json
import os
import signal
import subprocess
import sys

import pytest
from helpers.runpegasus import REPO, Workspace, wait_for

from pegasus.modes.status import _runner
from pegasus.queuefile.journal import COMPACT_AT, Journal, dead_journals, read_records, unfinished
from pegasus.queuefile.statedir import StateDir
from pegasus.spec.jobs import Job

PAD = "x" * 200


def run_jobs(journal, first, count, keep=()):
    """`count` jobs taken, started and finished, as a runner journals them;
    those numbered in `keep` are left running. Returns {number: canonical}."""
    running = {}
    for number in range(first, first + count):
        job = Job("true %d %s" % (number, PAD), {})
        job.ticket = journal.new_ticket()
        txn = journal.begin([job])
        journal.commit(txn)
        journal.note({"s": number, "host": "node-1", "cmd": job.command, "at": 1.0,
                      "attempt": 1})
        if number in keep:
            running[number] = job.canonical()
            continue
        journal.note({"e": number})
        journal.finished(job.ticket)
    return running


def read_journal(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_records(fd)
    finally:
        os.close(fd)


def test_a_journal_of_20000_jobs_stays_bounded_and_says_what_runs(tmp_path):
    state = StateDir(str(tmp_path / "queue.yaml"))
    journal = Journal(state)
    journal.note({"runner": {"pid": os.getpid(), "mode": "queue"}})
    journal.note({"up": 3})
    running = run_jobs(journal, 1, 20000, keep={5, 10000, 19999})
    size = os.path.getsize(journal.path)
    assert size < COMPACT_AT + 4096, size
    records = read_journal(journal.path)
    assert unfinished(records) == [running[5], running[10000], running[19999]]
    seen = _runner(journal.path, records, 2.0)
    assert [job["seq"] for job in seen["running"]] == [5, 10000, 19999]
    assert seen["connected"] == 3 and seen["mode"] == "queue"
    journal.close()


# A runner that dies in the middle of compacting its journal: just before the
# new file is renamed over the old one, or just after.
CHILD = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from pegasus.queuefile import journal as journalfile
from pegasus.queuefile.statedir import StateDir
from test_journal import run_jobs

when = sys.argv[3]
real_rename = os.rename

def dying_rename(source, target, **dir_fds):
    if when == "after":
        real_rename(source, target, **dir_fds)
    os.kill(os.getpid(), signal.SIGKILL)

journal = journalfile.Journal(StateDir(sys.argv[2]))
running = run_jobs(journal, 1, 10, keep={3, 7})
journalfile.os.rename = dying_rename
run_jobs(journal, 11, 100000, keep={12})
"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_runner_killed_while_compacting_loses_no_running_job(tmp_path, when):
    queue = str(tmp_path / "queue.yaml")
    child = subprocess.run([sys.executable, "-c", CHILD, REPO, queue, when],
                           cwd=os.path.join(REPO, "tests"), check=False)
    assert child.returncode == -signal.SIGKILL
    state = StateDir(queue)
    top = state.find()
    assert top is not None
    [dead] = dead_journals(top)
    # Those left running, and the job whose record was being written.
    numbers = [job.split()[3] for job in dead.jobs]
    assert numbers[:3] == ["3", "7", "12"] and len(numbers) <= 4, numbers
    dead.remove()
    assert os.listdir(state.path) == ["inbox"]   # no half-written journal left behind


# A reader that opened the journal just before it was compacted twice (so
# that the old file's lock is gone) must not take it for a dead runner's.
READER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from pegasus.fsutil import Directory
from pegasus.queuefile import journal as journalfile

real_lockf = journalfile.fcntl.lockf

def slow_lockf(fd, flags):
    print("opened", flush=True)
    sys.stdin.readline()
    return real_lockf(fd, flags)

journalfile.fcntl.lockf = slow_lockf
print(len(journalfile.dead_journals(Directory.at(sys.argv[2]))), flush=True)
"""


def test_a_journal_compacted_under_a_reader_is_not_taken_for_dead(tmp_path):
    state = StateDir(str(tmp_path / "queue.yaml"))
    journal = Journal(state)
    run_jobs(journal, 1, 10, keep={4})
    reader = subprocess.Popen([sys.executable, "-c", READER, REPO, state.path],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    stdin, stdout = reader.stdin, reader.stdout
    assert stdin is not None and stdout is not None
    try:
        assert stdout.readline().strip() == "opened"
        journal.compact()
        journal.compact()   # the file the reader opened is unlocked now
        stdin.write("\n")
        stdin.flush()
        assert stdout.readline().strip() == "0"
    finally:
        stdin.close()
        reader.wait(timeout=30)
    assert os.path.exists(journal.path)
    journal.close()


def test_a_daemon_journal_stays_bounded_and_recovery_still_finds_its_jobs(tmp_path, sshd):
    # A daemon runs 1,000 jobs with long commands (about 550 bytes of
    # journal each, uncompacted), then two that go on running: its journal
    # stays small, `pegasus status` says what runs where, and once the
    # daemon is killed, what the next runner would put back.
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- node-1\n- node-2\n- node-3\n- node-4\n")
    sleeper = "touch %s/{n}; sleep 300" % work.path
    work.queue("".join("- true %d %s\n" % (number, PAD) for number in range(1000))
               + "- %s\n- %s\n" % (sleeper.format(n="s1"), sleeper.format(n="s2")))
    daemon = work.start("q", "-d", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: work.exists("s1") and work.exists("s2"), timeout=300)
        runners = wait_for(lambda: _running(work, 2))
        [journal] = [name for name in os.listdir(work.file(".queue.yaml.pegasus"))
                     if name.endswith(".journal")]
        size = os.path.getsize(work.file(".queue.yaml.pegasus/" + journal))
        assert size < COMPACT_AT + 4096, size
        [runner] = runners
        assert runner["connected"] == 4
        assert sorted(job["command"] for job in runner["running"]) == [
            sleeper.format(n="s1"), sleeper.format(n="s2")]
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=30)
    status = json.loads(work.run("status", "--json").stdout)
    assert status["runners"] == []
    assert sorted(job["command"] for job in status["recoverable"]) == [
        sleeper.format(n="s1"), sleeper.format(n="s2")]


def _running(work, count):
    result = work.run("status", "--json")
    if result.returncode != 0:
        return None
    runners = json.loads(result.stdout)["runners"]
    if len(runners) == 1 and len(runners[0]["running"]) == count:
        return runners
    return None

