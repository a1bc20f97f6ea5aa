"""The test harness itself: a real, private sshd on 127.0.0.1 reachable through
ssh_config aliases, that leaves the user's ~/.ssh alone and can be stopped."""

import os
import pwd
import signal
import subprocess
import sys

import pytest
from loopback_sshd import LoopbackSshd

TIMEOUT = 30  # seconds; a safety net, not a synchronisation


def ssh(server, alias, command):
    return subprocess.run(server.ssh_argv(alias, command), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=TIMEOUT, check=False)


def served_port(result):
    """The server port from the remote $SSH_CONNECTION (client ip, port, server ip, port)."""
    return int(result.stdout.split()[-1])


def test_command_runs_through_the_private_sshd(sshd):
    result = ssh(sshd, "node-3", "echo hello; echo $SSH_CONNECTION")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "hello"
    assert result.stdout.split()[-2:] == ["127.0.0.1", str(sshd.port)]


def test_remote_bash_skips_bashrc(sshd):
    # sshd sets SHLVL=1, so the remote bash is level 2, and Debian's bash sources
    # ~/.bashrc for ssh commands only below level 2.
    if os.path.basename(pwd.getpwuid(os.getuid()).pw_shell) != "bash":
        pytest.skip("the login shell is not bash")
    result = ssh(sshd, "node-1", "echo $SHLVL")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_every_alias_reaches_the_sshd(sshd):
    assert sshd.aliases == ["node-%d" % i for i in range(1, 9)]
    clients = [subprocess.Popen(sshd.ssh_argv(alias, "echo $SSH_CONNECTION"),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True)
               for alias in sshd.aliases]
    for alias, client in zip(sshd.aliases, clients):
        out, err = client.communicate(timeout=TIMEOUT)
        assert client.returncode == 0, (alias, err)
        assert out.split()[-1] == str(sshd.port), alias


def test_added_alias_reaches_the_sshd(sshd):
    sshd.add_alias("gpu-box")
    result = ssh(sshd, "gpu-box", "echo $SSH_CONNECTION")
    assert result.returncode == 0, result.stderr
    assert served_port(result) == sshd.port


def test_unknown_alias_does_not_reach_the_sshd(sshd):
    # Names outside the Host line get none of its settings: no key, no port.
    result = subprocess.run(
        ["ssh", "-F", sshd.config, "-o", "ConnectTimeout=5", "no-such-host.invalid", "true"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        timeout=TIMEOUT, check=False)
    assert result.returncode == 255


def home_ssh_state():
    """What ~/.ssh looks like: None if absent, else its mtime and each entry's."""
    home_ssh = os.path.join(pwd.getpwuid(os.getuid()).pw_dir, ".ssh")
    if not os.path.isdir(home_ssh):
        return None
    entries = {name: os.stat(os.path.join(home_ssh, name)).st_mtime_ns
               for name in os.listdir(home_ssh)}
    return os.stat(home_ssh).st_mtime_ns, entries


def read(path):
    with open(path) as f:
        return f.read()


@pytest.mark.integration      # starts its own sshd, without the fixtures
def test_sshd_uses_its_own_keys_and_leaves_home_ssh_untouched():
    before = home_ssh_state()
    with LoopbackSshd(None, aliases=1) as server:
        assert ssh(server, "node-1", "true").returncode == 0
        host_key = read(server.host_key + ".pub").split()[1]
        client_key = read(server.client_key + ".pub").split()[1]
        assert read(server.known_hosts).split() == [
            "[127.0.0.1]:%d" % server.port, "ssh-ed25519", host_key]
        assert client_key in read(os.path.join(server.directory, "authorized_keys"))
        assert os.path.dirname(server.client_key) == server.directory
        directory = server.directory
    assert home_ssh_state() == before
    assert not os.path.exists(directory), "a directory the harness made is removed"


def test_stopped_sshd_drops_sessions_and_refuses_connections(second_sshd):
    far = second_sshd(aliases=2, alias_prefix="far-")
    assert far.aliases == ["far-1", "far-2"]
    # A session that prints its shell's pid, then becomes `sleep` under that pid.
    with subprocess.Popen(far.ssh_argv("far-1", "echo $$; exec sleep 60"),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, universal_newlines=True) as session:
        try:
            assert session.stdout is not None
            remote_pid = int(session.stdout.readline())
            far.stop()
            assert session.wait(timeout=TIMEOUT) == 255      # the connection dropped
        finally:
            session.kill()          # only if the test failed: it has exited otherwise
    assert not process_exists(remote_pid), "the remote command was stopped too"
    assert ssh(far, "far-2", "true").returncode == 255


def test_sshd_killed_by_pid_refuses_new_connections(second_sshd):
    far = second_sshd(aliases=1, alias_prefix="far-")
    assert ssh(far, "far-1", "true").returncode == 0
    os.kill(far.pid, signal.SIGTERM)
    far.wait()
    result = ssh(far, "far-1", "true")
    assert result.returncode == 255
    assert "refused" in result.stderr


def process_exists(pid):
    """True if pid runs (a zombie waiting to be reaped does not count)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def collected(tmp_path, *args):
    """(file name, test name) of each test pytest collects with args from this file
    and from test_nodeset.py (pure functions: unit tests)."""
    here = os.path.dirname(os.path.abspath(__file__))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         *args, os.path.join(here, "test_harness.py"), os.path.join(here, "test_nodeset.py")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, result.stdout
    ids = [line.split("[")[0].split("::") for line in result.stdout.splitlines()
           if "::" in line]
    return {(os.path.basename(path), name) for path, name in ids}


def test_tests_that_need_an_sshd_are_marked_integration_and_the_others_are_not(tmp_path):
    integration = collected(tmp_path, "-m", "integration")
    unit = collected(tmp_path, "-m", "not integration")
    assert {("test_harness.py", name) for name in (
        "test_unknown_alias_does_not_reach_the_sshd",                # sshd
        "test_stopped_sshd_drops_sessions_and_refuses_connections",  # second_sshd
        "test_sshd_uses_its_own_keys_and_leaves_home_ssh_untouched",  # marked by hand
    )} <= integration
    assert ("test_harness.py", "test_tests_that_need_an_sshd_are_marked_integration_and_"
            "the_others_are_not") in unit
    assert any(path == "test_nodeset.py" for path, _ in unit)
    assert not any(path == "test_nodeset.py" for path, _ in integration)
