"""The ssh options pegasus passes, checked with the real ssh: what the
user's ssh config sets wins over pegasus's defaults and `-o` wins over
both; agent and X11 forwarding are off unless `-o` asks; new host keys are
accepted and a changed one is refused with what to do.

`ssh -G` prints the configuration ssh would use; run with the very
arguments of a master pegasus started (recorded by an `ssh` first on
PATH that hands over to the real one), it says what each sub-host got.
"""

import os
import shutil
import signal
import subprocess

import pytest
from loopback_sshd import read_public_key, user_name
from helpers.runpegasus import Workspace, environment, wait_for

REAL_SSH = shutil.which("ssh") or "ssh"


def _client(names, sshd, known_hosts, *extra):
    """An ssh_config block by which `names` reach the loopback sshd, with
    its own known_hosts file and nothing said about host keys."""
    return "\n".join(["Host %s" % names, "    HostName 127.0.0.1", "    Port %d" % sshd.port,
                      "    User %s" % user_name(), "    IdentityFile %s" % sshd.client_key,
                      "    IdentitiesOnly yes", "    UserKnownHostsFile %s" % known_hosts,
                      "    GlobalKnownHostsFile /dev/null"]
                     + ["    " + line for line in extra] + [""])


@pytest.fixture
def recorded(tmp_path):
    """An environment whose `ssh` records its arguments, one file per run,
    then execs the real ssh; and a function that returns the argument
    lists of the masters recorded since it was last called with `forget`."""
    if REAL_SSH is None:
        pytest.skip("no ssh client")
    bin_dir, log = tmp_path / "bin", tmp_path / "argv"
    bin_dir.mkdir()
    log.mkdir()
    shim = bin_dir / "ssh"
    # Written aside, then renamed: a test reading the log sees whole records only.
    shim.write_text('#!/bin/sh\nfor a in "$@"; do printf "%%s\\0" "$a"; done > %s/.$$\n'
                    'mv %s/.$$ %s/$$\nexec %s "$@"\n' % (log, log, log, REAL_SSH))
    shim.chmod(0o755)
    env = environment(PATH=str(bin_dir) + os.pathsep + os.environ["PATH"])

    def masters(forget=False):
        found = {}
        for name in os.listdir(log):
            if forget:
                os.unlink(log / name)
                continue
            if name.startswith("."):
                continue          # still being written
            with open(log / name, "rb") as stream:
                argv = stream.read().decode().split("\0")[:-1]
            if "ControlMaster=yes" in argv:
                found[argv[argv.index("--") + 1]] = argv
        return found
    return env, masters


def effective(argv):
    """`ssh -G` with the arguments of a master: {option: value}."""
    cut = argv.index("--")
    result = subprocess.run([REAL_SSH] + argv[:cut] + ["-G", argv[cut + 1]],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, check=True)
    return dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)


