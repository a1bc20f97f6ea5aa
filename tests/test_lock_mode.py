"""Lock mode and the live queue: editing under the lock, appends from
scripts, and several runners sharing one queue."""

import collections
import os
import pty
import select
import signal
import subprocess
import time

import fasteners
import psutil
import pytest
from helpers.runpegasus import Workspace, environment, wait_for
from helpers.tmuxscreen import Screen, have_tmux


@pytest.fixture
def work(tmp_path, sshd):
    return Workspace(tmp_path, sshd.config)


@pytest.fixture
def tmux():
    """A private tmux window to run pegasus in, stopped after the test."""
    screens = []

    def open_screen(width=100, height=30):
        screens.append(Screen(width, height))
        return screens[-1]

    yield open_screen
    for each in screens:
        each.stop()


def _editor(work, body, name="editor.sh"):
    """An 'editor': a shell script given the file to edit as $1."""
    return "sh " + work.write(name, body)


def _lock_is_free(work):
    lock = fasteners.InterProcessLock(work.file("queue.yaml.lock"))
    if lock.acquire(blocking=False):
        lock.release()
        return True
    return False


def test_the_lock_blocks_taking_but_not_running_jobs(work):
    work.hosts("- node-1\n")
    work.queue("- touch {d}/a-started; while [ ! -e {d}/go ]; do sleep 0.05; done;"
               " touch {d}/a-done\n"
               "- touch {d}/b-done\n".format(d=work.path))
    runner = work.start("q")
    try:
        wait_for(lambda: work.exists("a-started"))
        editor = work.start("l", "--editor", _editor(
            work, "touch %s/editing; while [ ! -e %s/release ]; do sleep 0.05; done\n"
            % (work.path, work.path)))
        wait_for(lambda: work.exists("editing"))
        assert not _lock_is_free(work)
        open(work.file("go"), "w").close()
        wait_for(lambda: work.exists("a-done"))  # a running job finishes meanwhile
        time.sleep(1.0)  # the runner is free now, but must not take job B
        assert not work.exists("b-done")
        assert "b-done" in work.read("queue.yaml")
        open(work.file("release"), "w").close()
        assert editor.wait(timeout=30) == 0
        wait_for(lambda: work.exists("b-done"))
    finally:
        _out, err = runner.communicate(timeout=60)
    assert runner.returncode == 0, err


BROKEN = "- echo fine\n- [unclosed\n"


def test_an_invalid_edit_is_reported_and_restored_on_request(work):
    original = "- echo one\n# keep\n"
    work.queue(original)
    editor = _editor(work, "printf '%s' '{}' > \"$1\"\n".format(BROKEN))
    result = work.run("l", "--editor", editor, "--on-invalid", "restore")
    assert result.returncode == 2
    assert "queue.yaml:2:" in result.stderr
    assert "restored" in result.stderr
    assert work.read("queue.yaml") == original
    assert _lock_is_free(work)


def test_an_invalid_edit_is_kept_by_default_off_a_terminal(work):
    work.queue("- echo one\n")
    editor = _editor(work, "printf '%s' '{}' > \"$1\"\n".format(BROKEN))
    result = work.run("l", "--editor", editor)
    assert result.returncode == 2
    assert "queue.yaml:2:" in result.stderr
    assert "runners take nothing" in result.stderr
    assert work.read("queue.yaml") == BROKEN


# --- what scripts append while someone edits ----------------------------------------

# The 'editor' writes its text in place, or as a new file renamed over the
# one it was given; before or after a script appends to queue.yaml (the
# test, meanwhile, with `>>`).
EDIT_IN_PLACE = "printf '%s' '{text}' > \"$1\"\n"
EDIT_BY_RENAME = "printf '%s' '{text}' > \"$1.new\"; mv \"$1.new\" \"$1\"\n"
WAIT_FOR_APPEND = ("touch {d}/editing; while [ ! -e {d}/appended ]; do sleep 0.02; done\n")


