"""Jobs in the master's own session (wrapper.SESSION_LOOP): the protocol's two
ends without a process, the loop run here by `sh` as sshd would start it
(`LOGIN_SHELL -c MASTER_COMMAND`, no ssh), and pegasus on the real sshd."""

import os
import re
import random
import signal
import subprocess
import sys
import tempfile
import time
from typing import IO, List, Tuple

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pegasus.transports import ssh, wrapper
from helpers.runpegasus import Workspace, sleepers, wait_for

MARKER = b"pegasus-end-0123456789abcdef01234567"
SUBREAPER = os.path.join(os.path.dirname(__file__), "helpers", "subreaper.py")


# --- the marker, cut out of the bytes ---------------------------------------------------

def _job(command, grace=1.0) -> Tuple[bytes, bytes]:
    made = wrapper.session_job(command, grace)
    assert made is not None
    return made


def _cut(chunks, marker=MARKER):
    """Feed `chunks` to a MarkedStream: (the job's bytes, what it said, the rest)."""
    emitted: List[bytes] = []
    stream = wrapper.MarkedStream(marker, emitted.append, lambda: None)
    rest = b""
    for chunk in chunks:
        rest += stream.feed(chunk)
    return b"".join(emitted), stream.said, rest


def _chunks(data, cuts):
    points = sorted(set(cut % (len(data) + 1) for cut in cuts))
    return [data[a:b] for a, b in zip([0] + points, points + [len(data)])]


@settings(max_examples=300, deadline=None)
@given(job=st.binary(max_size=200), cuts=st.lists(st.integers(0, 400), max_size=8),
       after=st.binary(max_size=20))
def test_the_job_keeps_every_byte_before_its_marker_however_the_reads_fall(job, cuts, after):
    # Bytes that begin the marker (a job printing "pegasus-end-" or "p") are
    # held only until they turn out not to be it.
    job = job.replace(MARKER, b"")
    job += random.choice([b"", b"p", b"pegasus-end-", MARKER[:-1]])
    data = job + MARKER + b" 3 0\n" + after
    emitted, said, rest = _cut(_chunks(data, cuts))
    assert emitted == job
    assert said == ["3", "0"]
    assert rest == after


def test_a_last_line_without_a_newline_stays_the_job_s():
    emitted, said, rest = _cut([b"no newline" + MARKER + b"\n"])
    assert (emitted, said, rest) == (b"no newline", [], b"")


def test_bytes_held_at_the_end_of_the_stream_are_the_job_s():
    emitted: List[bytes] = []
    stream = wrapper.MarkedStream(MARKER, emitted.append, lambda: None)
    assert stream.feed(b"abc pegasus-e") == b""
    stream.close()
    assert b"".join(emitted) == b"abc pegasus-e" and stream.said is None


def test_a_job_line_fits_one_pipe_write_or_is_not_made():
    assert wrapper.session_job("x" * 5000, 1.0) is None
    assert wrapper.session_job("a\0b", 1.0) is None
    line, marker = _job("true", 1.5)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert line.startswith(b"J k=%s g=15 c=" % marker)
    assert marker.startswith(wrapper.END_PREFIX.encode())
    assert marker != _job("true", 1.5)[1]


@settings(max_examples=50, deadline=None)
@given(command=st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"),
                       max_size=60))
def test_sh_reads_the_command_of_a_job_line_byte_for_byte(command):
    line, _marker = _job(command)
    script = "nl='\n'\nIFS= read -r l\neval \"${l#J }\"\nprintf '%s' \"$c\""
    result = subprocess.run(["sh", "-c", script], input=line, capture_output=True,
                            check=True, timeout=30)
    assert result.stdout == command.encode("utf-8", "surrogateescape")


# --- the loop, run by sh here ------------------------------------------------------------

class Session:
    """MASTER_COMMAND run as sshd runs it, under an init that reaps orphans."""

    def __init__(self, env=None, shell="sh"):
        self.process = subprocess.Popen(
            [sys.executable, SUBREAPER, shell, "-c", ssh.MASTER_COMMAND],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env=env)
        assert self._stream("stdout").readline() == b"pegasus-master-ready\n"

    def _stream(self, name) -> IO[bytes]:
        stream = getattr(self.process, name)
        assert stream is not None
        return stream

    def send(self, data):
        os.write(self._stream("stdin").fileno(), data)

    def run(self, command, grace=1.0, before_end=None):
        """Send a job; (its stdout, its stderr, what the marker said)."""
        line, marker = _job(command, grace)
        self.send(line)
        if before_end is not None:
            before_end()
        out = self._until(self._stream("stdout"), marker)
        err = self._until(self._stream("stderr"), marker)
        return out[0], err[0], out[1]

    @staticmethod
    def _until(stream, marker):
        data = b""
        while marker not in data or not data.split(marker, 1)[1].endswith(b"\n"):
            piece = os.read(stream.fileno(), 4096)
            assert piece, "the session ended before the job's marker: %r" % data
            data += piece
        job, said = data.split(marker, 1)
        return job, said.split()

    def close(self):
        for name in ("stdin", "stdout", "stderr"):
            self._stream(name).close()
            if name == "stdin":
                self.process.wait(timeout=30)


