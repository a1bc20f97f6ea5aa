"""queue.yaml as a live queue (SPEC §1): taking jobs keeps every other byte,
the rest of an entry goes back on top, consumed.yaml records what was taken."""

import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pegasus.errors import SpecError
from pegasus.queuefile import QueueChanged, QueueFile, replace
from pegasus.queuefile import queue as queuefile
from pegasus.queuefile import text as queuetext
from pegasus.spec import canonical
from pegasus.spec.jobs import Job
from pegasus.spec.validate import validate_text

REPO = Path(__file__).resolve().parent.parent


def write(path, text):
    """Write `path` as a file written a while ago: its last entry has
    settled (queuefile/settle.py), so a take may take it."""
    with open(path, "w", newline="") as stream:
        stream.write(text)
    settled(path)


def settled(path):
    earlier = time.time() - 60
    os.utime(path, (earlier, earlier))


def read(path):
    with open(path, newline="") as stream:
        return stream.read()


def make_queue(tmp_path, text, **kwargs):
    path = tmp_path / "queue.yaml"
    write(path, text)
    return QueueFile(str(path), **kwargs)


class Accepting:
    """A chooser (engine.sources.Chooser) that takes the jobs `accept(job)`
    accepts, up to the first it refuses (FIFO)."""

    def __init__(self, accept):
        self.accept = accept

    def choose(self, candidates):
        count = 0
        for job in candidates:
            if not self.accept(job):
                break
            count += 1
        return count


def take(queue, limit=1, accept=None):
    """Take up to `limit` jobs; `accept(job)` may refuse one (FIFO: taking
    stops there)."""
    with queue.locked():
        return queue.take_locked(limit, Accepting(accept) if accept else None)


def commands(jobs):
    return [job.command for job in jobs]


def remaining(queue):
    return [(job.command, job.params) for job in validate_text(read(queue.path), queue.path)]


# --- taking keeps every other byte ------------------------------------------------------

RICH = """\
# Queue for the sweep
# (comments stay)

- echo first   # a trailing comment

# section two
- command: |
    python train.py \\
      --lr {{ lr }}
  lr: [0.1, 0.01]
- 'quoted: yes'   # kept
- "double \\"quoted\\""
-   command: echo spaced
    gpu: 08
    flag: on
- >-
  folded
  text
# the end
"""


def test_taking_a_bare_entry_removes_only_its_lines(tmp_path):
    queue = make_queue(tmp_path, RICH)
    assert commands(take(queue)) == ["echo first"]
    assert read(queue.path) == RICH.replace("- echo first   # a trailing comment\n", "")


def test_rest_of_a_multi_job_entry_replaces_it_in_canonical_form(tmp_path):
    queue = make_queue(tmp_path, RICH)
    take(queue)
    [job] = take(queue)
    assert (job.command, job.params) == ("python train.py \\\n  --lr {{ lr }}\n", {"lr": "0.1"})
    assert read(queue.path) == RICH.replace(
        "- echo first   # a trailing comment\n", "").replace(
        "  lr: [0.1, 0.01]\n", "  lr: 0.01\n")


def test_taking_every_job_leaves_the_comments_and_blank_lines(tmp_path):
    queue = make_queue(tmp_path, RICH)
    taken = []
    while True:
        jobs = take(queue)
        if not jobs:
            break
        taken.extend(jobs)
    assert [(job.command, job.params) for job in taken] == [
        ("echo first", {}),
        ("python train.py \\\n  --lr {{ lr }}\n", {"lr": "0.1"}),
        ("python train.py \\\n  --lr {{ lr }}\n", {"lr": "0.01"}),
        ("quoted: yes", {}),
        ('double "quoted"', {}),
        ("echo spaced", {"gpu": "08", "flag": "on"}),
        ("folded text", {}),
    ]
    assert read(queue.path) == (
        "# Queue for the sweep\n# (comments stay)\n\n\n# section two\n# the end\n")


def test_rest_goes_back_in_expansion_order_command_first(tmp_path):
    queue = make_queue(tmp_path, "- x: [1, 2]\n  command: [a, b]\n  y: z\n- next\n")
    assert [(job.command, job.params) for job in take(queue)] == [("a", {"x": "1", "y": "z"})]
    assert read(queue.path) == (
        "- command: b\n  x: 1\n  y: z\n"
        "- command: a\n  x: 2\n  y: z\n"
        "- command: b\n  x: 2\n  y: z\n"
        "- next\n")