def _append_while_editing(work, process, log):
    wait_for(lambda: work.exists("editing"))
    subprocess.run(["sh", "-c", "echo '- echo x >> %s' >> queue.yaml" % log], cwd=work.path,
                   check=True)
    open(work.file("appended"), "w").close()


def _ran(work, log):
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    with open(log) as stream:
        return stream.read().split()


@pytest.mark.parametrize("edit, first, answer, status, kept", [
    (EDIT_IN_PLACE, "edit", "restore", 2, False),
    (EDIT_BY_RENAME, "edit", "restore", 2, False),
    (EDIT_IN_PLACE, "append", "restore", 0, True),   # a valid edit saved after the append
    (EDIT_IN_PLACE, "append", "keep", 2, True),
], ids=["restored in place", "restored renamed", "valid saved after", "invalid kept"])
def test_what_is_appended_during_an_edit_is_kept(work, edit, first, answer, status, kept):
    log = work.file("log")
    work.hosts("- node-1\n")
    work.queue("- echo one >> %s\n" % log)
    text = ("- echo edited >> %s\n" % log) if status == 0 else BROKEN
    steps = [edit.format(text=text), WAIT_FOR_APPEND.format(d=work.path)]
    editor = _editor(work, "".join(steps if first == "edit" else steps[::-1]))
    process = work.start("l", "--editor", editor, "--on-invalid", answer)
    _append_while_editing(work, process, log)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == status, err
    edited = ("- echo edited >> %s\n" % log) if status == 0 else BROKEN
    before = edited if kept else "- echo one >> %s\n" % log
    assert work.read("queue.yaml") == before + "- echo x >> %s\n" % log
    if status == 0 or not kept:
        assert _ran(work, log) == (["edited"] if kept else ["one"]) + ["x"]


def _until_prompt(master):
    """What pegasus l wrote to its terminal up to its question after an invalid
    edit."""
    seen = b""
    while b"(e)dit again" not in seen:
        ready, _, _ = select.select([master], [], [], 30)
        assert ready, seen
        seen += os.read(master, 4096)
    return seen


