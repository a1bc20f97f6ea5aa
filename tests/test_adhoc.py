"""Ad-hoc runs, as pdsh and clush users type them (the compatibility issue):
hosts from -w/-x, jobs after --, nothing written anywhere, on the real sshd."""

import os
import signal

import pytest
from helpers.runpegasus import Workspace, wait_for


@pytest.fixture
def work(tmp_path, sshd):
    os.mkdir(tmp_path / "cwd")
    return Workspace(tmp_path / "cwd", sshd.config)


def test_broadcast_to_a_host_range_runs_the_steps_in_lockstep_and_writes_nothing(work, tmp_path):
    log = tmp_path / "log"
    result = work.run("b", "-w", "node-[1-4]", "--",
                      "echo a {{ hostname }} >> %s; sleep 0.3" % log,
                      "echo b {{ hostname }} >> %s" % log)
    assert result.returncode == 0, result.stderr
    lines = log.read_text().splitlines()
    assert sorted(lines[:4]) == ["a node-%d" % n for n in range(1, 5)]
    assert sorted(lines[4:]) == ["b node-%d" % n for n in range(1, 5)]
    assert os.listdir(work.path) == []


def test_queue_mode_takes_each_argument_as_one_job_and_x_excludes(work, tmp_path):
    log = tmp_path / "log"
    result = work.run("q", "-w", "node-1,node-2,node-3", "-x", "node-2", "--joblog",
                      str(tmp_path / "jobs.tsv"), "--",
                      *["echo %d {{ hostname }} >> %s" % (n, log) for n in range(6)])
    assert result.returncode == 0, result.stderr
    lines = log.read_text().splitlines()
    assert sorted(line.split()[0] for line in lines) == [str(n) for n in range(6)]
    assert {line.split()[1] for line in lines} <= {"node-1", "node-3"}
    assert os.listdir(work.path) == []
    assert len((tmp_path / "jobs.tsv").read_text().splitlines()) == 7


def test_hosts_from_stdin(work, tmp_path):
    result = work.run("b", "-w", "-", "--", "echo {{ hostname }}", input="node-1\nnode-5\n")
    assert result.returncode == 0, result.stderr
    assert sorted(line for line in result.stdout.splitlines() if "] node-" in line) == [
        "[node-1] node-1", "[node-5] node-5"]


def test_w_in_place_of_a_hosts_file_with_a_queue_file(work):
    work.queue("- echo {{ hostname }}\n")
    result = work.run("q", "-w", "node-2")
    assert result.returncode == 0, result.stderr
    assert "[node-2] node-2" in result.stdout
    assert not os.path.exists(work.file("hosts.yaml"))


def test_a_failing_ad_hoc_command_gives_exit_1(work):
    result = work.run("b", "-w", "node-1,node-2", "--", "exit 3")
    assert result.returncode == 1
    assert "exit 3" in result.stderr


def test_d_with_ad_hoc_commands_is_a_usage_error(work):
    result = work.run("q", "-d", "-w", "node-1", "--", "true")
    assert result.returncode == 2
    assert os.listdir(work.path) == []


def test_the_special_keys_warning_names_the_line(work):
    work.hosts("- node-1\n")
    work.queue("- echo plain\n- command: echo {{ slots }}\n  slots: 1\n")
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("queue.yaml:3: warning: 'slots' is used in the command") == 1


def test_ctrl_c_of_an_ad_hoc_run_does_not_claim_to_put_its_jobs_back(tmp_path):
    # Jobs given after -- are kept nowhere: Ctrl-C tells them cancelled, and
    # says nothing of a queue to resume from.
    work = Workspace(tmp_path, os.devnull)
    started = work.file("started")
    process = work.start("q", "-w", "localhost", "--", "touch %s; sleep 100" % started,
                         "echo second")
    wait_for(lambda: os.path.exists(started))
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "put back" not in err and "resume" not in err, err
    assert "0 done, 0 failed, 1 cancelled" in err, err
    assert os.listdir(work.path) == ["started"]
