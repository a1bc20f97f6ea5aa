"""Failures in a sweep (the failure-workflow issue), on the real sshd:
retries of failed jobs, black-hole sub-hosts paused, --halt, cancelled jobs
put back in order, and `pegasus l --requeue`."""

import collections
import os
import signal

import pytest
from helpers.runpegasus import Workspace, connected, far_and_near, wait_for

from pegasus.spec.validate import validate_text


@pytest.fixture
def work(tmp_path, sshd):
    return Workspace(tmp_path, sshd.config)


def lines(path):
    try:
        with open(path) as stream:
            return [line.strip() for line in stream if line.strip()]
    except FileNotFoundError:
        return []


def joblog(work):
    rows = [line.split("\t") for line in work.read("jobs.tsv").splitlines()[1:]]
    return [(row[1], int(row[6]), row[8]) for row in rows]


# --- retries ---------------------------------------------------------------------------------

def test_a_job_that_fails_twice_then_succeeds_with_retries_2(work):
    counter = work.file("count")
    work.hosts("- node-1\n- node-2\n")
    work.queue("- n=$(cat %s 2>/dev/null || echo 0); echo $((n+1)) > %s; [ $n -ge 2 ]\n"
               % (counter, counter))
    result = work.run("q", "--retries", "2", "--joblog", "jobs.tsv")
    assert result.returncode == 0, result.stderr
    assert [status for _host, status, _command in joblog(work)] == [1, 1, 0]
    assert work.read("count").strip() == "3"


def test_a_retry_runs_on_another_sub_host_and_the_last_attempt_decides(work):
    # The first attempt fails wherever it runs; the retry must go elsewhere.
    first = work.file("first")
    work.hosts("- node-1\n- node-2\n")
    work.queue("- '[ -e %s ] || { echo {{ hostname }} > %s; exit 1; }'\n" % (first, first))
    result = work.run("q", "--retries", "1", "--joblog", "jobs.tsv")
    assert result.returncode == 0, result.stderr
    (host1, status1, _), (host2, status2, _) = joblog(work)
    assert (status1, status2) == (1, 0)
    assert host1 == work.read("first").strip() and host2 != host1


def test_an_entry_sets_its_own_retries(work):
    work.hosts("- node-1\n")
    work.queue("- command: exit 3\n  retries: 2\n- exit 4\n")
    result = work.run("q", "--joblog", "jobs.tsv", "--black-hole", "off")
    assert result.returncode == 1
    assert [status for _host, status, _ in joblog(work)] == [3, 3, 3, 4]


def test_identical_entries_each_have_their_own_retries(work):
    # "Run this benchmark twice": the second run fails once, and must get
    # its own retry, whatever its twin did.
    counter = work.file("count")
    command = "n=$(cat %s 2>/dev/null || echo 0); echo $((n+1)) > %s; [ $n -ne 1 ]" % (
        counter, counter)
    work.hosts("- node-1\n")
    work.queue("- %s\n- %s\n" % (command, command))
    result = work.run("q", "--retries", "1", "--joblog", "jobs.tsv", "--black-hole", "off")
    assert result.returncode == 0, result.stderr
    assert [status for _host, status, _ in joblog(work)] == [0, 1, 0]
    assert "attempt 2" in result.stdout and "attempt 3" not in result.stdout


def _daemon_connected(work, hosts, *args):
    """A daemon on an empty queue, once it has connected `hosts` sub-hosts."""
    work.queue("")
    with open(work.file("stderr"), "w") as stderr:
        process = work.start("q", "-d", "--joblog", "jobs.tsv", *args, stderr=stderr)
    wait_for(lambda: connected(work) == hosts or process.poll() is not None)
    assert process.poll() is None, work.read("stderr")
    return process


def _stop(process):
    process.send_signal(signal.SIGTERM)
    out, _err = process.communicate(timeout=60)
    return out


def test_a_twin_lost_with_its_host_is_retried_though_the_other_ran(tmp_path, sshd,
                                                                    second_sshd):
    far, work = far_and_near(tmp_path, sshd, second_sshd)
    process = _daemon_connected(work, 2, "--retries", "1")
    try:
        # Two identical entries: one to far-1 (first in hosts.yaml), which
        # is then lost, one to node-1, where it ends at once.
        twin = ("echo x >> %s/on-{{ hostname }}; [ {{ hostname }} = far-1 ] && sleep 120; "
                "true" % work.path)
        assert work.run("l", "--append", twin, "--append", twin).returncode == 0
        wait_for(lambda: work.exists("on-far-1") and len(joblog(work)) == 1)
        far.stop()
        wait_for(lambda: len(joblog(work)) == 3, timeout=60)
    finally:
        out = _stop(process)
    rows = joblog(work)
    assert [host for host, _status, _ in rows] == ["node-1", "far-1", "node-1"], (rows, out)
    assert rows[0][1] == 0 and rows[2][1] == 0
    assert "LOST: host lost" in out and "runs again, for attempt 2" in out
    assert work.read("on-node-1") == "x\nx\n"


