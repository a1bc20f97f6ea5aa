"""What ssh's own messages mean: pure functions, fed with what OpenSSH 9
really prints (recorded on the loopback sshd at LogLevel ERROR and INFO)."""

import pytest

from pegasus import ssh

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


@pytest.mark.parametrize("lines", [MAXSTARTUPS_ERROR, MAXSTARTUPS_INFO, MAXSTARTUPS_CLOSED,
                                   MAXSTARTUPS_BEHIND_JUMP, MAXSTARTUPS_BANNER])
def test_a_server_that_closes_before_greeting_turned_us_away_for_now(lines):
    assert ssh.turned_away(lines)


@pytest.mark.parametrize("lines", [JUMP_TO_CLOSED_PORT, JUMP_TO_CLOSED_PORT_ERROR,
                                   CLOSED_JUMP_HOST, CLOSED_PORT, TOO_MANY_KEYS, [],
                                   ["something else entirely"]])
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
    assert ssh.failure_reason(lines, 255) == reason


def test_a_silent_ssh_is_reported_by_its_status_or_signal():
    assert ssh.failure_reason([], 255) == "ssh exited with status 255"
    assert ssh.failure_reason(["  "], -9) == "ssh was killed by signal 9"



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
