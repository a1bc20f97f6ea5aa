"""Broadcast mode: every job on every sub-host, in lockstep."""

import collections
import signal
import socket
from typing import Dict, List

import pytest
from helpers.runpegasus import Workspace, far_and_near, wait_for


@pytest.fixture
def work(tmp_path, sshd):
    return Workspace(tmp_path, sshd.config)


def test_no_sub_host_starts_a_job_before_every_sub_host_finished_the_last(work):
    log = work.file("log")
    work.hosts("- hostname: node-1\n  delay: 0\n- hostname: node-2\n  delay: 0.4\n"
               "- hostname: node-3\n  delay: 0.1\n")
    work.queue("- command: echo \"{{ n }} start $(date +%%s.%%N)\" >> %s; sleep {{ delay }}; "
               "echo \"{{ n }} end $(date +%%s.%%N)\" >> %s\n  n: [1, 2, 3]\n" % (log, log))
    result = work.run("b")
    assert result.returncode == 0, result.stderr
    events: Dict[int, Dict[str, List[float]]] = collections.defaultdict(
        lambda: collections.defaultdict(list))
    for line in work.read("log").splitlines():
        n, what, when = line.split()
        events[int(n)][what].append(float(when))
    assert sorted(events) == [1, 2, 3]
    for n in (1, 2, 3):
        assert len(events[n]["start"]) == len(events[n]["end"]) == 3
    for n in (1, 2):
        assert max(events[n]["end"]) <= min(events[n + 1]["start"])


def test_each_job_is_recorded_once_in_consumed_yaml(work):
    work.hosts("- node-1\n- node-2\n- node-3\n")
    work.queue("- echo a\n- command: echo {{ x }}\n  x: [b, c]\n")
    assert work.run("b").returncode == 0
    assert [job["command"] for job in work.consumed()] == ["echo a", "echo {{ x }}",
                                                           "echo {{ x }}"]


def test_error_aborts_stops_before_the_next_job_and_leaves_the_rest(work):
    work.hosts("- node-1\n- node-2\n")
    rest = "- echo third > %s   # untouched\n# trailing comment\n" % work.file("third")
    work.queue("- 'true'\n- '[ {{ hostname }} = node-2 ] && exit 4; true'\n" + rest)
    result = work.run("b", "-e")
    assert result.returncode == 1
    assert not work.exists("third")
    assert work.read("queue.yaml") == rest
    assert "exit 4: node-2" in result.stderr


def test_without_error_aborts_the_run_goes_on_and_still_exits_1(work):
    work.hosts("- node-1\n- node-2\n")
    work.queue("- exit 3\n- echo on >> %s\n" % work.file("after"))
    result = work.run("b", "-i")  # -i is accepted as in Pegasus 1.4
    assert result.returncode == 1
    assert work.read("after") == "on\non\n"
    assert "exit 3: node-[1-2]" in result.stderr


def test_an_unreachable_sub_host_fails_every_job_and_does_not_stall(work, sshd):
    config = work.write("ssh_config", open(sshd.config).read() + (
        "\nHost dead\n  HostName 127.0.0.1\n  Port 1\n  User nobody\n"))
    work.ssh_config = config
    work.hosts("- node-1\n- dead\n")
    work.queue("- echo one >> %s\n- echo two >> %s\n" % (work.file("ran"), work.file("ran")))
    result = work.run("b")
    assert result.returncode == 1
    assert work.read("ran") == "one\ntwo\n"
    assert "could not connect to dead" in result.stderr
    assert "2 of 2 jobs failed on some sub-hosts" in result.stderr
    assert result.stderr.count(": dead") == 2


def test_gather_prints_each_distinct_output_once_under_folded_hosts(work):
    work.hosts("- hostname: node-[1-4]\n- hostname: node-[5-6]\n  gpu: 0\n")
    work.queue("- echo same\n"
               "- '[ {{ hostname }} = node-3 ] && { echo odd; exit 2; }; echo usual'\n")
    result = work.run("b", "--gather")
    assert result.returncode == 1
    out = result.stdout
    assert "--- node-[1-4],node-[5-6] (gpu=0): exit 0\nsame\n" in out
    assert "--- node-[1-2,4],node-[5-6] (gpu=0): exit 0\nusual\n" in out
    assert "--- node-3: FAILED: exit 2\nodd\n" in out
    assert out.splitlines().count("same") == 1


