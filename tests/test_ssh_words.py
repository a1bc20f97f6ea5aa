"""What ssh's own messages mean, and the run's ssh configuration file:
pure functions, fed with what OpenSSH 9 really prints (recorded on the
loopback sshd at LogLevel ERROR and INFO)."""

import os

import pytest

from pegasus.settings import SshSettings
from pegasus.transports import ssh

# What a master printed, and why it failed.
MAXSTARTUPS_ERROR = ["kex_exchange_identification: read: Connection reset by peer"]
MAXSTARTUPS_INFO = ["kex_exchange_identification: read: Connection reset by peer",
                    "Connection reset by 127.0.0.1 port 42373"]
MAXSTARTUPS_CLOSED = ["kex_exchange_identification: Connection closed by remote host",
                      "Connection closed by 127.0.0.1 port 42373"]
MAXSTARTUPS_BEHIND_JUMP = ["kex_exchange_identification: Connection closed by remote host",
                           "Connection closed by UNKNOWN port 65535"]
MAXSTARTUPS_BANNER = ["kex_exchange_identification: banner line 0: Exceeded MaxStartups"]
JUMP_TO_CLOSED_PORT = ["channel 0: open failed: connect failed: Connection refused",
                       "stdio forwarding failed",
                       "kex_exchange_identification: Connection closed by remote host",
                       "Connection closed by UNKNOWN port 65535"]
JUMP_TO_CLOSED_PORT_ERROR = ["stdio forwarding failed",
                             "kex_exchange_identification: Connection closed by remote host"]
CLOSED_JUMP_HOST = ["ssh: connect to host 127.0.0.1 port 60021: Connection refused",
                    "kex_exchange_identification: Connection closed by remote host",
                    "Connection closed by UNKNOWN port 65535"]
CLOSED_PORT = ["ssh: connect to host 127.0.0.1 port 60021: Connection refused"]
TOO_MANY_KEYS = ["Received disconnect from 127.0.0.1 port 22:2: Too many authentication "
                 "failures", "Disconnected from 127.0.0.1 port 22"]
CHANGED_KEY = """\
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:ZK+PH1JUaXAHQVzSkJsihd38M94eL4BXA46v1Xm5FsE.
Please contact your system administrator.
Add correct host key in /tmp/kh to get rid of this message.
Offending ED25519 key in /tmp/kh:1
  remove with:
  ssh-keygen -f "/tmp/kh" -R "[127.0.0.1]:57507"
Host key for [127.0.0.1]:57507 has changed and you have requested strict checking.
Host key verification failed.""".splitlines()
UNKNOWN_KEY_STRICT = ["No ED25519 host key is known for [127.0.0.1]:57507 and you have "
                      "requested strict checking.", "Host key verification failed."]


@pytest.mark.parametrize("lines", [MAXSTARTUPS_ERROR, MAXSTARTUPS_INFO, MAXSTARTUPS_CLOSED,
                                   MAXSTARTUPS_BEHIND_JUMP, MAXSTARTUPS_BANNER])
def test_a_server_that_closes_before_greeting_turned_us_away_for_now(lines):
    assert ssh.turned_away(lines)


@pytest.mark.parametrize("lines", [JUMP_TO_CLOSED_PORT, JUMP_TO_CLOSED_PORT_ERROR,
                                   CLOSED_JUMP_HOST, CLOSED_PORT, TOO_MANY_KEYS, CHANGED_KEY,
                                   UNKNOWN_KEY_STRICT, [], ["something else entirely"]])
def test_any_other_word_from_ssh_is_a_failure_that_stays(lines):
    assert not ssh.turned_away(lines)


@pytest.mark.parametrize("lines, reason", [
    (JUMP_TO_CLOSED_PORT, "channel 0: open failed: connect failed: Connection refused"),
    (JUMP_TO_CLOSED_PORT_ERROR, "stdio forwarding failed"),
    (CLOSED_JUMP_HOST, "ssh: connect to host 127.0.0.1 port 60021: Connection refused"),
    (CLOSED_PORT, "ssh: connect to host 127.0.0.1 port 60021: Connection refused"),
    (TOO_MANY_KEYS, "Disconnected from 127.0.0.1 port 22"),
    (MAXSTARTUPS_INFO, "kex_exchange_identification: read: Connection reset by peer"),
    (["Warning: Permanently added '[127.0.0.1]:5' (ED25519) to the list of known hosts.",
      "Permission denied (publickey)."], "Permission denied (publickey)."),
    (["Authorized users only.", "Permission denied (publickey)."],
     "Permission denied (publickey)."),
])
def test_the_reason_is_the_cause_not_what_followed_from_it(lines, reason):
    assert ssh.failure_reason(lines, 255, "node-1") == reason


def test_a_silent_ssh_is_reported_by_its_status_or_signal():
    assert ssh.failure_reason([], 255) == "ssh exited with status 255"
    assert ssh.failure_reason(["  "], -9) == "ssh was killed by signal 9"


def test_a_changed_host_key_says_how_to_remove_the_old_one():
    reason = ssh.failure_reason(CHANGED_KEY, 255, "node-1")
    assert reason.startswith("host key verification failed: the host key of "
                             "[127.0.0.1]:57507 has changed")
    assert reason.endswith('remove the old one with: ssh-keygen -f "/tmp/kh" '
                           '-R "[127.0.0.1]:57507"')
    assert "\n" not in reason