def test_rest_of_a_multi_line_command_goes_back_as_a_literal_block(tmp_path):
    queue = make_queue(tmp_path, "- command: \"echo a\\necho b\"\n  x: [1, 2]\n")
    take(queue)
    assert read(queue.path) == "- command: |-\n    echo a\n    echo b\n  x: 2\n"


def test_indented_root_list_keeps_its_indentation(tmp_path):
    queue = make_queue(tmp_path, "  - a\n  - command: [b, c]\n    x: 1\n  - d\n")
    assert commands(take(queue, 2)) == ["a", "b"]
    assert read(queue.path) == "  - command: c\n    x: 1\n  - d\n"


def test_file_without_trailing_newline(tmp_path):
    queue = make_queue(tmp_path, "- a\n- command: [b, c]")
    take(queue)
    assert read(queue.path) == "- command: [b, c]"
    take(queue)
    assert read(queue.path) == "- command: c\n"
    take(queue)
    assert read(queue.path) == ""


def test_crlf_file_keeps_crlf_line_ends(tmp_path):
    queue = make_queue(tmp_path, "# c\r\n- a\r\n- command: [b, c]\r\n- d\r\n")
    take(queue)
    assert read(queue.path) == "# c\r\n- command: [b, c]\r\n- d\r\n"
    take(queue)
    assert read(queue.path) == "# c\r\n- command: c\r\n- d\r\n"


def test_blank_line_after_a_block_scalar_stays(tmp_path):
    queue = make_queue(tmp_path, "- |\n  echo a\n\n# next\n- b\n")
    assert commands(take(queue)) == ["echo a\n"]
    assert read(queue.path) == "\n# next\n- b\n"


def test_kept_blank_lines_of_a_block_scalar_go_with_it(tmp_path):
    queue = make_queue(tmp_path, "- |+\n  echo a\n\n# next\n- b\n")
    assert commands(take(queue)) == ["echo a\n\n"]
    assert read(queue.path) == "# next\n- b\n"


def test_document_markers_stay(tmp_path):
    queue = make_queue(tmp_path, "---\n- a\n- b\n...\n")
    take(queue)
    assert read(queue.path) == "---\n- b\n...\n"


def test_batch_take_spans_several_entries_keeping_what_lies_between(tmp_path):
    queue = make_queue(tmp_path, "- a\n# one\n- command: [b, c, d]\n\n- e\n")
    assert commands(take(queue, 3)) == ["a", "b", "c"]
    assert read(queue.path) == "# one\n- command: d\n\n- e\n"
    assert commands(take(queue, 5)) == ["d", "e"]
    assert read(queue.path) == "# one\n\n"


def test_accept_refusing_a_job_stops_taking_in_fifo_order(tmp_path):
    queue = make_queue(tmp_path, "- a\n- command: b\n  slots: 4\n- c\n")
    before = read(queue.path)
    taken = take(queue, 3, accept=lambda job: job.slots == 1)
    assert commands(taken) == ["a"]
    assert read(queue.path) == "- command: b\n  slots: 4\n- c\n"
    assert take(queue, 3, accept=lambda job: job.slots == 1) == []
    assert read(queue.path) == before.replace("- a\n", "")


def test_accept_may_stop_inside_a_multi_job_entry(tmp_path):
    queue = make_queue(tmp_path, "- command: [a, b, c]\n")
    seen = []

    def accept(job):
        seen.append(job.command)
        return len(seen) <= 2

    assert commands(take(queue, 5, accept)) == ["a", "b"]
    assert read(queue.path) == "- command: c\n"


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "[]\n", "[]", "~\n", "---\n"])
def test_empty_queue_gives_nothing_and_changes_nothing(tmp_path, text):
    queue = make_queue(tmp_path, text)
    assert take(queue, 5) == []
    assert read(queue.path) == text
    assert not os.path.exists(queue.consumed_path)


def test_bad_yaml_is_an_error_and_changes_nothing(tmp_path):
    queue = make_queue(tmp_path, "- a\n- 'b\n")
    with pytest.raises(SpecError) as info:
        take(queue)
    assert "queue.yaml:2:" in str(info.value)
    assert read(queue.path) == "- a\n- 'b\n"
    assert not os.path.exists(queue.consumed_path)


