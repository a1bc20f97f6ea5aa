"""Slots on the real sshd: several jobs share a sub-host, each told its own
slots, first come first served."""

import os
import random
import signal

import pytest
from helpers.runpegasus import Workspace, connected, wait_for


@pytest.fixture
def work(tmp_path, sshd):
    return Workspace(tmp_path, sshd.config)


# Each job records where it runs and on which slots, then holds them until
# the test releases it: the test decides when each job ends, and checks,
# step by step, that exactly the jobs that should run do.
HOLD = ("echo \"{{ n }} {{ hostname }} {{ slots }}\" >> %(log)s; touch %(started)s/{{ n }}; "
        "while [ ! -e %(release)s/{{ n }} ]; do sleep 0.02; done")

# The slots of each job, in queue order.
MIX = [1, 2, 4, 1, 1, 2, 4, 1, 2, 1, 1, 4, 2, 1, 1, 2]
HOSTS = ("node-1", "node-2")
SLOTS = 4


def running_now(log, started, ended):
    """{n: (host, slots)} of the jobs that started and have not ended."""
    jobs = {}
    for line in open(log).read().splitlines():
        n, host, slots = line.split()
        jobs[int(n)] = (host, [int(s) for s in slots.split(",")])
    return {n: jobs[n] for n in started if n not in ended}


def schedule(queue, free, running):
    """What pegasus must start now: FIFO, each head on the first sub-host
    (in hosts.yaml order) with enough free slots, or nothing more."""
    while queue:
        n = queue[0]
        host = next((h for h in HOSTS if free[h] >= MIX[n]), None)
        if host is None:
            return
        free[host] -= MIX[n]
        running[n] = host
        queue.pop(0)


def test_mixed_slot_jobs_share_two_four_slot_hosts_safely_in_fifo_order(work):
    log, started, release = work.file("log"), work.file("started"), work.file("release")
    os.mkdir(started)
    os.mkdir(release)
    work.hosts("- hostname: [node-1, node-2]\n  slots: 4\n")
    work.queue("")
    process = work.start("q", "-d", "--joblog", "jobs.tsv")
    try:
        # Both sub-hosts up before any job: none may wait for a connection.
        wait_for(lambda: connected(work) == 2)
        hold = HOLD % {"log": log, "started": started, "release": release}
        entries = "".join("- command: %s\n  n: %d\n  slots: %d\n" % (hold, n, k)
                          for n, k in enumerate(MIX))
        assert work.run("l", "--append", "-", input=entries).returncode == 0
        queue, free = list(range(len(MIX))), dict.fromkeys(HOSTS, SLOTS)
        expected: dict = {}   # n -> the sub-host it must run on, for the jobs running
        ended: set = set()
        rng = random.Random(20)
        schedule(queue, free, expected)
        while expected:
            wait_for(lambda: {int(n) for n in os.listdir(started)} == set(expected) | ended)
            running = running_now(log, set(expected), ended)
            for n, (host, slots) in running.items():
                # Where first fit puts it, with as many slots as it asked.
                assert host == expected[n] and len(slots) == MIX[n], (n, host, slots)
            for host in HOSTS:   # no slot is held by two jobs at once
                held = [slot for h, slots in running.values() if h == host for slot in slots]
                assert len(held) == len(set(held)) and set(held) <= set(range(SLOTS)), held
            done = rng.choice(sorted(expected))
            open(os.path.join(release, str(done)), "w").close()
            ended.add(done)
            # pegasus has seen it end (and freed its slots) once its row is there.
            wait_for(lambda: len(work.read("jobs.tsv").splitlines()) - 1 == len(ended))
            free[expected.pop(done)] += MIX[done]
            schedule(queue, free, expected)
        assert not queue and ended == set(range(len(MIX)))
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=60)
    rows = [line.split("\t") for line in work.read("jobs.tsv").splitlines()[1:]]
    assert len(rows) == len(MIX) and all(row[6] == "0" for row in rows), err
    assert all(" slots=" in row[1] for row in rows)


def test_a_job_needing_more_slots_than_any_host_fails_and_the_queue_moves_on(work):
    work.hosts("- hostname: node-1\n  slots: 2\n")
    work.queue("- command: echo too big\n  slots: 4\n- echo next > %s\n" % work.file("next"))
    result = work.run("q")
    assert result.returncode == 1
    assert "cannot run anywhere: needs 4 slots, the host has 2" in result.stderr
    assert work.read("next") == "next\n"


def test_buddy_with_a_slot_count_not_a_power_of_two_fails(work):
    work.hosts("- hostname: node-1\n  slots: 8\n")
    work.queue("- command: 'true'\n  slots: 3\n  allocation_policy: buddy\n")
    result = work.run("q")
    assert result.returncode == 1
    assert "power-of-two" in result.stderr


def test_jobs_on_one_connection_stay_under_max_sessions(work):
    marks = work.file("marks")
    os.mkdir(marks)
    work.hosts("- hostname: node-1\n  slots: 12\n")
    # Each job records how many jobs run beside it.
    job = ("touch %s/{{ n }}; sleep 0.6; ls %s | wc -l >> %s; rm %s/{{ n }}"
           % (marks, marks, work.file("counts"), marks))
    work.queue("- command: %s\n  n: [%s]\n" % (job, ", ".join(str(i) for i in range(12))))
    assert work.run("q").returncode == 0
    counts = [int(c) for c in work.read("counts").split()]
    assert max(counts) <= 9  # sshd's default MaxSessions 10, one used by the master
    os.remove(work.file("counts"))
    work.queue("- command: %s\n  n: [%s]\n" % (job, ", ".join(str(i) for i in range(12))))
    assert work.run("q", "--max-sessions", "13").returncode == 0
    assert max(int(c) for c in work.read("counts").split()) > 9


def test_dry_run_shows_each_jobs_slot_need(work):
    work.hosts("- hostname: node-1\n  slots: 4\n")
    work.queue("- command: train --gpus {{ slots }}\n  slots: [1, 2]\n")
    result = work.run("q", "--dry-run")
    assert result.returncode == 0
    assert "slots=1" in result.stdout and "slots=2" in result.stdout
    assert "train --gpus 0,1" in result.stdout
