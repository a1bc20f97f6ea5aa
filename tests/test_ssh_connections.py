"""Connections on the real sshd: a master that replaces a dead one serves
every later job, ssh's own complaints stay out of the jobs' output, and
every connection failure names its sub-host and ssh's reason -- including
through a ProxyJump -- while a server that only turns us away for now
(MaxStartups) is tried again."""

import os
import signal
import socket

import psutil
import pytest
from loopback_sshd import LoopbackSshd, free_port, user_name, write_file
from helpers.runpegasus import Workspace, wait_for


def _masters(pid):
    try:
        return [p for p in psutil.Process(pid).children()
                if "ControlMaster=yes" in p.cmdline()]
    except psutil.Error:
        return []


def _control_path(argv):
    return next(part for part in argv if part.startswith("ControlPath="))


def _read(path):
    with open(path, encoding="utf-8") as stream:
        return stream.read()


def _client_block(names, server, log_level="ERROR"):
    """An ssh_config block by which `names` reach the loopback `server`."""
    return "\n".join([
        "Host %s" % names,
        "    HostName 127.0.0.1",
        "    Port %d" % server.port,
        "    User %s" % user_name(),
        "    IdentityFile %s" % server.client_key,
        "    IdentitiesOnly yes",
        "    UserKnownHostsFile %s" % server.known_hosts,
        "    GlobalKnownHostsFile /dev/null",
        "    LogLevel %s" % log_level,
        ""])


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


# --- connection failures ----------------------------------------------------------

@pytest.fixture
def behind(tmp_path, sshd):
    """An ssh config with the loopback sshd as `jump` and `good`, `behind`:
    a closed loopback port reached through `jump`, and `via-closed`: a host
    whose jump host is a closed port. ssh's own LogLevel (INFO)."""
    closed = free_port()
    config = tmp_path / "ssh_config"
    config.write_text(
        "Host behind\n    HostName 127.0.0.1\n    Port %d\n    ProxyJump jump\n"
        "Host via-closed\n    HostName 127.0.0.1\n    Port %d\n    ProxyJump jump-closed\n"
        "Host jump-closed\n    HostName 127.0.0.1\n    Port %d\n"
        "Host behind via-closed jump-closed\n    BatchMode yes\n"
        "    UserKnownHostsFile /dev/null\n    GlobalKnownHostsFile /dev/null\n"
        % (closed, free_port(), closed) + _client_block("jump good", sshd, "INFO"))
    return Workspace(tmp_path, str(config))


def test_a_host_behind_a_failing_proxyjump_is_named_with_the_reason(behind):
    behind.hosts("- behind\n")
    behind.queue("- echo never > %s\n" % behind.file("ran"))
    result = behind.run("q")
    assert result.returncode == 1
    assert not behind.exists("ran")
    # The jump host could not reach the target: ssh's words for it, not the
    # "Connection closed by UNKNOWN port 65535" that follows.
    assert "[behind] cannot connect: channel 0: open failed: connect failed: " \
        "Connection refused" in result.stderr, result.stderr
    assert "could not connect to behind: channel 0: open failed" in result.stderr
    assert "turned away" not in result.stderr


def test_a_closed_jump_host_is_reported_with_sshs_connect_line(behind):
    behind.hosts("- via-closed\n")
    behind.queue("- echo never > %s\n" % behind.file("ran"))
    result = behind.run("q")
    assert result.returncode == 1
    assert "[via-closed] cannot connect: ssh: connect to host 127.0.0.1 port " \
        in result.stderr, result.stderr
    assert ": Connection refused (skipped)" in result.stderr
    assert "UNKNOWN port 65535" not in result.stderr


def test_beside_a_good_host_the_failing_proxyjump_is_reported(behind):
    # The good host's job lasts until pegasus has said that `behind` failed.
    release = behind.file("release")
    behind.hosts("- behind\n- good\n")
    behind.queue("- until [ -e %s ]; do sleep 0.05; done; echo good-ran\n" % release)
    err = behind.file("err")
    with open(err, "w") as stderr:
        process = behind.start("q", stderr=stderr)
    try:
        wait_for(lambda: "[behind] cannot connect" in _read(err), timeout=60)
        open(release, "w").close()
        out, _ = process.communicate(timeout=60)
    finally:
        open(release, "w").close()
        if process.poll() is None:
            process.kill()
            process.wait()
    text = _read(err)
    assert "good-ran" in out
    assert "[behind] cannot connect: channel 0: open failed: connect failed: " \
        "Connection refused" in text, text
    assert "could not connect to behind: channel 0: open failed" in text


# --- a server that turns us away for now ------------------------------------------

class VerboseSshd(LoopbackSshd):
    """A loopback sshd that logs what it drops (LogLevel VERBOSE)."""

    def _write_sshd_config(self):
        super()._write_sshd_config()
        write_file(self.sshd_config,
                   _read(self.sshd_config).replace("LogLevel ERROR", "LogLevel VERBOSE"))


def _greeted(port):
    """A connection sshd greeted (it counts as not logged in yet), or None
    if it dropped it (the harness's own probe may still hold the place)."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    if connection.recv(64).startswith(b"SSH-"):
        return connection
    connection.close()
    return None


@pytest.fixture
def busy_sshd():
    """A loopback sshd that lets one connection at a time log in
    (MaxStartups 1)."""
    server = VerboseSshd(None, aliases=1, alias_prefix="busy-", max_startups=1)
    server.start()
    yield server
    server.stop()


def test_a_server_at_its_maxstartups_is_tried_again_until_it_lets_us_in(tmp_path, busy_sshd):
    work = Workspace(tmp_path, busy_sshd.config)
    work.hosts("- busy-1\n")
    work.queue("- echo ran > %s\n" % work.file("ran"))
    # Someone else holds the one place sshd has for a connection that has not
    # logged in yet: it greets them, and drops everyone else.
    holder = wait_for(lambda: _greeted(busy_sshd.port))
    dropped = _read(busy_sshd.log).count("past MaxStartups")
    process = work.start("q")
    try:
        try:
            # sshd turned pegasus away:
            wait_for(lambda: _read(busy_sshd.log).count("past MaxStartups") > dropped,
                     timeout=60)
        finally:
            holder.close()        # now pegasus's next attempt gets in
        _out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert _read(work.file("ran")) == "ran\n"
    assert "cannot connect" not in err
