"""`--dry-run` (SPEC §3): every job the queue expands to, the command each
sub-host would run, the count -- and nothing consumed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

QUIZ_HOSTS = """\
- hostname: [node-1, node-2]
  laziness: 1
- hostname: node-3
  laziness: 2
"""

QUIZ_QUEUE = """\
- echo hi from {{ hostname }}
- command:
    - for i in $(seq {{ low }} {{ high }}); do echo $i; sleep {{ laziness }}; done
    - echo bye from {{ hostname }}
  low: [1, 2]
  high: [3, 4]
"""


def run_pegasus(cwd, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "pegasus", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def files_of(directory):
    return {name: (directory / name).read_bytes() for name in sorted(os.listdir(directory))}


@pytest.fixture
def quiz(tmp_path):
    (tmp_path / "hosts.yaml").write_text(QUIZ_HOSTS)
    (tmp_path / "queue.yaml").write_text(QUIZ_QUEUE)
    return tmp_path


class QuizRun:
    def __init__(self, directory, mode):
        directory.mkdir()
        (directory / "hosts.yaml").write_text(QUIZ_HOSTS)
        (directory / "queue.yaml").write_text(QUIZ_QUEUE)
        self.before = files_of(directory)
        self.result = run_pegasus(directory, mode, "--dry-run")
        self.after = files_of(directory)
        self.lines = self.result.stdout.splitlines()


@pytest.fixture(scope="module")
def quiz_runs(tmp_path_factory):
    """The quiz of SPEC §1, dry-run once in each mode name."""
    base = tmp_path_factory.mktemp("quiz")
    return {mode: QuizRun(base / mode, mode) for mode in ["q", "queue", "b", "broadcast"]}


@pytest.mark.parametrize("mode", ["q", "queue"])
def test_quiz_queue_mode_lists_nine_jobs_and_the_count(quiz_runs, mode):
    run = quiz_runs[mode]
    assert run.result.returncode == 0, run.result.stderr
    heads = [line for line in run.lines if line.startswith("job ")]
    assert len(heads) == 9
    assert heads[0] == "job 1 (queue.yaml:1)"
    assert heads[1] == "job 2 (queue.yaml:2)  low=1 high=3"
    assert heads[8] == "job 9 (queue.yaml:2)  low=2 high=4"
    assert run.lines[-1] == "9 jobs over 3 sub-hosts, each job run once (nothing consumed)"


def test_quiz_dry_run_renders_the_command_per_sub_host(quiz_runs):
    lines = quiz_runs["q"].lines
    assert lines[:4] == [
        "job 1 (queue.yaml:1)",
        "  [node-1 (laziness=1)] echo hi from node-1",
        "  [node-2 (laziness=1)] echo hi from node-2",
        "  [node-3 (laziness=2)] echo hi from node-3",
    ]
    assert "  [node-3 (laziness=2)] for i in $(seq 2 4); do echo $i; sleep 2; done" in lines
    assert "  [node-1 (laziness=1)] for i in $(seq 1 3); do echo $i; sleep 1; done" in lines
    assert lines.count("  [node-2 (laziness=1)] echo bye from node-2") == 4


@pytest.mark.parametrize("mode", ["b", "broadcast"])
def test_quiz_broadcast_mode_counts_every_job_on_every_sub_host(quiz_runs, mode):
    run = quiz_runs[mode]
    assert run.result.returncode == 0, run.result.stderr
    assert run.lines[-1] == (
        "9 jobs, each on all 3 sub-hosts: 27 runs in lockstep (nothing consumed)")
    assert sum(line.startswith("job ") for line in run.lines) == 9


@pytest.mark.parametrize("mode", ["q", "queue", "b", "broadcast"])
def test_dry_run_consumes_nothing(quiz_runs, mode):
    run = quiz_runs[mode]
    assert run.result.returncode == 0, run.result.stderr
    assert run.after == run.before
    assert sorted(run.after) == ["hosts.yaml", "queue.yaml"]


def test_dry_run_reads_the_files_named_on_the_command_line(tmp_path):
    os.mkdir(tmp_path / "conf")
    (tmp_path / "conf" / "h.yaml").write_text("- localhost\n")
    (tmp_path / "conf" / "q.yaml").write_text("- command: echo {{ x }}\n  x: [a, b]\n")
    result = run_pegasus(tmp_path, "queue", "--dry-run", "--queue-file", "conf/q.yaml",
                         "--hosts-file", "conf/h.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "job 1 (conf/q.yaml:1)  x=a",
        "  [localhost] echo a",
        "job 2 (conf/q.yaml:1)  x=b",
        "  [localhost] echo b",
        "2 jobs over 1 sub-host, each job run once (nothing consumed)",
    ]


def test_dry_run_of_an_empty_queue_says_zero_jobs(tmp_path):
    (tmp_path / "hosts.yaml").write_text("- localhost\n")
    (tmp_path / "queue.yaml").write_text("# nothing yet\n")
    result = run_pegasus(tmp_path, "q", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0 jobs over 1 sub-host, each job run once (nothing consumed)\n"


def test_dry_run_shows_multi_line_commands_under_their_prefix(tmp_path):
    (tmp_path / "hosts.yaml").write_text("- localhost\n")
    (tmp_path / "queue.yaml").write_text("- |\n  cd /tmp\n  echo {{ hostname }}\n")
    lines = run_pegasus(tmp_path, "q", "--dry-run").stdout.splitlines()
    assert lines[1:3] == ["  [localhost] cd /tmp", "              echo localhost"]
    assert lines[3].startswith("1 job over 1 sub-host")


def test_dry_run_renders_allocated_slots_and_flags_hosts_too_small(tmp_path):
    (tmp_path / "hosts.yaml").write_text("- hostname: big\n  slots: 4\n- small\n")
    (tmp_path / "queue.yaml").write_text(
        "- command: train --gpus {{ slots }}\n  slots: 2\n"
        "- command: huge\n  slots: 8\n")
    result = run_pegasus(tmp_path, "q", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "  [big] train --gpus 0,1" in lines
    assert "  [small] -- not here: the job needs 2 slots, this sub-host has 1" in lines
    assert "  -- no sub-host has 8 slots: this job will be reported as failed" in lines


def test_dry_run_output_into_a_closed_pipe_is_quiet_and_says_so_by_its_status(quiz):
    # The reader left before the dry run was written whole: 141, as a writer
    # that SIGPIPE ended, so that a `pipefail` script knows; no message.
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    (quiz / "queue.yaml").write_text("".join("- echo %d\n" % n for n in range(20000)))
    result = subprocess.run(
        "%s -m pegasus q --dry-run | head -n 1; echo \"status=${PIPESTATUS[0]}\"" % sys.executable,
        shell=True, executable="/bin/bash", cwd=quiz, env=env, capture_output=True, text=True,
        timeout=120, check=False)
    assert result.stdout.splitlines() == ["job 1 (queue.yaml:1)", "status=141"]
    assert result.stderr == ""


def test_dry_run_gives_a_buddy_job_that_fits_nowhere_the_reason_a_run_gives(tmp_path):
    # Three slots, buddy: never on a 4-slot host. A dry run must not show it
    # running there, and must say what the run then says.
    (tmp_path / "hosts.yaml").write_text("- hostname: localhost\n  slots: 4\n")
    (tmp_path / "queue.yaml").write_text(
        "- command: train --gpus {{ slots }}\n  slots: 3\n  allocation_policy: buddy\n")
    reason = "cannot run anywhere: buddy allocation needs a power-of-two slot count, not 3"
    dry = run_pegasus(tmp_path, "q", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert not any(line.startswith("  [localhost] train") for line in lines)
    assert ("  [localhost] -- not here: buddy allocation needs a power-of-two slot count, "
            "not 3") in lines
    assert any(reason in line for line in lines)
    run = run_pegasus(tmp_path, "q")
    assert run.returncode == 1
    assert reason in run.stdout + run.stderr