def test_an_unknown_key_under_strict_checking_names_the_setting():
    reason = ssh.failure_reason(UNKNOWN_KEY_STRICT, 255, "node-1")
    assert "no key of [127.0.0.1]:57507 is in known_hosts" in reason
    assert "StrictHostKeyChecking is yes" in reason


def test_a_bare_verification_failure_still_says_what_to_do():
    reason = ssh.failure_reason(["Host key verification failed."], 255, "node-1")
    assert reason.endswith("ssh-keygen -R 'node-1'")


# --- a job's stderr -----------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "Control socket connect(/tmp/pegasus-ab12/3): Connection refused",
    "Control socket connect(/tmp/pegasus-ab12/3.1): No such file or directory",
    "mux_client_request_session: session request failed: Session open refused by peer",
    "mux_client_read_packet: read header failed: Broken pipe",
    "Warning: Permanently added '[127.0.0.1]:57507' (ED25519) to the list of known hosts.",
    "Connection to 127.0.0.1 closed by remote host.",
])
def test_the_ssh_clients_own_complaints_are_recognised(line):
    assert ssh.own_message(line, "/tmp/pegasus-ab12") == line


@pytest.mark.parametrize("line", [
    "Control socket connect(/home/ann/.ssh/cm-x): Connection refused",  # not our socket
    "error: mux_client is a word in my log",
    "Warning: Permanently added nothing",
    "Connection to 127.0.0.1 closed.",
    "the job says: Connection to 127.0.0.1 closed by remote host.",
    "kex_exchange_identification: read: Connection reset by peer",
    "",
])
def test_what_a_job_may_print_itself_is_its_output(line):
    assert ssh.own_message(line, "/tmp/pegasus-ab12") is None


def test_without_a_control_directory_no_socket_line_is_ours():
    assert ssh.own_message("Control socket connect(/tmp/x/1): Connection refused", None) is None


# --- the command lines and the run's config file -------------------------------------

def _options(argv):
    return [argv[i + 1] for i, part in enumerate(argv) if part == "-o"]


def test_forced_options_come_before_the_users_and_forwarding_after():
    settings = SshSettings(options=["ForwardAgent=yes", "BatchMode=no"])
    argv = ssh.master_argv(settings, "/run/ssh_config", "node-1", "/run/0")
    assert argv[:3] == ["ssh", "-F", "/run/ssh_config"]
    options = _options(argv)
    for forced in ("BatchMode=yes", "RequestTTY=no", "RemoteCommand=none",
                   "ControlMaster=yes", "ControlPath=/run/0", "ControlPersist=no"):
        assert options.index(forced) < options.index("BatchMode=no")
    assert options.index("ForwardAgent=yes") < options.index("ForwardAgent=no")
    assert argv[-3:] == ["--", "node-1", ssh.MASTER_COMMAND]
    assert not any(option.startswith(("ConnectTimeout", "ServerAlive", "StrictHostKey"))
                   for option in options), "defaults live in the config file"


def _config_text(tmp_path, settings):
    directory = tmp_path / "run"
    directory.mkdir()
    path = ssh.write_config(str(directory), settings)
    with open(path) as stream:
        return path, stream.read()


def test_without_ssh_config_the_files_ssh_reads_come_first(tmp_path):
    path, text = _config_text(tmp_path, SshSettings())
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[:3] == ["Include ~/.ssh/config", "Include /etc/ssh/ssh_config", "Host *"]
    assert "ConnectTimeout 10" in lines and "StrictHostKeyChecking accept-new" in lines
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_an_ssh_config_of_ones_own_is_included_by_its_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "mine").write_text("Host a\n    ConnectTimeout 2\n")
    (tmp_path / "mine").chmod(0o600)
    monkeypatch.chdir(tmp_path)
    _, text = _config_text(tmp_path, SshSettings(config_file="mine"))
    assert "Include %s\n" % (tmp_path / "mine") in text
    assert text.index("Include") < text.index("Host *")


def test_a_config_file_others_may_write_is_copied_in(tmp_path):
    (tmp_path / "shared").write_text("Host a\n    ConnectTimeout 2\n")
    (tmp_path / "shared").chmod(0o666)
    _, text = _config_text(tmp_path, SshSettings(config_file=str(tmp_path / "shared")))
    assert "Include" not in text
    assert text.index("Host a\n    ConnectTimeout 2\n") < text.index("Host *")


def test_an_unreadable_config_file_goes_to_ssh_as_it_is(tmp_path):
    missing = str(tmp_path / "missing")
    assert ssh.write_config(str(tmp_path), SshSettings(config_file=missing)) == missing


def test_config_none_means_only_pegasus_defaults(tmp_path):
    _, text = _config_text(tmp_path, SshSettings(config_file="none"))
    assert "Include" not in text and "Host *" in text


def test_each_master_of_a_sub_host_gets_its_own_socket():
    control = ssh.ControlDirectory()
    try:
        paths = {control.socket(3, generation) for generation in range(3)}
        assert len(paths) == 3
        assert all(len(path) < 100 for path in paths)
    finally:
        control.remove()
