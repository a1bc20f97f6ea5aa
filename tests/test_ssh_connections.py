"""Connections on the real sshd: a master that replaces a dead one serves
every later job, and ssh's own complaints stay out of the jobs' output."""

import os
import signal

import psutil

from runpegasus import Workspace, wait_for


def _masters(pid):
    try:
        return [p for p in psutil.Process(pid).children()
                if "ControlMaster=yes" in p.cmdline()]
    except psutil.Error:
        return []


def _control_path(argv):
    return [part for part in argv if part.startswith("ControlPath=")][0]


def _read(path):
    with open(path, encoding="utf-8") as stream:
        return stream.read()


def _lines_with(path, word):
    """The words after `word` on the output lines of a run that hold it."""
    return [line.split(word, 1)[1].split() for line in _read(path).splitlines()
            if word in line and "$ " not in line]


# --- a replaced master ----------------------------------------------------------

def test_a_master_that_replaces_a_killed_one_serves_every_later_job(tmp_path, sshd):
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- node-1\n")
    work.queue("")
    out, err = work.file("out"), work.file("err")
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = work.start("q", "-d", stdout=stdout, stderr=stderr)
    job = "echo conn-{tag} $SSH_CONNECTION"
    try:
        wait_for(lambda: len(_masters(process.pid)) == 1)
        first = _masters(process.pid)[0]
        first_path = _control_path(first.cmdline())
        assert work.run("l", "--append", job.format(tag="a")).returncode == 0
        wait_for(lambda: _lines_with(out, "conn-a"))
        first.send_signal(signal.SIGKILL)     # the master dies, its socket stays
        wait_for(lambda: "connected again" in _read(err), timeout=60)
        assert work.run("l", "--append", job.format(tag="b"),
                        "--append", job.format(tag="c")).returncode == 0
        wait_for(lambda: _lines_with(out, "conn-b") and _lines_with(out, "conn-c"))
        masters = [(m.pid, _control_path(m.cmdline())) for m in _masters(process.pid)]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    text = _read(out) + _read(err)
    assert "Control socket" not in text
    # $SSH_CONNECTION names the client's port of the TCP connection that
    # carries the session: the master's, for every job it serves.
    port = {tag: _lines_with(out, "conn-" + tag)[0][1] for tag in "abc"}
    assert port["b"] == port["c"], "b and c went over one connection, the new master's"
    assert port["b"] != port["a"], "the old master is dead"
    assert len(masters) == 1 and masters[0][0] != first.pid
    # The new master has a socket of its own, not the one its predecessor left.
    assert masters[0][1] != first_path


# --- ssh's own complaints ---------------------------------------------------------

def test_ssh_complaints_on_a_jobs_stderr_are_not_its_output(tmp_path, second_sshd):
    # sshd allows the master one more session: the second job at once is
    # refused by sshd, and its ssh says so on stderr before it connects
    # by itself.
    far = second_sshd(aliases=1, max_sessions=2)
    work = Workspace(tmp_path, far.config)
    work.hosts("- hostname: far-1\n  slots: 2\n")
    marks = work.file("marks")
    os.mkdir(marks)
    work.queue("- command: touch %s/{{ n }}; until [ -e %s/1 ] && [ -e %s/2 ]; do sleep 0.05;"
               " done; echo finished-{{ n }}; echo own-stderr-{{ n }} >&2\n  n: [1, 2]\n"
               % (marks, marks, marks))
    result = work.run("q", "--max-sessions", "3", timeout=60)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "finished-1" in output and "finished-2" in output
    assert "own-stderr-1" in output and "own-stderr-2" in output   # the job's own stderr stays
    assert "mux_client" not in output
    assert "Session open refused" not in output