def test_a_retry_avoids_the_sub_host_it_failed_on_last(work):
    go = work.file("go")
    work.hosts("- node-1\n- node-2\n")
    process = _daemon_connected(work, 2, "--retries", "2")
    try:
        # The first job holds node-1 until the second has failed once on
        # node-2; the second's retries then alternate: node-1, node-2.
        assert work.run("l", "--append", "while [ ! -e %s ]; do sleep 0.05; done" % go,
                        "--append", "touch %s; exit 3" % go).returncode == 0
        wait_for(lambda: len(joblog(work)) == 4)
    finally:
        _stop(process)
    attempts = [host for host, _status, command in joblog(work) if command.startswith("touch")]
    assert attempts == ["node-2", "node-1", "node-2"]


# --- black holes -----------------------------------------------------------------------------

BLACK_HOLE_HOSTS = "- hostname: node-1\n  broken: 1\n- hostname: node-2\n  broken: 0\n"
BLACK_HOLE_QUEUE = ("- command: '[ {{ broken }} = 1 ] && exit 3; sleep 0.2; echo {{ n }} >> %s'\n"
                    "  n: [%s]\n")


@pytest.mark.parametrize("retries", [0, 1])
def test_a_black_hole_is_paused_and_cannot_drain_the_queue(work, retries):
    done = work.file("done")
    work.hosts(BLACK_HOLE_HOSTS)
    work.queue(BLACK_HOLE_QUEUE % (done, ", ".join(str(n) for n in range(40))))
    result = work.run("q", "--retries", str(retries), "--joblog", "jobs.tsv")
    failures = [row for row in joblog(work) if row[1] != 0]
    assert all(host.startswith("node-1") for host, _status, _command in failures)
    pauses = result.stderr.count("paused for")
    assert pauses >= 1, result.stderr
    # Three in a row pause it; after each pause it gets one job.
    assert len(failures) == 3 + (pauses - 1), result.stderr
    ran = collections.Counter(lines(done))
    if retries:
        assert result.returncode == 0, result.stderr
        assert sorted(ran) == sorted(str(n) for n in range(40)) and set(ran.values()) == {1}
    else:
        assert result.returncode == 1
        assert len(ran) == 40 - len(failures)


def test_when_every_sub_host_fails_fast_none_stays_paused_and_every_job_runs(work):
    work.hosts("- node-1\n- node-2\n")
    work.queue("- command: exit 3\n  n: [%s]\n" % ", ".join(str(n) for n in range(20)))
    result = work.run("q", "--joblog", "jobs.tsv")
    assert result.returncode == 1
    assert len(joblog(work)) == 20 and work.read("queue.yaml").strip() == ""
    assert "20 of 20 jobs failed" in result.stderr
    # The first to fail three times is paused while the other is healthy;
    # once the other fails as fast, there is nothing to protect.
    assert result.stderr.count("paused for") <= 1
    if "paused for" in result.stderr:
        assert "takes jobs again: no healthy sub-host is left" in result.stderr


@pytest.mark.parametrize("hosts", [None, "- hostname: node-1\n  slots: 4\n"])
def test_a_single_host_is_never_paused_and_runs_every_job(work, hosts):
    # A one-host queue of quick checks where failing is a normal result.
    if hosts is None:
        result = work.run("q", "--joblog", "jobs.tsv", "-w", "node-1", "--",
                          "false", "false", "false", "false", "false", "false", "false")
    else:
        work.hosts(hosts)
        work.queue("- command: exit 3\n  n: [%s]\n" % ", ".join(str(n) for n in range(7)))
        result = work.run("q", "--joblog", "jobs.tsv")
        assert work.read("queue.yaml").strip() == ""
    assert result.returncode == 1, result.stderr
    assert len(joblog(work)) == 7
    assert "paused" not in result.stderr and "not run" not in result.stderr
    assert "7 of 7 jobs failed" in result.stderr