def test_bad_entry_further_down_is_found_before_taking(tmp_path):
    queue = make_queue(tmp_path, "- a\n- b\n- command: c\n  timeout: never\n")
    with pytest.raises(SpecError) as info:
        take(queue)
    assert "queue.yaml:4:" in str(info.value)
    assert not os.path.exists(queue.consumed_path)


def test_messages_name_the_queue_as_the_user_wrote_it(tmp_path):
    os.mkdir(tmp_path / "real")
    write(tmp_path / "real" / "q.yaml", "- a\n- 'b\n")
    os.symlink("real/q.yaml", tmp_path / "queue.yaml")
    queue = QueueFile(str(tmp_path / "queue.yaml"))
    with pytest.raises(SpecError) as info:
        queue.check(queue.read())
    assert str(info.value).startswith(str(tmp_path / "queue.yaml") + ":2:")


# --- files that cannot be edited in place --------------------------------------------------

def test_flow_style_root_list_is_rewritten_with_the_right_jobs(tmp_path):
    queue = make_queue(tmp_path, "[a, {command: [b, c], x: 1}, d]\n")
    assert commands(take(queue, 2)) == ["a", "b"]
    assert remaining(queue) == [("c", {"x": "1"}), ("d", {})]
    assert commands(take(queue)) == ["c"]
    assert remaining(queue) == [("d", {})]


def test_anchors_and_aliases_are_rewritten_with_the_right_jobs(tmp_path):
    queue = make_queue(tmp_path, "- &hi echo hi\n- command: *hi\n  x: [1, 2]\n- *hi\n")
    assert commands(take(queue)) == ["echo hi"]
    assert remaining(queue) == [("echo hi", {"x": "1"}), ("echo hi", {"x": "2"}),
                                ("echo hi", {})]
    assert commands(take(queue, 2)) == ["echo hi", "echo hi"]
    assert remaining(queue) == [("echo hi", {})]


def test_comment_between_dash_and_entry_is_rewritten_with_the_right_jobs(tmp_path):
    queue = make_queue(tmp_path, "- # note\n  command: [a, b]\n- c\n")
    assert commands(take(queue)) == ["a"]
    assert remaining(queue) == [("b", {}), ("c", {})]


# --- consumed.yaml ----------------------------------------------------------------------------

def test_each_taken_job_is_appended_to_consumed_in_canonical_form(tmp_path):
    queue = make_queue(tmp_path, "- a\n- command: 'run {{ x }}'\n  x: [1, 'two words']\n")
    take(queue)
    take(queue, 2)
    assert read(queue.consumed_path) == (
        "- command: a\n"
        "- command: run {{ x }}\n  x: 1\n"
        "- command: run {{ x }}\n  x: two words\n")
    assert queue.consumed_path == str(tmp_path / "consumed.yaml")


def test_consumed_file_can_be_named(tmp_path):
    other = tmp_path / "log" / "done.yaml"
    os.mkdir(other.parent)
    queue = make_queue(tmp_path, "- a\n", consumed_path=str(other))
    take(queue)
    assert read(other) == "- command: a\n"
    assert not os.path.exists(tmp_path / "consumed.yaml")


def test_consumed_file_without_final_newline_gets_one_before_the_append(tmp_path):
    write(tmp_path / "consumed.yaml", "- command: old")
    queue = make_queue(tmp_path, "- a\n")
    take(queue)
    assert read(queue.consumed_path) == "- command: old\n- command: a\n"


@pytest.mark.parametrize("swap", ["exchange", "replace"])
def test_consumed_is_written_before_the_queue_is_replaced(tmp_path, swap):
    # The runner dies at the swap: the job is recorded and still queued; the
    # next holder of the lock sees the take never happened and takes the
    # record back, so the job is then recorded once, when it is taken.
    write(tmp_path / "queue.yaml", "- a\n- b\n")
    code = ("import os, sys\n"
            "from pegasus.queuefile import QueueFile, replace\n"
            "replace.exchange = lambda *a: %s\n"
            "os.replace = lambda *a: os._exit(9)\n"
            "queue = QueueFile(sys.argv[1])\n"
            "with queue.locked(): queue.take_locked(1)\n"
            % ("os._exit(9)" if swap == "exchange" else "False"))
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "queue.yaml")],
                            env=dict(os.environ, PYTHONPATH=str(REPO)), check=False)
    assert result.returncode == 9
    assert read(tmp_path / "consumed.yaml") == "- command: a\n"
    assert read(tmp_path / "queue.yaml") == "- a\n- b\n"
    queue = QueueFile(str(tmp_path / "queue.yaml"))
    assert commands(take(queue)) == ["a"]
    assert read(tmp_path / "consumed.yaml") == "- command: a\n"
    assert read(tmp_path / "queue.yaml") == "- b\n"