def test_the_session_runs_jobs_one_after_another_each_with_its_status():
    session = Session()
    try:
        assert session.run("echo out; echo err >&2; exit 3") == (b"out\n", b"err\n",
                                                                 [b"3", b"0"])
        session.send(b"t\n")   # a cancel that came as the last job ended: skipped
        assert session.run("printf 'a\\nb'") == (b"a\nb", b"", [b"0", b"0"])
        assert session.run("cd /; x=1; exit 0")[2] == [b"0", b"0"]
        assert session.run('pwd; echo "${x-unset}"')[0] != b"/\n1\n"   # nothing is kept
    finally:
        session.close()
    assert session.process.returncode == 0


def test_a_t_on_the_session_s_stdin_stops_the_job_it_runs():
    tag = str(5000 + random.randrange(10 ** 6))
    session = Session()
    try:
        out, _err, said = session.run(
            "sleep %s; echo never" % tag,
            before_end=lambda: (wait_for(lambda: sleepers(tag)), session.send(b"t\n")))
        assert (out, said) == (b"", [b"143", b"0"])
        assert not sleepers(tag)
        assert session.run("echo next")[0] == b"next\n"
    finally:
        session.close()


def test_end_of_file_stops_the_job_and_ends_the_session():
    tag = str(6000 + random.randrange(10 ** 6))
    session = Session()
    line, _marker = _job("trap '' TERM; sleep %s" % tag, 0.3)
    session.send(line)
    wait_for(lambda: sleepers(tag))
    session.close()   # pegasus died, or the connection went
    wait_for(lambda: not sleepers(tag), timeout=10)


def test_a_job_that_leaves_processes_in_its_group_ends_the_session():
    tag = str(7000 + random.randrange(10 ** 6))
    session = Session()
    try:
        out, _err, said = session.run("sleep %s >/dev/null 2>&1 & echo started" % tag)
        assert (out, said) == (b"started\n", [b"0", b"1"])
        session.process.wait(timeout=30)   # it takes no more jobs
    finally:
        for process in sleepers(tag):
            process.kill()
        session.close()


def test_without_setsid_the_session_refuses_jobs(tmp_path):
    # Everything the loop needs but setsid: sh and its builtins.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sh").symlink_to(os.path.realpath("/bin/sh"))
    session = Session(env={"PATH": str(bin_dir)})
    try:
        assert session.run("touch %s/ran" % tmp_path) == (b"", b"", [b"R"])
        assert not (tmp_path / "ran").exists()
    finally:
        session.close()


# --- pegasus on the real sshd ---------------------------------------------------------

def _children(pid):
    try:
        return [child.cmdline() for child in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def test_a_job_of_a_one_slot_host_runs_in_its_master_s_session(tmp_path, sshd):
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- node-1\n")
    go = work.file("go")
    work.queue("- touch %s/running; until [ -e %s ]; do sleep 0.05; done; echo first\n"
               "- echo second\n" % (work.path, go))
    process = work.start("q")
    try:
        wait_for(lambda: work.exists("running"), timeout=60)
        children = _children(process.pid)
        with open(go, "w"):
            pass
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    # One ssh while the job runs: the master, no process of the job's own.
    assert len(children) == 1 and "ControlMaster=yes" in children[0], children
    assert "[node-1] first" in out and "[node-1] second" in out


def test_what_a_job_s_background_process_prints_later_is_still_that_job_s(tmp_path, sshd):
    # As with a session of its own: the job lasts until its output is closed,
    # and the next job runs all the same.
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- node-1\n")
    work.queue("- (sleep 0.5; echo late) & echo early\n- echo next\n")
    result = work.run("q", timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("[node-1]")]
    # How long each took is the machine's business, but the first lasted at
    # least as long as its background process did.
    took = [float(seconds) for seconds in re.findall(r" after ([0-9.]+) s$", result.stdout,
                                                     re.M)]
    assert len(took) == 2 and took[0] >= 0.5, result.stdout
    assert [re.sub(r" after [0-9.]+ s$", "", line) for line in lines] == [
        "[node-1] #1 $ (sleep 0.5; echo late) & echo early",
        "[node-1] early", "[node-1] late", "[node-1] #1 done: exit 0",
        "[node-1] #2 $ echo next", "[node-1] next",
        "[node-1] #2 done: exit 0"], result.stdout


def test_the_marker_of_a_job_is_not_in_its_output(tmp_path, sshd):
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- node-1\n")
    work.queue("- printf 'pegasus-end-'; printf 'no newline' >&2\n- printf 'x'\n")
    result = work.run("q", "--prefix", "none", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "pegasus-end-\nx\n" == result.stdout
    assert "no newline\n" in result.stderr
    assert "pegasus-end-" not in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGKILL])
def test_a_runner_killed_during_a_session_job_leaves_nothing(tmp_path, sshd, signum):
    short = tempfile.mkdtemp(prefix="t", dir="/tmp")
    tag = str(8000 + random.randrange(10 ** 6))
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- node-1\n")
    work.queue("- sleep %s\n" % tag)
    env = dict(os.environ, TMPDIR=short, NO_COLOR="1")
    env.pop("PYTHONPATH", None)
    process = work.start("q", "--kill-grace", "1", env=env)
    try:
        wait_for(lambda: sleepers(tag), timeout=60)
        process.send_signal(signum)
        process.wait(timeout=10)
        wait_for(lambda: not sleepers(tag), timeout=20)
        wait_for(lambda: not [p for p in psutil.process_iter(["cmdline"])
                              if any(short in part for part in p.info["cmdline"] or [])],
                 timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
        time.sleep(0)