def test_an_append_while_the_user_decides_survives_restoring(work):
    # Answering "r" at the prompt, after a script appended meanwhile.
    log = work.file("log")
    work.queue("- echo one >> %s\n" % log)
    work.hosts("- node-1\n")
    editor = _editor(work, EDIT_IN_PLACE.format(text=BROKEN))
    master, slave = pty.openpty()
    process = subprocess.Popen(work.argv("l", "--editor", editor), cwd=work.path,
                               env=environment(), stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    try:
        _until_prompt(master)
        subprocess.run(["sh", "-c", "echo '- echo x >> %s' >> queue.yaml" % log],
                       cwd=work.path, check=True)
        os.write(master, b"r\n")
        assert process.wait(timeout=30) == 2
    finally:
        os.close(master)
    assert work.read("queue.yaml") == "- echo one >> %s\n- echo x >> %s\n" % (log, log)
    assert _ran(work, log) == ["one", "x"]


def test_on_a_terminal_an_invalid_edit_can_be_edited_again(work):
    work.queue("- echo one\n")
    counter = work.file("count")
    editor = _editor(work, (
        "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}\n"
        "if [ $n = 1 ]; then printf '%s' '{broken}' > \"$1\"; "
        "else printf -- '- echo fixed\\n' > \"$1\"; fi\n").format(c=counter, broken=BROKEN))
    master, slave = pty.openpty()
    process = subprocess.Popen(work.argv("l", "--editor", editor), cwd=work.path,
                               env=environment(), stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    try:
        seen = _until_prompt(master)
        assert b"queue.yaml:2:" in seen
        os.write(master, b"e\n")
        assert process.wait(timeout=30) == 0
    finally:
        os.close(master)
    assert work.read("count").strip() == "2"
    assert work.read("queue.yaml") == "- echo fixed\n"


def test_an_editor_that_cannot_start_is_reported_and_the_lock_released(work):
    work.queue("- echo one\n")
    result = work.run("l", "--editor", "/no/such/editor --wait")
    assert result.returncode == 2   # a usage error: nothing was done
    assert "cannot start the editor '/no/such/editor': No such file or directory" \
        in result.stderr
    assert _lock_is_free(work)
    assert work.read("queue.yaml") == "- echo one\n"
    env = environment(PATH="/nonexistent")
    env.pop("VISUAL", None)
    env.pop("EDITOR", None)
    result = subprocess.run([os.path.realpath(work.argv("l")[0]), "l"], cwd=work.path, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert "cannot start the editor 'vi'" in result.stderr


@pytest.mark.parametrize("how, said", [("exit 3", "exited with status 3"),
                                       ("kill -TERM $$", "was killed by SIGTERM")])
def test_an_editor_that_fails_leaves_the_queue_as_it_was_and_pegasus_l_fails(work, how, said):
    original = "- echo one\n# keep\n"
    work.queue(original)
    editor = _editor(work, "printf -- '- echo half-done\\n' > \"$1\"\n%s\n" % how)
    result = work.run("l", "--editor", editor)
    assert result.returncode == 1
    # The editor edits a copy (queuefile/editing.py): queue.yaml was never touched.
    assert "pegasus: the editor %s: queue.yaml is unchanged, the edit is dropped" % said \
        in result.stderr
    assert work.read("queue.yaml") == original
    assert _lock_is_free(work)
    untouched = _editor(work, "exit 4\n", "fails.sh")
    result = work.run("l", "--editor", untouched)
    assert result.returncode == 1
    assert "pegasus: the editor exited with status 4: queue.yaml is unchanged" in result.stderr
    assert work.read("queue.yaml") == original


@pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")
def test_a_ctrl_c_typed_in_the_editor_is_the_editors_not_pegasus_ls(work, tmux):
    # An editor that leaves the terminal's signals on (ed, a script) gets the
    # SIGINT of a Ctrl-C, and so did pegasus, which killed it mid-edit.
    work.queue("- echo one\n")
    go = work.file("go")
    editor = _editor(work, (
        "trap 'echo interrupted' INT\necho editing\n"
        "while [ ! -e {go} ]; do sleep 0.05; done\n"
        "printf -- '- echo edited\\n' > \"$1\"\n").format(go=go))
    screen = tmux()
    screen.start(work.argv("l", "--editor", editor), work.path, environment())
    screen.wait_for(lambda rows: "editing" in rows)
    screen.send_keys("C-c")
    screen.wait_for(lambda rows: any(row.endswith("interrupted") for row in rows))
    open(go, "w").close()
    assert screen.exit_status() == 0
    assert work.read("queue.yaml") == "- echo edited\n"


def test_the_editor_command_is_split_like_a_shell_and_not_run_by_one(work):
    work.queue("- echo one\n")
    script = work.write("my editor.sh", 'printf "%s|" "$@" > {}\n'.format(work.file("argv")))
    result = work.run("l", "--editor", "sh '%s' --wait '$HOME'" % script)
    assert result.returncode == 0, result.stderr
    # The editor edits a copy of queue.yaml, under its name (scripts go on
    # appending to queue.yaml meanwhile).
    assert work.read("argv") == "--wait|$HOME|%s|" % os.path.join(
        os.path.realpath(work.path), ".queue.yaml.pegasus", "edit", "queue.yaml")


def test_visual_wins_over_editor(work):
    work.queue("- echo one\n")
    visual = _editor(work, "touch %s/visual\n" % work.path, "v.sh")
    plain = _editor(work, "touch %s/editor\n" % work.path, "e.sh")
    result = work.run("l", env=environment(VISUAL=visual, EDITOR=plain))
    assert result.returncode == 0
    assert work.exists("visual") and not work.exists("editor")


def test_append_is_validated_first_and_changes_nothing_when_bad(work):
    work.queue("# mine\n- echo one\n")
    result = work.run("l", "--append", "echo ok", "--append", "echo {{ broken")
    assert result.returncode == 2
    assert "--append #2" in result.stderr
    assert work.read("queue.yaml") == "# mine\n- echo one\n"


def test_append_keeps_the_text_and_prepend_puts_entries_first(work):
    work.queue("# mine\n- echo one   # note\n")
    assert work.run("l", "--append", "echo two").returncode == 0
    assert work.run("l", "--append", "-", "--prepend",
                    input="- command: echo {{ x }}\n  x: [a, b]\n").returncode == 0
    assert work.run("l", "--append", "-", input="echo three\necho 'four'\n").returncode == 0
    assert work.read("queue.yaml") == (
        "# mine\n"
        "- command: echo {{ x }}\n"
        "  x: [a, b]\n"
        "- echo one   # note\n"
        "- echo two\n"
        "- echo three\n"
        "- echo 'four'\n")


def test_append_to_a_missing_or_empty_queue(work):
    assert work.run("l", "--append", "echo one").returncode == 0
    assert work.read("queue.yaml") == "- echo one\n"
    work.queue("[]\n")
    assert work.run("l", "--append", "echo two").returncode == 0
    assert work.read("queue.yaml") == "- echo two\n"


def test_append_refuses_to_add_to_a_broken_queue(work):
    work.queue(BROKEN)
    result = work.run("l", "--append", "echo two")
    assert result.returncode == 2
    assert "fix it first" in result.stderr
    assert work.read("queue.yaml") == BROKEN


def test_append_while_a_daemon_runner_runs_gets_executed(work):
    work.hosts("- node-1\n")
    work.queue("")
    runner = work.start("q", "-d")
    try:
        wait_for(lambda: _ssh_children(runner.pid))
        result = work.run("l", "--append", "echo appended > %s" % work.file("out"))
        assert result.returncode == 0, result.stderr
        wait_for(lambda: work.exists("out") and work.read("out") == "appended\n")
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.communicate(timeout=30)


def _ssh_children(pid):
    try:
        return [p for p in psutil.Process(pid).children(recursive=True) if p.name() == "ssh"]
    except psutil.Error:
        return []


def test_three_runners_and_an_appender_run_each_of_300_jobs_exactly_once(work):
    records = work.file("records")
    os.mkdir(records)
    work.hosts("- hostname: [node-1, node-2]\n")
    job = "- command: echo {{{{ hostname }}}} >> {r}/{{{{ n }}}}\n  n: [{ns}]\n"
    work.queue(job.format(r=records, ns=", ".join("j%03d" % i for i in range(200))))
    runners = [work.start("q", "-d", stdout=subprocess.DEVNULL) for _ in range(3)]
    try:
        for batch in range(10):  # 100 more jobs, appended while the runners take
            lines = "".join("echo appender >> %s/a%03d\n" % (records, batch * 10 + i)
                            for i in range(10))
            result = work.run("l", "--append", "-", input=lines)
            assert result.returncode == 0, result.stderr
        wait_for(lambda: len(os.listdir(records)) == 300, timeout=120)
        wait_for(lambda: not work.read("queue.yaml").strip())
    finally:
        for runner in runners:
            runner.send_signal(signal.SIGTERM)
        for runner in runners:
            runner.communicate(timeout=60)
    counts: collections.Counter[str] = collections.Counter()
    for name in os.listdir(records):
        with open(os.path.join(records, name)) as stream:
            counts[name] = len(stream.read().splitlines())
    assert len(counts) == 300
    assert set(counts.values()) == {1}  # every job ran exactly once
    assert len(work.consumed()) == 300


def test_a_lock_holder_killed_with_sigkill_blocks_no_one(work):
    work.hosts("- node-1\n")
    work.queue("- echo after > %s\n" % work.file("after"))
    holder = work.start("l", "--editor", _editor(work, "exec sleep 300\n"))
    wait_for(lambda: not _lock_is_free(work))
    editor = psutil.Process(holder.pid).children()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    for process in editor:  # the orphaned 'editor', stopped by its PID
        process.kill()
    assert _lock_is_free(work)
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    assert work.read("after") == "after\n"