def masters_of_run(work, recorded, hosts, *args):
    """Start a daemon run on `hosts`, and once it has started a master for
    each, return what ssh -G says of each (its config file exists only
    while the run does)."""
    env, masters = recorded
    masters(forget=True)
    work.hosts("".join("- %s\n" % host for host in hosts))
    work.queue("")
    process = work.start("q", "-d", *args, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        found = wait_for(lambda: len(masters()) == len(hosts) and masters())
        return {host: effective(argv) for host, argv in found.items()}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


@pytest.fixture
def config(tmp_path, sshd):
    """A user ssh config: `quick` sets ConnectTimeout 2, `forwarding` turns
    agent and X11 forwarding on, `plain` says nothing of either."""
    path = tmp_path / "user_config"
    path.write_text("Host quick\n    ConnectTimeout 2\n"
                    "Host forwarding\n    ForwardAgent yes\n    ForwardX11 yes\n"
                    + _client("quick forwarding plain", sshd, sshd.known_hosts))
    return str(path)


def test_the_user_config_wins_over_pegasus_defaults_and_o_over_both(tmp_path, config, recorded):
    work = Workspace(tmp_path, config)
    got = masters_of_run(work, recorded, ["quick", "plain"])
    assert got["quick"]["connecttimeout"] == "2"    # the user's config
    assert got["plain"]["connecttimeout"] == "10"   # pegasus's default
    assert got["plain"]["serveraliveinterval"] == "5"
    assert got["plain"]["batchmode"] == "yes"
    got = masters_of_run(work, recorded, ["quick", "plain"], "-o", "ConnectTimeout=3")
    assert got["quick"]["connecttimeout"] == "3"    # -o wins over both
    assert got["plain"]["connecttimeout"] == "3"


def test_batch_mode_stays_on_whatever_o_says(tmp_path, config, recorded):
    work = Workspace(tmp_path, config)
    got = masters_of_run(work, recorded, ["plain"], "-o", "BatchMode=no")
    assert got["plain"]["batchmode"] == "yes"


def test_agent_and_x11_forwarding_are_off_unless_o_asks(tmp_path, config, recorded):
    work = Workspace(tmp_path, config)
    got = masters_of_run(work, recorded, ["forwarding"])
    assert got["forwarding"]["forwardagent"] == "no"
    assert got["forwarding"]["forwardx11"] == "no"
    got = masters_of_run(work, recorded, ["forwarding", "plain"],
                         "-o", "ForwardAgent=yes", "-o", "ForwardX11=yes")
    assert got["plain"]["forwardagent"] == "yes"
    assert got["plain"]["forwardx11"] == "yes"


def test_without_ssh_config_ssh_reads_what_it_reads_by_itself(tmp_path, sshd, recorded):
    """-F skips ~/.ssh/config and the system file; pegasus's file includes
    them: every option pegasus does not set is what plain ssh gets."""
    work = Workspace(tmp_path)          # no --ssh-config
    # A loopback address that is not "localhost" to pegasus: an ssh host.
    got = masters_of_run(work, recorded, ["127.0.0.2"])
    plain = subprocess.run([REAL_SSH, "-G", "127.0.0.2"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, check=True).stdout
    plain_options = dict(line.split(" ", 1) for line in plain.splitlines() if " " in line)
    ours = got["127.0.0.2"]
    pegasus_sets = {"batchmode", "connecttimeout", "serveraliveinterval",
                    "serveralivecountmax", "stricthostkeychecking", "forwardagent",
                    "forwardx11", "clearallforwardings", "requesttty", "remotecommand",
                    "controlmaster", "controlpath", "controlpersist"}
    differ = {key for key in set(plain_options) | set(ours)
              if key not in pegasus_sets and plain_options.get(key) != ours.get(key)}
    assert differ == set()


# --- host keys -------------------------------------------------------------------

def test_a_host_never_seen_before_connects_and_its_key_is_kept(tmp_path, sshd):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    (tmp_path / "ssh_config").write_text(_client("fresh", sshd, known_hosts))
    work = Workspace(tmp_path, str(tmp_path / "ssh_config"))
    work.hosts("- fresh\n")
    work.queue("- echo ran > %s\n" % work.file("ran"))
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    assert work.read("ran") == "ran\n"
    assert known_hosts.read_text().split() == [
        "[127.0.0.1]:%d" % sshd.port] + read_public_key(sshd.host_key).split()
    assert "Permanently added" not in result.stdout + result.stderr


def test_a_changed_host_key_is_refused_with_what_to_do(tmp_path, sshd):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                   check=True, stdin=subprocess.DEVNULL)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("[127.0.0.1]:%d %s\n" % (sshd.port, read_public_key(str(other))))
    (tmp_path / "ssh_config").write_text(_client("moved", sshd, known_hosts))
    work = Workspace(tmp_path, str(tmp_path / "ssh_config"))
    work.hosts("- moved\n")
    work.queue("- echo ran > %s\n" % work.file("ran"))
    result = work.run("q")
    assert result.returncode == 1
    assert not work.exists("ran")
    assert "[moved] cannot connect: host key verification failed: the host key of " \
        "[127.0.0.1]:%d has changed" % sshd.port in result.stderr, result.stderr
    assert 'remove the old one with: ssh-keygen -f "%s" -R "[127.0.0.1]:%d"' % (
        known_hosts, sshd.port) in result.stderr
    assert known_hosts.read_text().count("\n") == 1     # nothing added


@pytest.mark.parametrize("where", ["config", "-o"])
def test_strict_host_key_checking_in_the_user_config_or_o_wins(tmp_path, sshd, where):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    extra = ["StrictHostKeyChecking yes"] if where == "config" else []
    (tmp_path / "ssh_config").write_text(_client("strict", sshd, known_hosts, *extra))
    work = Workspace(tmp_path, str(tmp_path / "ssh_config"))
    work.hosts("- strict\n")
    work.queue("- echo ran > %s\n" % work.file("ran"))
    args = ["-o", "StrictHostKeyChecking=yes"] if where == "-o" else []
    result = work.run("q", *args)
    assert result.returncode == 1
    assert not work.exists("ran")
    assert "no key of [127.0.0.1]:%d is in known_hosts and StrictHostKeyChecking is " \
        "yes" % sshd.port in result.stderr, result.stderr
    assert known_hosts.read_text() == ""


# --- the user's config file, as ssh reads it ---------------------------------------

@pytest.mark.parametrize("name, mode", [("shared_config", 0o666), ("shared_config", 0o620),
                                        ("shared config", 0o600)])
def test_a_config_file_ssh_would_not_include_still_wins(tmp_path, sshd, recorded, name, mode):
    """ssh refuses to Include a file others may write (it accepts it with
    -F), and a path with spaces would need quoting: pegasus copies such a
    file into its own instead."""
    path = tmp_path / name
    path.write_text("Host shared\n    ConnectTimeout 2\n"
                    + _client("shared", sshd, sshd.known_hosts))
    path.chmod(mode)
    work = Workspace(tmp_path, str(path))
    assert masters_of_run(work, recorded, ["shared"])["shared"]["connecttimeout"] == "2"
    work.queue("- echo ran > %s\n" % work.file("ran"))
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    assert work.read("ran") == "ran\n"


def test_a_missing_config_file_is_reported_by_ssh_as_before(tmp_path):
    work = Workspace(tmp_path, str(tmp_path / "no-such-config"))
    work.hosts("- node-1\n")
    work.queue("- echo ran\n")
    result = work.run("q")
    assert result.returncode == 1
    assert "[node-1] cannot connect: Can't open user config file %s" % (
        tmp_path / "no-such-config") in result.stderr, result.stderr
