"""Cancel, kill, timeouts, lost hosts and crashes, on the real sshd. The
"remote" processes live on this machine, so the tests can see them."""

import os
import random
import signal
import subprocess
import time

import psutil
import pytest
from helpers.runpegasus import (
    Workspace, connected, environment, far_and_near, sleepers, wait_for)


@pytest.fixture
def work(tmp_path, sshd):
    return Workspace(tmp_path, sshd.config)


@pytest.fixture
def short_tmp(tmp_path_factory):
    """A TMPDIR short enough for control sockets, to find the run's ssh
    processes by their ControlPath."""
    path = str(tmp_path_factory.mktemp("t"))
    if len(path) > 40:
        pytest.skip("temporary directory path too long for socket paths")
    return path


def ssh_of_run(tmpdir):
    """ssh processes whose ControlPath lies in `tmpdir` (this run's)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            if process.info["name"] == "ssh" and any(
                    tmpdir in part for part in process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            continue
    return found


def unique_tag():
    return str(3000 + random.randrange(10 ** 6))


JOBS_WITH_CHILDREN = (
    "- command: touch {d}/started-{{{{ hostname }}}}-{{{{ n }}}}; "
    "sleep {tag} & sleep {tag} | cat & sh -c 'sleep {tag}' & wait\n"
    "  n: [1, 2]\n")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_cancel_leaves_no_job_process_and_no_ssh_and_exits_130(work, short_tmp, signum):
    tag = unique_tag()
    work.hosts("- node-1\n- node-2\n- localhost\n")
    work.queue(JOBS_WITH_CHILDREN.format(d=work.path, tag=tag))
    env = environment(TMPDIR=short_tmp)
    process = work.start("q", "--joblog", "jobs.tsv", env=env)
    wait_for(lambda: len([f for f in os.listdir(work.path) if f.startswith("started-")]) == 2)
    wait_for(lambda: len(sleepers(tag)) >= 6)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "cancelling 2 running jobs" in err
    assert err.count("cancelled") >= 2
    assert sleepers(tag) == []
    assert ssh_of_run(short_tmp) == []
    assert os.listdir(short_tmp) == []
    rows = work.read("jobs.tsv").splitlines()[1:]
    assert len(rows) == 2 and all(row.split("\t")[7] == "15" for row in rows), (rows, out, err)


def test_a_second_ctrl_c_kills_at_once(work):
    tag = unique_tag()
    work.hosts("- node-1\n")
    work.queue("- trap '' TERM; touch %s/started; sleep %s\n" % (work.path, tag))
    process = work.start("q", "--kill-grace", "600")
    wait_for(lambda: sleepers(tag))
    process.send_signal(signal.SIGINT)
    time.sleep(1.0)
    assert sleepers(tag), "SIGTERM is ignored and the grace is long: still running"
    assert process.poll() is None
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=30)  # not 600 s
    assert process.returncode == 130
    assert "killing every job now" in err
    wait_for(lambda: not sleepers(tag), timeout=10)


def test_when_the_runner_is_killed_its_remote_jobs_die_by_themselves(work, short_tmp):
    tag = unique_tag()
    work.hosts("- node-1\n- node-2\n")
    work.queue(JOBS_WITH_CHILDREN.format(d=work.path, tag=tag))
    process = work.start("q", "--kill-grace", "1", env=environment(TMPDIR=short_tmp))
    wait_for(lambda: len(sleepers(tag)) >= 6)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    wait_for(lambda: not sleepers(tag), timeout=20)
    wait_for(lambda: not ssh_of_run(short_tmp), timeout=20)


def test_a_timeout_fails_the_job_and_the_run_goes_on(work):
    tag = unique_tag()
    work.hosts("- node-1\n")
    work.queue("- sleep %s\n- command: sleep %s\n  timeout: 0.5\n- echo after > %s\n"
               % (tag, tag, work.file("after")))
    result = work.run("q", "--timeout", "1", "--kill-grace", "1", timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("timeout") >= 2
    assert "2 of 3 jobs failed" in result.stderr
    assert work.read("after") == "after\n"
    assert sleepers(tag) == []


def test_a_lost_host_fails_its_job_with_host_lost(tmp_path, second_sshd):
    far = second_sshd(aliases=1)
    work = Workspace(tmp_path, far.config)
    work.hosts("- far-1\n")
    work.queue("- touch %s/started; sleep 120\n" % work.path)
    process = work.start("q")
    wait_for(lambda: work.exists("started"))
    far.stop()  # every connection of the host drops
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "host lost" in out + err
    assert "1 of 1 job failed" in err


def test_with_retries_a_job_of_a_lost_host_runs_on_another(tmp_path, sshd, second_sshd):
    far, work = far_and_near(tmp_path, sshd, second_sshd)
    work.queue("")
    process = work.start("q", "-d", "--retries", "1")
    try:
        # Both are connected (a master process may be up before it is ready):
        # the job goes to far-1, first in hosts.yaml.
        wait_for(lambda: connected(work) == 2)
        assert work.run("l", "--append", "touch %s/on-{{ hostname }}; "
                        "[ {{ hostname }} = far-1 ] && sleep 120; true" % work.path
                        ).returncode == 0
        wait_for(lambda: work.exists("on-far-1"))
        far.stop()
        wait_for(lambda: work.exists("on-node-1"), timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert "host lost" in out + err
    assert "runs again, for attempt 2" in out
    assert len(work.consumed()) == 1  # taken once: its retry stays with the runner


def test_a_host_down_at_start_is_skipped_then_joins_when_it_comes_back(tmp_path, second_sshd):
    far = second_sshd(aliases=1)
    far.stop(keep=True)
    work = Workspace(tmp_path, far.config)
    work.hosts("- far-1\n")
    work.queue("- echo ran > %s\n" % work.file("ran"))
    with open(work.file("stderr"), "w") as stderr:
        process = work.start("q", "-d", stderr=stderr)
    try:
        wait_for(lambda: "cannot connect" in work.read("stderr"), timeout=30)
        assert not work.exists("ran")
        far.restart()
        wait_for(lambda: work.exists("ran"), timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)


def _masters(pid):
    try:
        return [p for p in psutil.Process(pid).children()
                if "ControlMaster=yes" in p.cmdline()]
    except psutil.Error:
        return []


def test_killing_the_runner_at_random_moments_loses_no_job(work):
    """SIGKILL the runner again and again during a 200-job run; restart it
    each time. At every step queue.yaml parses and each job is in
    queue.yaml or consumed.yaml; at the end every job has run."""
    from pegasus.spec.validate import validate_text
    records = work.file("records")
    os.mkdir(records)
    work.hosts("- hostname: [node-1, node-2]\n  k: [a, b]\n")
    ids = ["j%03d" % i for i in range(200)]
    work.queue("- command: echo {{ hostname }} >> %s/{{ n }}\n  n: [%s]\n"
               % (records, ", ".join(ids)))
    rng = random.Random(7)
    kills = 0
    while kills < 12 and len(os.listdir(records)) < 150:
        before = len(os.listdir(records))
        process = work.start("q", "--kill-grace", "0.5", stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        # Kill it at a random moment once it is running jobs.
        wait_for(lambda b=before, p=process: len(os.listdir(records)) > b or p.poll() is not None)
        time.sleep(rng.uniform(0, 0.15))
        process.send_signal(signal.SIGKILL)
        kills += 1
        process.wait(timeout=10)
        queued = {job.params["n"] for job in validate_text(work.read("queue.yaml"), "queue.yaml")}
        consumed = ({job["n"] for job in work.consumed()} if work.exists("consumed.yaml")
                    else set())
        assert queued | consumed == set(ids), "a job vanished"
    result = work.run("q", "--kill-grace", "0.5", timeout=300)
    assert result.returncode == 0, result.stderr
    ran = set(os.listdir(records))
    assert ran == set(ids), sorted(set(ids) - ran)[:10]
