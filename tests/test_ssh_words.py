"""What ssh's own messages mean: pure functions, fed with what OpenSSH 9
really prints (recorded on the loopback sshd at LogLevel ERROR and INFO)."""

import pytest

from pegasus import ssh


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
