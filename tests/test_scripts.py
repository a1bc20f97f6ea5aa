"""The scripts' own machinery: the process helpers shared by the loopback sshd, the
demo and the benchmark (scripts/procs.py), and the benchmark's case registry."""

import signal
import subprocess
import sys
import time

import bench
import procs
import pytest
from benchlib.core import Row
from benchlib.registry import all_cases

GRACE = 0.3
TIMEOUT = 30  # seconds; a safety net, not a synchronisation


def start(script):
    """sh -c script in its own session, its stdout a pipe; the first line it prints
    means it is ready (its traps are set)."""
    process = subprocess.Popen(["sh", "-c", script], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, universal_newlines=True,
                               start_new_session=True)
    assert process.stdout is not None
    process.stdout.readline()
    return process


def test_stop_process_terminates_a_child_that_obeys_sigterm():
    process = start("trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done")
    assert procs.stop_process(process, TIMEOUT) == 7


def test_stop_process_kills_a_child_that_ignores_sigterm_after_the_grace():
    process = start("trap '' TERM; echo ready; while :; do sleep 0.05; done")
    started = time.monotonic()
    assert procs.stop_process(process, GRACE) is None
    assert time.monotonic() - started >= GRACE
    assert process.returncode == -signal.SIGKILL


def test_stop_process_leaves_a_child_its_own_exit_time_first():
    process = start("trap 'exit 9' TERM; echo ready; sleep 0.2; exit 4")
    assert procs.stop_process(process, GRACE, own_exit=TIMEOUT) == 4


def test_stop_process_in_a_hurry_skips_the_graces():
    process = start("trap '' TERM; echo ready; while :; do sleep 0.05; done")
    started = time.monotonic()
    assert procs.stop_process(process, TIMEOUT, own_exit=TIMEOUT, hurry=lambda: True) is None
    assert time.monotonic() - started < TIMEOUT / 2


def test_a_tree_is_found_frozen_and_terminated_to_the_last_grandchild():
    # The grandchild ignores SIGTERM and, being `sleep` itself, forks nothing
    # short-lived that the snapshot below could catch.
    process = start("sh -c 'trap \"\" TERM; exec sleep 60' & echo ready; wait")
    tree = procs.descendants(process.pid)
    assert tree, "the inner shell is below the outer one"
    assert set(procs.children_of(process.pid)) <= set(tree)
    frozen = procs.freeze_tree(process.pid)
    assert set(frozen) >= {process.pid, *tree}
    procs.terminate_tree(frozen, GRACE, process)
    assert process.returncode is not None
    assert procs.wait_until(lambda: not any(map(procs.exists, tree)), TIMEOUT)


def test_a_killed_tree_runs_nothing_more_not_even_a_trap():
    # The inner shell would say "bye" on SIGTERM; frozen and killed, it cannot.
    process = start("sh -c 'trap \"echo bye; exit 1\" TERM; sleep 60 & wait' & echo ready; wait")
    tree = procs.descendants(process.pid)
    assert tree
    procs.kill_tree(procs.freeze_tree(process.pid), process)
    assert process.returncode == -signal.SIGKILL
    assert procs.wait_until(lambda: not any(map(procs.exists, tree)), TIMEOUT)
    assert "bye" not in process.stdout.read()


def test_a_reaped_child_no_longer_exists():
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    assert not procs.exists(process.pid)


def test_wait_until_says_whether_the_condition_came_true():
    assert procs.wait_until(lambda: True, 0)
    started = time.monotonic()
    assert not procs.wait_until(lambda: False, GRACE)
    assert time.monotonic() - started >= GRACE


def test_bench_cases_are_registered_once_each_in_letter_order_and_described():
    cases = all_cases()
    letters = [entry.letter for entry in cases.values()]
    assert letters == sorted(letters) and len(set(letters)) == len(letters)
    assert list(cases)[:8] == ["limit", "pegasus", "parallel", "cpu", "take", "fanout",
                               "lockstep", "fanout256"]
    assert all(entry.about and entry.label.startswith("(%s)" % entry.letter)
               for entry in cases.values())


def test_bench_only_takes_letters_and_names_and_runs_them_in_case_order():
    assert bench.parse_args(["--only", "e,limit, b"]).cases == ["limit", "pegasus", "take"]
    assert bench.parse_args([]).cases == list(all_cases())
    with pytest.raises(SystemExit):
        bench.parse_args(["--only", "z"])


def test_bench_targets_come_from_the_rows_of_the_cases_that_ran():
    assert bench.targets([]) == []
    rows = [Row("a", "(a)", 1.0, 0.01), Row("b", "(b)", 1.4, 0.014),
            Row("e10000", "(e)", 0.006, 0.006, vs_limit=False)]
    found = {label: met for label, _, _, met in bench.targets(rows)}
    assert found == {"(b)/(a)": True, "(e) median take @10,000": False}


def test_bench_big_queue_and_start_up_targets_read_the_medians_of_their_rows():
    rows = [Row("j1000", "(j)", 0.5, vs_limit=False, values={"cpu": 0.4, "rss_mb": 34.0}),
            Row("j100000", "(j)", 1.2, vs_limit=False, values={"cpu": 1.0, "rss_mb": 61.0}),
            Row("k-python", "(k)", 0.02, vs_limit=False, values={"cpu": 0.01}),
            Row("k-help", "(k)", 0.05, vs_limit=False, values={"cpu": 0.04})]
    found = {label: (value, met) for label, value, _, met in bench.targets(rows)}
    assert found["(j) first job @100,000 entries"] == ("1.20 s", True)
    assert found["(j) peak RSS @100,000 entries"] == ("61.0 MB", False)
    assert found["(j) first job, 100,000 / 1,000 entries"] == ("2.40x (CPU 2.50x)", None)
    assert found["(k) --help / python -c pass, CPU"] == ("4.0x (+30 ms)", None)