def test_a_take_whose_replace_fails_leaves_no_record(tmp_path, monkeypatch):
    queue = make_queue(tmp_path, "- old\n")
    take(queue)
    write(queue.path, "- a\n- b\n")

    def fail(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(queuefile.os, "replace", fail)
    monkeypatch.setattr(replace, "exchange", fail)
    with pytest.raises(OSError):
        take(queue)
    assert read(queue.consumed_path) == "- command: old\n"
    assert read(queue.path) == "- a\n- b\n"
    assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")] == []


def test_a_take_racing_an_unlocked_append_records_each_job_once(tmp_path, monkeypatch):
    # `echo ... >> queue.yaml` lands while a take is under way: the take is
    # abandoned and tried again, and the job it then takes is recorded once.
    queue = make_queue(tmp_path, "- a\n- b\n")
    real_mkstemp = tempfile.mkstemp
    raced: list = []

    def racing_mkstemp(*args, **kwargs):
        if not raced:
            raced.append(True)
            with open(queue.path, "a") as stream:
                stream.write("- c\n")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(replace.tempfile, "mkstemp", racing_mkstemp)
    with pytest.raises(QueueChanged):
        take(queue)
    assert commands(take(queue)) == ["a"]
    assert read(queue.consumed_path) == "- command: a\n"
    assert read(queue.path) == "- b\n- c\n"


def test_a_piece_landing_during_a_take_comes_before_the_writers_next_one(tmp_path, monkeypatch):
    # A writer's first piece lands in the old file after the take read it,
    # just before the swap; its next piece goes to the new queue.yaml. The
    # first must reach the new file first: the take moves it at once.
    queue = make_queue(tmp_path, "- a\n")
    real_exchange = replace.exchange
    raced: list = []

    def racing_exchange(first, second):
        if not raced:
            raced.append(True)
            with open(second, "a") as stream:
                stream.write("- |\n  echo one\n")
        return real_exchange(first, second)

    monkeypatch.setattr(replace, "exchange", racing_exchange)
    assert commands(take(queue)) == ["a"]
    with open(queue.path, "a") as stream:
        stream.write("  echo two\n")
    settled(queue.path)
    assert [job.command for job in take(queue)] == ["echo one\necho two\n"]


def test_an_editor_renaming_a_stale_version_over_the_queue_loses_no_append(tmp_path):
    # An append that pegasus moved into the queue (from a file kept for its
    # writer) after an editor read the queue, and carried through a take:
    # the editor's file, renamed over the queue, lacks it; it is added back.
    queue = make_queue(tmp_path, "- a\n- z\n")
    with open(queue.path, "a") as writer:
        assert commands(take(queue)) == ["a"]
        writer.write("- b\n")   # to the replaced file, which pegasus keeps
    with queue.locked():
        pass                    # moved to queue.yaml
    assert read(queue.path) == "- z\n- b\n"
    stale = "- z\n"              # what the editor read, before that
    settled(queue.path)
    assert commands(take(queue)) == ["z"]
    write(tmp_path / "edited.yaml", stale + "- c\n")
    os.replace(tmp_path / "edited.yaml", queue.path)
    with queue.locked():
        pass
    assert read(queue.path) == "- z\n- c\n- b\n"   # z again: never lost, maybe twice


# --- the last entry, still being written (queuefile/settle.py) ------------------------------

@pytest.mark.parametrize("text, start", [
    ("", None), ("# only a comment\n", None), ("[a, b]\n", None), ("x: 1\n", None),
    ("- a\n", 0), ("- a\n- b\n  x: 1\n", 4), ("# h\n---\n- a\n-\n", 12),
    ("  - a\n  - b\n", 6), ("- |\n  - x\n- b", 10), ("- a\n-b\n", 0), ("- a\n-", 4),
    ("- a\r\n- b\r\n", 5)])
def test_the_last_entry_starts_at_the_last_dash_of_the_list(text, start):
    assert queuetext.last_entry_start(text) == start


def test_a_last_entry_just_written_waits_and_one_written_earlier_does_not(tmp_path):
    path = tmp_path / "queue.yaml"
    with open(path, "w") as stream:
        stream.write("- a\n- b\n")
    queue = QueueFile(str(path))
    assert commands(take(queue, 5)) == ["a"]   # b was written just now
    assert queue.unsettled is not None and not queue.unsettled.held
    settled(path)
    assert commands(take(queue, 5)) == ["b"]


def test_taking_from_the_last_entry_does_not_make_it_wait_again(tmp_path):
    # pegasus writes the rest of the entry back: nobody is writing it.
    queue = make_queue(tmp_path, "- command: echo {{ x }}\n  x: [1, 2, 3]\n")
    assert len(take(queue)) == 1
    assert len(take(queue)) == 1
    assert queue.unsettled is None


def test_a_last_line_without_newline_waits_while_its_writer_holds_the_file(tmp_path):
    queue = make_queue(tmp_path, "- a\n- echo hel")
    with open(queue.path, "a") as writer:
        settled(queue.path)
        assert commands(take(queue, 5)) == ["a"]
        assert queue.unsettled is not None and queue.unsettled.held
        writer.write("lo\n")
    with queue.locked():
        pass  # the next holder of the lock moves the rest of the line to queue.yaml
    settled(queue.path)
    assert commands(take(queue, 5)) == ["echo hello"]


def test_a_last_line_without_newline_nobody_writes_is_taken(tmp_path):
    queue = make_queue(tmp_path, "- a\n- b")
    assert commands(take(queue, 5)) == ["a", "b"]


def test_tail_of_consumed_requeues_a_single_line_entry(tmp_path):
    queue = make_queue(tmp_path, "- echo one\n- command: sleep {{ t }}\n  t: 5\n- echo three\n")
    take(queue, 2)
    assert read(queue.path) == "- echo three\n"
    subprocess.run(["sh", "-c", "tail -n 2 consumed.yaml >> queue.yaml"], cwd=tmp_path,
                   check=True)
    settled(queue.path)
    assert read(queue.path) == "- echo three\n- command: sleep {{ t }}\n  t: 5\n"
    assert remaining(queue) == [("echo three", {}), ("sleep {{ t }}", {"t": "5"})]
    assert commands(take(queue, 5)) == ["echo three", "sleep {{ t }}"]


def test_tail_of_consumed_requeues_a_bare_entry(tmp_path):
    queue = make_queue(tmp_path, "- \"echo 'a: b'\"\n- b\n")
    take(queue)
    subprocess.run(["sh", "-c", "tail -n 1 consumed.yaml >> queue.yaml"], cwd=tmp_path,
                   check=True)
    assert remaining(queue) == [("b", {}), ("echo 'a: b'", {})]


# --- replacing the file ----------------------------------------------------------------------

def test_symlinked_queue_is_followed_and_the_link_stays(tmp_path):
    os.mkdir(tmp_path / "real")
    write(tmp_path / "real" / "q.yaml", "- a\n- b\n")
    os.symlink("real/q.yaml", tmp_path / "queue.yaml")
    queue = QueueFile(str(tmp_path / "queue.yaml"))
    take(queue)
    assert os.path.islink(tmp_path / "queue.yaml")
    assert read(tmp_path / "real" / "q.yaml") == "- b\n"
    assert os.path.exists(tmp_path / "real" / "q.yaml.lock")
    assert os.path.exists(tmp_path / "real" / "consumed.yaml")


def test_queue_keeps_its_permissions(tmp_path):
    queue = make_queue(tmp_path, "- a\n- b\n")
    os.chmod(queue.path, 0o640)
    take(queue)
    assert stat.S_IMODE(os.stat(queue.path).st_mode) == 0o640


def test_replacement_leaves_no_temporary_file(tmp_path):
    queue = make_queue(tmp_path, "- a\n- b\n")
    take(queue)
    # The state directory holds the files replaced queue files are kept in.
    assert sorted(os.listdir(tmp_path)) == [
        ".queue.yaml.pegasus", "consumed.yaml", "queue.yaml", "queue.yaml.lock"]


def test_lock_is_held_against_other_processes(tmp_path):
    queue = make_queue(tmp_path, "- a\n")
    code = ("import sys, fasteners\n"
            "lock = fasteners.InterProcessLock(sys.argv[1])\n"
            "print(lock.acquire(blocking=False))\n")
    probe = [sys.executable, "-c", code, queue.lock_path]
    with queue.locked():
        held = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
    free = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
    assert (held.strip(), free.strip()) == ("False", "True")
    assert os.path.exists(queue.lock_path)


# --- validation only when someone else wrote the file ---------------------------------------

def test_large_queue_is_validated_once_while_only_this_object_writes_it(tmp_path):
    calls = []

    def validator(text, path):
        calls.append(len(text))
        return validate_text(text, path)

    text = "".join("- echo %d\n" % number for number in range(10000))
    queue = make_queue(tmp_path, text, validator=validator)
    taken = []
    for _ in range(20):
        taken.extend(take(queue, 3))
    assert commands(taken) == ["echo %d" % number for number in range(60)]
    assert len(calls) == 1
    with open(queue.path, "a") as stream:
        stream.write("- added by hand\n")
    settled(queue.path)
    take(queue)
    assert len(calls) == 2
    take(queue)
    assert len(calls) == 2
    assert read(queue.path).endswith("- echo 9999\n- added by hand\n")


def test_a_runner_checks_its_queue_once_before_its_first_take(tmp_path, monkeypatch):
    from pegasus.cli import parser as cli
    from pegasus.modes import run
    from pegasus.spec import validate
    calls = []
    original = validate.QueueValidator.__call__

    def counting(self, text, path):
        calls.append(path)
        return original(self, text, path)

    monkeypatch.setattr(validate.QueueValidator, "__call__", counting)
    path = tmp_path / "queue.yaml"
    write(path, "".join("- echo %d\n" % number for number in range(1000)))
    loaded = run.load(cli.parse_args(["q", "-w", "localhost", "-Q", str(path)]))
    assert loaded.queue is not None
    assert len(calls) == 1
    assert commands(take(loaded.queue, 2)) == ["echo 0", "echo 1"]
    assert len(calls) == 1, "the first take checked the whole file again"
    assert loaded.queue.left == 998


def test_an_entry_of_the_most_jobs_goes_back_whole_after_one_take(tmp_path):
    text = "# before\n- command: run {{ a }} {{ b }}\n  a: [%s]\n  b: [%s]\n- after\n" % (
        ", ".join(str(n) for n in range(1000)), ", ".join(str(n) for n in range(100)))
    queue = make_queue(tmp_path, text)
    [job] = take(queue)
    assert (job.command, job.params) == ("run {{ a }} {{ b }}", {"a": "0", "b": "0"})
    left = read(queue.path)
    assert left.startswith("# before\n- command: run {{ a }} {{ b }}\n  a: 0\n  b: 1\n")
    assert left.endswith("- command: run {{ a }} {{ b }}\n  a: 999\n  b: 99\n- after\n")
    assert left.count("- command: ") == 99999
    assert len(validate_text(left, "queue.yaml")) == 100000


def test_taking_from_a_large_queue_parses_only_its_head(tmp_path, monkeypatch):
    text = "".join("- echo %d\n" % number for number in range(10000))
    queue = make_queue(tmp_path, text)
    take(queue)  # validates the whole file once
    composed = []
    original = queuetext._head_loader

    def counting_loader(source):
        loader = original(source)
        composed.append(loader)
        return loader

    monkeypatch.setattr(queuetext, "_head_loader", counting_loader)
    monkeypatch.setattr(queuetext.yamlfile, "compose",
                        lambda *args: pytest.fail("the whole file was parsed"))
    take(queue)
    assert len(composed) == 1
    assert read(queue.path).startswith("- echo 2\n")


# --- putting back -------------------------------------------------------------------------------

def test_put_back_puts_jobs_at_the_top_below_leading_comments(tmp_path):
    queue = make_queue(tmp_path, "# head\n\n- a\n- b\n")
    with queue.locked():
        queue.put_back_locked([Job("x", {"p": "1"}), Job("y\nz\n")])
    assert read(queue.path) == (
        "# head\n\n- command: x\n  p: 1\n- command: |\n    y\n    z\n- a\n- b\n")
    assert commands(take(queue, 2)) == ["x", "y\nz\n"]


@pytest.mark.parametrize("text, expected", [
    ("", "- command: x\n"),
    ("# c\n", "# c\n- command: x\n"),
    ("[]\n", "- command: x\n"),
    ("~\n", "- command: x\n"),
    ("  - a\n", "  - command: x\n  - a\n"),
    ("- a", "- command: x\n- a"),
    ("- a\r\n", "- command: x\r\n- a\r\n"),
])
def test_put_back_into_any_queue_gives_valid_yaml(tmp_path, text, expected):
    queue = make_queue(tmp_path, text)
    with queue.locked():
        queue.put_back_locked([Job("x")])
    assert read(queue.path) == expected
    assert remaining(queue)[0] == ("x", {})


def test_put_back_into_a_flow_list_rewrites_it(tmp_path):
    queue = make_queue(tmp_path, "[a, b]\n")
    with queue.locked():
        queue.put_back_locked([Job("x")])
    assert remaining(queue) == [("x", {}), ("a", {}), ("b", {})]


# --- property: taking everything gives every job, in order, and leaves the comments -----------

WORDS = st.sampled_from(["a", "echo hi", "run {{ x }}", "08", "on", "x: y", "it's", "#", "- z",
                         "", " pad ", "a\nb", "a\nb\n", "ü"])
NAMES = st.sampled_from(["x", "gpu", "lr", "slots", "timeout"])
SEPARATORS = st.sampled_from(["", "\n", "# note\n", "\n# - old entry\n\n", "#\n\n\n"])


def _values(key):
    if key == "slots":
        return st.lists(st.sampled_from(["1", "2"]), min_size=1, max_size=3)
    if key == "timeout":
        return st.lists(st.sampled_from(["5", "1.5"]), min_size=1, max_size=3)
    return st.lists(WORDS, min_size=1, max_size=3)


@st.composite
def entry_texts(draw):
    """One queue.yaml entry, in one of the styles people write."""
    commands = draw(st.lists(WORDS.filter(lambda w: w.strip()), min_size=1, max_size=3))
    keys = draw(st.lists(NAMES, unique=True, max_size=2))
    params = {key: draw(_values(key)) for key in keys}
    style = draw(st.sampled_from(["bare", "flow", "block", "scalars"]))
    comment = draw(st.sampled_from(["", "  # trailing"]))
    if style == "bare" or (style == "scalars" and not params):
        return "- %s%s\n" % (canonical.scalar(commands[0], 0), comment)
    lines = []
    for number, (key, values) in enumerate([("command", commands)] + list(params.items())):
        lead = "- " if number == 0 else "  "
        if style == "scalars":
            lines.append("%s%s: %s\n" % (lead, key, canonical.scalar(values[0], 2)))
        elif style == "flow" and all(canonical.scalar(v, 2) == v and not set(v) & set("{}[],#")
                                     for v in values):
            lines.append("%s%s: [%s]\n" % (lead, key, ", ".join(values)))
        else:
            lines.append("%s%s:\n" % (lead, key))
            lines.extend("    - %s\n" % canonical.scalar(v, 6) for v in values)
    lines[-1] = lines[-1][:-1] + (comment if not lines[-1].rstrip().endswith(("|", "|-")) and
                                  "\n" not in lines[-1][:-1] else "") + "\n"
    return "".join(lines)


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.tuples(SEPARATORS, entry_texts()), max_size=6), SEPARATORS,
       st.lists(st.integers(1, 4), min_size=1, max_size=5), st.booleans())
def test_taking_everything_gives_every_job_in_order_and_keeps_the_comments(
        entries, tail, sizes, crlf):
    text = "".join(separator + entry for separator, entry in entries) + tail
    if crlf:
        text = text.replace("\n", "\r\n")
    expected = [(job.command, job.params) for job in validate_text(text, "queue.yaml")]
    with tempfile.TemporaryDirectory() as directory:
        queue = make_queue(Path(directory), text)
        taken: List[Tuple[str, Dict[str, str]]] = []
        for round_number in range(len(expected) + 1):
            jobs = take(queue, sizes[round_number % len(sizes)])
            if not jobs:
                break
            taken.extend((job.command, job.params) for job in jobs)
            validate_text(read(queue.path), "queue.yaml")  # valid at every step
        assert taken == expected
        left = read(queue.path)
        comments = [line.strip() for line in text.splitlines() if line.strip().startswith("#")]
        assert [line.strip() for line in left.splitlines() if line.strip()] == comments
        consumed = validate_text(read(queue.consumed_path), "consumed.yaml") if expected else []
        assert [(job.command, job.params) for job in consumed] == expected