def test_a_daemon_with_one_host_runs_its_failing_jobs_without_pause(work):
    work.hosts("- node-1\n")
    process = _daemon_connected(work, 1)
    try:
        for n in range(6):
            assert work.run("l", "--append", "exit 3 # %d" % n).returncode == 0
        wait_for(lambda: len(joblog(work)) == 6, timeout=60)
    finally:
        _stop(process)
    assert "paused" not in work.read("stderr")


def test_two_black_holes_beside_a_healthy_host_take_few_jobs_and_all_run(work):
    done = work.file("done")
    work.hosts("- hostname: node-1\n  broken: 1\n- hostname: node-2\n  broken: 1\n"
               "- hostname: node-3\n  broken: 0\n")
    work.queue(BLACK_HOLE_QUEUE % (done, ", ".join(str(n) for n in range(30))))
    # A job may fail on both black holes before it reaches node-3.
    result = work.run("q", "--retries", "2", "--joblog", "jobs.tsv")
    assert result.returncode == 0, result.stderr
    ran = collections.Counter(lines(done))
    assert sorted(ran) == sorted(str(n) for n in range(30)) and set(ran.values()) == {1}
    failures = collections.Counter(host.split()[0] for host, status, _ in joblog(work)
                                   if status != 0)
    assert set(failures) <= {"node-1", "node-2"}
    pauses = result.stderr.count("paused for")
    assert sum(failures.values()) == 6 + (pauses - 2), result.stderr


def test_when_the_healthy_host_is_lost_the_paused_one_runs_what_is_left(tmp_path, sshd,
                                                                        second_sshd):
    far, work = far_and_near(tmp_path, sshd, second_sshd)
    work.queue("- command: '[ {{ hostname }} = far-1 ] && { touch %s/far; sleep 120; }; "
               "exit 3'\n  n: [%s]\n" % (work.path, ", ".join(str(n) for n in range(12))))
    with open(work.file("stderr"), "w") as stderr:
        process = work.start("q", "--joblog", "jobs.tsv", stderr=stderr)
    try:
        wait_for(lambda: work.exists("far") and "[node-1] paused for" in work.read("stderr"))
        far.stop()
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    err = work.read("stderr")
    assert process.returncode == 1, err
    assert "[node-1] takes jobs again" in err
    assert len(joblog(work)) == 12 and work.read("queue.yaml").strip() == ""
    assert "not run" not in err


def test_the_black_hole_rule_can_be_turned_off(work):
    work.hosts("- node-1\n")
    work.queue("- command: exit 3\n  n: [%s]\n" % ", ".join(str(n) for n in range(8)))
    result = work.run("q", "--black-hole", "off")
    assert result.returncode == 1
    assert "paused" not in result.stderr
    assert work.read("queue.yaml").strip() == ""


# --- --halt ----------------------------------------------------------------------------------

# One sub-host runs them one after the other: where a rule stops is certain.
SEQUENCE = ["exit 0", "exit 1", "exit 0", "exit 1", "exit 1", "exit 0", "exit 0", "exit 0"]


@pytest.mark.parametrize("rule, ran, status", [
    ("soon,fail=2", 4, 1),
    ("now,fail=1", 2, 1),
    ("soon,fail=50%", 4, 1),    # 2 of 4 finished (at least 3 must have)
    ("now,fail=60%", 5, 1),     # 3 of 5
    ("soon,success=2", 3, 0),
    ("now,success=3", 6, 0),
])
def test_each_halt_rule_stops_where_it_should(work, rule, ran, status):
    work.hosts("- node-1\n")
    work.queue("".join("- command: %s\n  n: %d\n" % (command, n)
                       for n, command in enumerate(SEQUENCE)))
    result = work.run("q", "--halt", rule, "--joblog", "jobs.tsv", "--black-hole", "off")
    assert result.returncode == status, result.stderr
    assert len(joblog(work)) == ran
    assert "--halt %s is met" % rule in result.stderr
    assert work.read("queue.yaml").count("command:") == len(SEQUENCE) - ran


def test_halt_now_stops_the_running_jobs_as_failures(work):
    work.hosts("- node-1\n- node-2\n")
    work.queue("- sleep 60\n- sleep 1; exit 3\n- echo never\n")
    result = work.run("q", "--halt", "now,fail=1", "--joblog", "jobs.tsv")
    assert result.returncode == 1
    rows = {command: status for _host, status, command in joblog(work)}
    assert rows == {"sleep 60": 128 + signal.SIGTERM, "sleep 1; exit 3": 3}
    assert "stopped by --halt" in result.stderr
    assert work.read("queue.yaml") == "- echo never\n"   # not put back: it failed


