"""The report at the end of a run, from the Summary alone: failures grouped
by how they ended and by the parameter values they share, each run by
#seq, sub-host, parameters and last stderr line, long groups folded, and a
table per sub-host; and the bounded tail of a run's output it reads."""

from pegasus.events import handler, outcome
from pegasus.events.outcome import Launch, Outcome, Reason, Tail
from pegasus.spec.jobs import Job
from pegasus.spec.hosts import SubHost
from pegasus.ui.report import Summary

HOSTS = [SubHost(i, "node-%d" % (i + 1), {}) for i in range(4)]


def run(seq, host, params, returncode=0, err=(), reason=None, retried=False, duration=1.0):
    job = Job("train --lr {{ lr }} --seed {{ seed }}", params)
    launch = Launch(seq, job, host, None, "train", 0.0)
    return Outcome(launch, duration, returncode, reason, stderr_tail=tuple(err),
                   retried=retried)


def summary_of(outcomes, subhosts=4, **options):
    summary = Summary(**options)
    summary.on_run_started(handler.RunInfo("queue", False, subhosts, False, "queue.yaml", 0.0))
    for each in outcomes:
        summary.on_job_finished(each)
    return summary.lines()


def sweep(fail_seed="7", count=40):
    """`count` runs of lr x seed over four sub-hosts; seed `fail_seed` exits 1."""
    outcomes = []
    for seq in range(1, count + 1):
        params = {"lr": str(seq % 4), "seed": str((seq - 1) // 4 + 1)}
        bad = params["seed"] == fail_seed
        outcomes.append(run(seq, HOSTS[seq % 4], params, 1 if bad else 0,
                            ["Traceback", "ValueError: seed %s" % params["seed"]] if bad else ()))
    return outcomes


def test_a_group_names_the_value_its_failures_share_and_each_run():
    lines = summary_of(sweep())
    assert lines[0] == "4 of 40 jobs failed:"
    assert lines[1] == "  4 failed with exit 1, all seed=7:"
    rows = lines[2:6]
    assert [row.split()[0] for row in rows] == ["#25", "#26", "#27", "#28"]
    assert all(row.endswith("seed=7  ValueError: seed 7") for row in rows)
    assert rows[0].startswith("    #25  node-2  lr=1 seed=7")


def test_a_value_every_job_has_is_not_named():
    outcomes = [run(seq, HOSTS[0], {"epochs": "10", "seed": str(seq)}, seq % 2)
                for seq in range(1, 7)]
    lines = summary_of(outcomes, subhosts=1)
    assert lines[1] == "  3 failed with exit 1:"


def test_most_of_a_group_sharing_a_value_is_said_with_how_many():
    outcomes = [run(seq, HOSTS[seq % 4], {"size": "big" if seq < 4 else "small",
                                          "n": str(seq)}, 1 if seq < 5 else 0)
                for seq in range(1, 9)]
    assert summary_of(outcomes)[1] == "  4 failed with exit 1, 3 of them size=big:"


def test_a_group_on_one_sub_host_says_so():
    outcomes = [run(seq, HOSTS[2] if seq % 3 == 0 else HOSTS[seq % 2], {"n": str(seq)},
                    1 if seq % 3 == 0 else 0) for seq in range(1, 10)]
    assert summary_of(outcomes)[1] == "  3 failed with exit 1, all on node-3:"


def test_long_groups_are_folded_to_their_seqs():
    lines = summary_of(sweep(count=200)[:120] + [
        run(seq, HOSTS[0], {"lr": "9", "seed": "7"}, 1, ["boom"]) for seq in range(121, 141)])
    group = [line for line in lines if line.startswith("    ")]
    assert len(group) == 6
    assert group[-1].startswith("    ... and 19 more: #122 #123 #124 ")


def test_groups_by_ending_biggest_first():
    outcomes = sweep() + [run(41, HOSTS[0], {"lr": "0", "seed": "11"}, None,
                              reason=Reason.TIMEOUT)]
    heads = [line for line in summary_of(outcomes) if line.startswith("  ") and
             not line.startswith("   ")]
    assert heads[:2] == ["  4 failed with exit 1, all seed=7:", "  1 failed with timeout:"]


def test_a_table_per_sub_host_when_something_failed_on_several():
    lines = summary_of(sweep())
    table = lines[lines.index("per sub-host:") + 1:]
    assert table[0].split() == ["sub-host", "done", "failed", "mean", "time"]
    assert [row.split()[:3] for row in table[1:5]] == [
        ["node-1", "9", "1"], ["node-2", "9", "1"], ["node-3", "9", "1"], ["node-4", "9", "1"]]
    assert table[1].endswith("1.0 s")


def test_no_table_with_one_sub_host_nor_when_all_went_well():
    assert "per sub-host:" not in summary_of(sweep(), subhosts=1)
    assert summary_of(sweep(fail_seed="none")) == []


def test_a_retried_failure_counts_for_its_sub_host_not_for_the_job():
    outcomes = [run(1, HOSTS[0], {"n": "1"}, 1, retried=True), run(2, HOSTS[1], {"n": "1"}, 0)]
    lines = summary_of(outcomes)
    assert lines == []  # the job succeeded in the end: nothing failed
    outcomes.append(run(3, HOSTS[1], {"n": "2"}, 2))
    lines = summary_of(outcomes)
    table = lines[lines.index("per sub-host:") + 2:]
    assert [row.split()[:3] for row in table] == [["node-1", "0", "1"], ["node-2", "1", "1"]]


def test_the_report_says_where_the_last_lines_are_when_there_is_a_record():
    assert summary_of(sweep(), record=True)[-1].startswith("`pegasus status --job SEQ`")
    assert not summary_of(sweep())[-1].startswith("`pegasus")


def test_rows_are_cut_to_the_terminal():
    outcomes = sweep()
    outcomes[24] = run(25, HOSTS[1], {"lr": "1", "seed": "7"}, 1, ["x" * 300])
    lines = summary_of(outcomes, width=80)
    assert all(len(line) <= 80 - len("pegasus: ") for line in lines)


def test_a_broadcast_failure_shows_the_last_line_once_when_every_sub_host_said_it():
    job = Job("make test")
    outcomes = [Outcome(Launch(n + 1, job, HOSTS[n], None, "make test", 0.0), 1.0, 2,
                        stderr_tail=("make: *** Error 2",)) for n in range(3)]
    lines = summary_of(outcomes, per_job=True)
    assert lines[1:4] == ["  make test", "    exit 2: node-[1-3]",
                              "      the last stderr line of each: make: *** Error 2"]


def test_a_tail_keeps_the_last_lines_within_its_bounds():
    tail = Tail()
    for n in range(100):
        tail.add("line %d" % n)
    assert tail.kept() == tuple("line %d" % n for n in range(90, 100))
    tail.add("y" * 10000)
    kept = tail.kept()
    assert len(kept[-1]) == outcome.LINE_CHARS and kept[-1].endswith(" ...")
    for _ in range(10):
        tail.add("z" * 10000)
    assert sum(map(len, tail.kept())) <= outcome.TAIL_CHARS


def test_the_last_error_line_skips_blank_lines():
    assert run(1, HOSTS[0], {}, 1, ["boom", "", "  "]).last_error_line == "boom"
    assert run(1, HOSTS[0], {}, 1).last_error_line == ""
