"""Watching a run (the watching issue): `pegasus status` across every runner
of a queue, and the outcome record, on the real sshd."""

import json
import os
import signal

import pytest
from helpers.runpegasus import Workspace, wait_for

from pegasus.spec.validate import validate_text


@pytest.fixture
def work(tmp_path, sshd):
    return Workspace(tmp_path, sshd.config)


def status(work):
    result = work.run("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_status_of_two_runners_on_one_queue_and_of_one_that_died(work):
    marks = work.file("marks")
    os.mkdir(marks)
    work.write("hosts-a.yaml", "- node-1\n")
    work.write("hosts-b.yaml", "- node-2\n")
    # Each job records where it runs, then waits to be stopped.
    work.queue("- command: echo {{ hostname }} > %s/{{ n }}; sleep 120\n  n: [j1, j2, j3, j4]\n"
               % marks)
    first = work.start("q", "-H", "hosts-a.yaml")
    second = work.start("q", "-H", "hosts-b.yaml")
    try:
        wait_for(lambda: len(os.listdir(marks)) == 2)
        wait_for(lambda: sum(len(r["running"]) for r in status(work)["runners"]) == 2)
        seen = status(work)
        assert sorted(r["pid"] for r in seen["runners"]) == sorted([first.pid, second.pid])
        recorded = {}
        for name in os.listdir(marks):
            with open(os.path.join(marks, name)) as stream:
                recorded[name] = stream.read().strip()
        for runner in seen["runners"]:
            [job] = runner["running"]
            n = job["command"].split("/")[-1].split(";")[0]   # ...marks/j1; sleep
            assert recorded[n] == job["host"]
            assert runner["connected"] == runner["subhosts"] == 1
            assert job["seq"] == 1 and job["started"] > 0
        assert seen["queued"] == 2 and seen["recoverable"] == []
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        after = status(work)
        assert [r["pid"] for r in after["runners"]] == [second.pid]
        [lost] = after["recoverable"]
        [job] = validate_text(lost["job"], "recoverable")
        assert recorded[job.params["n"]] == "node-1"
        human = work.run("status").stdout
        assert "taken by runners that died" in human and "2 jobs left" in human
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.communicate(timeout=60)


def test_finished_counts_match_the_joblog(work):
    work.hosts("- node-1\n- node-2\n")
    work.queue("- command: exit {{ code }}\n  code: [0, 0, 0, 1, 2, 0]\n- sleep 30\n")
    result = work.run("q", "--timeout", "1", "--joblog", "jobs.tsv", "--black-hole", "off")
    assert result.returncode == 1
    rows = [line.split("\t") for line in work.read("jobs.tsv").splitlines()[1:]]
    finished = status(work)["finished"]
    assert finished["ok"] == sum(row[6] == "0" for row in rows) == 4
    assert finished["failed"] == 2 and finished["timeout"] == 1
    assert sum(finished.values()) == len(rows)


def test_the_outcome_record_survives_a_sigkill_with_every_finished_job(work):
    done = work.file("done")
    os.mkdir(done)
    work.hosts("- node-1\n")
    work.queue("- command: touch %s/{{ n }}\n  n: [%s]\n- sleep 120\n"
               % (done, ", ".join(str(n) for n in range(10))))
    runner = work.start("q")
    wait_for(lambda: len(os.listdir(done)) == 10)
    wait_for(lambda: status(work)["finished"]["ok"] == 10)
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=30)
    with open(work.file(".queue.yaml.pegasus/outcomes.jsonl")) as stream:
        records = [json.loads(line) for line in stream]
    assert sorted(r["job"] for r in records) == sorted(
        "- command: touch %s/{{ n }}\n  n: %d\n" % (done, n) for n in range(10))
    assert {r["kind"] for r in records} == {"ok"}
    assert len(status(work)["recoverable"]) == 1  # the sleep, put back by the next runner


def test_status_of_a_missing_queue_exits_2(work):
    result = work.run("status", "-Q", "nowhere.yaml")
    assert result.returncode == 2
    assert "nowhere.yaml: no such file" in result.stderr


def test_sigusr1_leaves_the_run_going_and_an_idle_daemon_says_so(work):
    started = work.file("started")
    work.hosts("- node-1\n")
    work.queue("- touch %s; sleep 1\n" % started)
    runner = work.start("q", "-d")
    wait_for(lambda: os.path.exists(started))
    runner.send_signal(signal.SIGUSR1)
    wait_for(lambda: status(work)["finished"]["ok"] == 1)
    runner.send_signal(signal.SIGINT)
    _out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130
    assert err.count("queue empty: waiting for new entries") == 1
