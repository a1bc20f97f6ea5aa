"""Slots on the real sshd: several jobs share a sub-host, each told its own
slots, first come first served."""

import collections
import os
from typing import Any, Dict

import pytest

from runpegasus import Workspace


@pytest.fixture
def work(tmp_path, sshd):
    return Workspace(tmp_path, sshd.config)


RECORD = ("echo \"{{ n }} {{ hostname }} {{ slots }} $(date +%%s.%%N) start\" >> %(log)s; "
          "sleep {{ t }}; "
          "echo \"{{ n }} {{ hostname }} {{ slots }} $(date +%%s.%%N) end\" >> %(log)s")

# (slots, seconds) of each job, in queue order.
MIX = [(1, 0.6), (2, 0.4), (4, 0.5), (1, 0.3), (1, 0.7), (2, 0.5), (4, 0.3), (1, 0.2),
       (2, 0.6), (1, 0.4), (1, 0.3), (4, 0.4), (2, 0.3), (1, 0.5), (1, 0.2), (2, 0.4)]


def read_records(path):
    jobs: Dict[int, Dict[str, Any]] = {}
    for line in open(path).read().splitlines():
        n, host, slots, when, what = line.split()
        job = jobs.setdefault(int(n), {"host": host, "slots": [int(s) for s in slots.split(",")]})
        job[what] = float(when)
    return jobs


def test_mixed_slot_jobs_share_two_four_slot_hosts_safely_in_fifo_order(work):
    log = work.file("log")
    work.hosts("- hostname: [node-1, node-2]\n  slots: 4\n")
    work.queue("".join(
        "- command: %s\n  n: %d\n  slots: %d\n  t: %s\n" % (RECORD % {"log": log}, n, k, t)
        for n, (k, t) in enumerate(MIX)))
    result = work.run("q", "--joblog", "jobs.tsv")
    assert result.returncode == 0, result.stderr
    jobs = read_records(log)
    assert sorted(jobs) == list(range(len(MIX)))

    for n, (k, _t) in enumerate(MIX):
        assert len(jobs[n]["slots"]) == k  # {{ slots }} names as many slots as asked

    # No slot is ever held by two jobs at once.
    held = collections.defaultdict(list)
    for job in jobs.values():
        for slot in job["slots"]:
            held[(job["host"], slot)].append((job["start"], job["end"]))
    for intervals in held.values():
        intervals.sort()
        for (_s1, end1), (start2, _e2) in zip(intervals, intervals[1:]):
            assert end1 <= start2

    # FIFO: no job starts before an earlier one (jobs started in the same
    # instant record their start a few milliseconds apart, in any order; a
    # job overtaking a waiting head would be ahead by that head's wait).
    for n in range(1, len(MIX)):
        assert jobs[n]["start"] >= max(jobs[m]["start"] for m in range(n)) - 0.1

    # Full use: the head never waits while a sub-host has room for it. The
    # head becomes head when its predecessor starts; if it then had to wait
    # a while, no sub-host had enough free slots during that wait.
    for n in range(1, len(MIX)):
        became_head = jobs[n - 1]["start"]
        waited = jobs[n]["start"] - became_head
        if waited < 0.15:  # started right away: nothing to check
            continue
        moment = became_head + 0.05
        for host in ("node-1", "node-2"):
            busy = sum(len(j["slots"]) for j in jobs.values()
                       if j["host"] == host and j["start"] <= moment < j["end"])
            assert 4 - busy < MIX[n][0], "job %d waited while %s had room" % (n, host)

    rows = [line.split("\t") for line in work.read("jobs.tsv").splitlines()[1:]]
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