def test_gather_in_queue_mode_prints_each_job_as_one_block(work):
    work.hosts("- node-1\n- node-2\n")
    work.queue("- command: for i in 1 2 3; do echo {{ x }}$i; sleep 0.05; done\n  x: [a, b]\n")
    result = work.run("q", "--gather")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    for x in "ab":
        start = lines.index(next(line for line in lines if line.startswith("---")
                                 and lines[lines.index(line) + 1] == x + "1"))
        assert lines[start + 1:start + 4] == [x + "1", x + "2", x + "3"]


def test_daemon_broadcast_runs_an_appended_job_on_every_sub_host(work):
    work.hosts("- node-1\n- node-2\n")
    work.queue("")
    process = work.start("b", "-d")
    try:
        assert work.run("l", "--append", "echo {{ hostname }} >> %s" % work.file("ran")
                        ).returncode == 0
        wait_for(lambda: work.exists("ran") and len(work.read("ran").split()) == 2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    assert sorted(work.read("ran").split()) == ["node-1", "node-2"]


def test_a_host_lost_mid_job_fails_it_there_and_the_barrier_moves_on(tmp_path, sshd,
                                                                      second_sshd):
    far, work = far_and_near(tmp_path, sshd, second_sshd)
    work.queue("- touch %s/started-{{ hostname }}; [ {{ hostname }} = far-1 ] && sleep 120; "
               "true\n- echo next >> %s\n" % (work.path, work.file("next")))
    process = work.start("b")
    wait_for(lambda: work.exists("started-far-1") and work.exists("started-node-1"))
    far.stop()
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "host lost: far-1" in err
    assert work.read("next") == "next\n"  # the second job ran on node-1


def held_back_host(tmp_path, sshd, until):
    """A workspace whose host slow-1 connects through a proxy that holds the
    connection back until the file `until` exists, or gives up after 8 s
    (before ssh's 10 s ConnectTimeout) and leaves the file proxy-gave-up."""
    sshd.add_alias("slow-1")
    gave_up = tmp_path / "proxy-gave-up"
    config = tmp_path / "ssh_config"
    config.write_text(
        "Include %s\n"
        "Host slow-1\n"
        "    ProxyCommand sh -c 'i=0; while [ ! -e %s ] && [ $i -lt 80 ]; do sleep 0.1; "
        "i=$((i+1)); done; [ -e %s ] || touch %s; exec ssh -F %s -W %%h:%%p node-1'\n"
        % (sshd.config, until, until, gave_up, sshd.config))
    work = Workspace(tmp_path, str(config))
    work.hosts("- node-1\n- slow-1\n")
    return work, gave_up


def test_a_cold_start_runs_on_connected_hosts_while_others_still_connect(tmp_path, sshd):
    ran = tmp_path / "node-1-ran"
    work, gave_up = held_back_host(tmp_path, sshd, until=ran)
    work.queue("- touch %s; echo first on {{hostname}}\n- echo second on {{hostname}}\n" % ran)
    result = work.run("b", timeout=60)
    assert result.returncode == 0, result.stderr
    assert not gave_up.exists(), "node-1 waited for slow-1's connection"
    for host in ("node-1", "slow-1"):
        for job in ("first", "second"):
            assert "%s on %s" % (job, host) in result.stdout


def test_cancelling_while_a_host_still_connects_records_its_run_as_cancelled(tmp_path, sshd):
    work, _ = held_back_host(tmp_path, sshd, until=tmp_path / "never")
    work.queue("- touch %s; sleep 30\n- echo never\n" % work.file("started"))
    process = work.start("b")
    wait_for(lambda: work.exists("started"))
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "never" not in out
    assert "cancelled: node-1,slow-1" in err, err  # both runs of the job, in hosts.yaml order


def test_a_host_whose_connect_times_out_is_not_said_to_time_out_in_no_time(tmp_path, sshd):
    # A server that takes the TCP connection and never says hello: ssh
    # gives up after ConnectTimeout. The job held for it never ran.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        config = tmp_path / "ssh_config"
        config.write_text("Include %s\nHost silent\n    HostName 127.0.0.1\n    Port %d\n"
                          % (sshd.config, silent.getsockname()[1]))
        work = Workspace(tmp_path, str(config))
        work.hosts("- node-1\n- silent\n")
        work.queue("- echo hi\n")
        result = work.run("b", "-o", "ConnectTimeout=2", timeout=60)
    assert result.returncode == 1
    [line] = [line for line in result.stdout.splitlines() if "FAILED" in line]
    assert line.startswith("[silent] #2 FAILED: unreachable: ") and "timed out" in line
    assert " after " not in line, line