def test_e_in_queue_mode_means_soon_fail_1(work):
    work.hosts("- node-1\n")
    work.queue("- exit 0\n- exit 2\n- exit 0\n")
    result = work.run("q", "-e")
    assert result.returncode == 1
    assert "--halt soon,fail=1 is met" in result.stderr
    assert work.read("queue.yaml") == "- exit 0\n"


# --- cancelled jobs go back ------------------------------------------------------------------

def test_ctrl_c_puts_the_running_jobs_back_in_order_and_a_rerun_finishes_the_queue(work):
    marks, done, go = work.file("marks"), work.file("done"), work.file("go")
    os.mkdir(marks)
    work.hosts("- hostname: [node-1, node-2, node-3, node-4]\n")
    work.queue("- command: touch %s/{{ n }}; while [ ! -e %s ]; do sleep 0.1; done; "
               "echo {{ n }} >> %s\n  n: [%s]\n"
               % (marks, go, done, ", ".join("j%02d" % n for n in range(12))))
    runner = work.start("q")
    wait_for(lambda: len(os.listdir(marks)) == 4)
    runner.send_signal(signal.SIGINT)
    _out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130
    assert "put back 4 cancelled jobs" in err
    queued = [job.params["n"] for job in validate_text(work.read("queue.yaml"), "queue.yaml")]
    started = sorted(os.listdir(marks))
    assert started == ["j00", "j01", "j02", "j03"]   # taken first, so running
    assert queued == ["j%02d" % n for n in range(12)]  # back on top, in order
    open(go, "w").close()
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    ran = collections.Counter(lines(done))
    assert sorted(ran) == ["j%02d" % n for n in range(12)] and set(ran.values()) == {1}


def test_on_cancel_drop_keeps_the_cancelled_jobs_out(work):
    marks = work.file("marks")
    os.mkdir(marks)
    work.hosts("- node-1\n")
    work.queue("- touch %s/a; sleep 60\n- echo next\n" % marks)
    runner = work.start("q", "--on-cancel", "drop")
    wait_for(lambda: os.listdir(marks))
    runner.send_signal(signal.SIGINT)
    runner.communicate(timeout=60)
    assert runner.returncode == 130
    assert work.read("queue.yaml") == "- echo next\n"


# --- pegasus l --requeue ---------------------------------------------------------------------

def test_requeue_failed_puts_back_exactly_the_failed_jobs_once(work):
    work.hosts("- node-1\n- node-2\n")
    work.queue("- command: exit {{ code }}\n  code: [0, 1, 0, 2, 0, 3, 0]\n")
    assert work.run("q", "--black-hole", "off").returncode == 1
    assert work.read("queue.yaml").strip() == ""
    dry = work.run("l", "--requeue", "failed", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.count("command:") == 3
    assert work.read("queue.yaml").strip() == ""
    assert work.run("l", "--requeue", "failed").returncode == 0
    queued = work.read("queue.yaml")
    assert [line for line in queued.splitlines() if line.startswith("  code")] == [
        "  code: 1", "  code: 2", "  code: 3"]
    assert work.run("l", "--requeue", "failed").returncode == 0
    assert work.read("queue.yaml") == queued
    # They run, now succeed? No: they fail again; once more they go back.
    assert work.run("q", "--black-hole", "off").returncode == 1
    assert work.run("l", "--requeue", "all-failed").returncode == 0
    assert work.read("queue.yaml").count("command:") == 3


def test_ctrl_c_in_broadcast_mode_puts_the_job_back_once(work):
    marks = work.file("marks")
    os.mkdir(marks)
    work.hosts("- node-1\n- node-2\n- node-3\n")
    work.queue("- touch %s/{{ hostname }}; sleep 60\n- echo next\n" % marks)
    runner = work.start("b")
    wait_for(lambda: len(os.listdir(marks)) == 3)
    runner.send_signal(signal.SIGINT)
    _out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130
    assert "put back 1 cancelled job " in err
    assert work.read("queue.yaml") == "- command: touch %s/{{ hostname }}; sleep 60\n" \
        "- echo next\n" % marks


def test_requeue_since_keeps_to_recent_failures(work):
    work.hosts("- node-1\n")
    work.queue("- exit 1\n")
    assert work.run("q").returncode == 1
    assert work.run("l", "--requeue", "failed", "--since", "2099-01-01").returncode == 0
    assert work.read("queue.yaml").strip() == ""
    assert work.run("l", "--requeue", "failed", "--since", "1h").returncode == 0
    assert work.read("queue.yaml") == "- command: exit 1\n"
