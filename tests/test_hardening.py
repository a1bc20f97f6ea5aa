"""Hardening (the adversarial-user issue): files beside the queue cannot be
turned against the user running pegasus, a full disk loses and records
nothing, a job that cannot start does not crash the runner, and exit 0
means every job taken ran."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import uuid

import pytest
from helpers.runpegasus import Workspace, environment, wait_for

OTHER_UID, OTHER_GID = 4242, 4343
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: files of another user")


@pytest.fixture
def work(tmp_path):
    work = Workspace(tmp_path)
    work.hosts("- localhost\n")
    return work


def planted_link(work, name, target):
    """A symbolic link at `name`, made by another user, to `target`."""
    os.chmod(work.path, 0o1777)   # a directory others may write to
    path = work.file(name)
    os.symlink(target, path)
    os.lchown(path, OTHER_UID, OTHER_GID)
    return path


# --- links planted by another user ---------------------------------------------------

@needs_root
@pytest.mark.parametrize("name", ["consumed.yaml", "queue.yaml.lock"])
def test_a_link_another_user_planted_where_pegasus_writes_is_not_followed(work, tmp_path, name):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    planted_link(work, name, str(victim))
    work.queue("- echo hi\n")
    result = work.run("q")
    assert result.returncode == 2, result.stderr
    assert name in result.stderr and "another user" in result.stderr
    assert victim.read_text() == "precious\n"
    assert work.read("queue.yaml") == "- echo hi\n"


@needs_root
def test_a_queue_yaml_that_is_another_users_link_is_not_rewritten(work, tmp_path):
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("- echo hi\n")
    planted_link(work, "queue.yaml", str(elsewhere))
    result = work.run("q")
    assert result.returncode == 2
    assert "another user" in result.stderr
    assert elsewhere.read_text() == "- echo hi\n"
    assert not os.path.exists(tmp_path / "consumed.yaml")


def test_a_queue_yaml_that_is_your_own_link_is_followed(work, tmp_path):
    real = tmp_path / "real.yaml"
    real.write_text("- echo hi\n- echo two\n")
    os.symlink(str(real), work.file("queue.yaml"))
    assert work.run("q").returncode == 0
    assert os.path.islink(work.file("queue.yaml"))
    assert real.read_text() == ""


@needs_root
def test_a_joblog_link_of_another_user_is_refused(work, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    planted_link(work, "jobs.tsv", str(victim))
    work.queue("- echo hi\n")
    result = work.run("q", "--joblog", "jobs.tsv")
    assert result.returncode == 2
    assert victim.read_text() == "precious\n"


def test_the_state_directory_is_private(work):
    work.queue("- echo hi\n")
    assert work.run("q").returncode == 0
    mode = os.stat(work.file(".queue.yaml.pegasus")).st_mode
    assert stat.S_IMODE(mode) == 0o700


@needs_root
def test_a_state_directory_of_another_user_is_refused(work):
    os.mkdir(work.file(".queue.yaml.pegasus"), 0o777)
    os.chown(work.file(".queue.yaml.pegasus"), OTHER_UID, OTHER_GID)
    work.queue("- echo hi\n")
    result = work.run("q")
    assert result.returncode == 2
    assert "belongs to another user" in result.stderr
    assert work.read("queue.yaml") == "- echo hi\n"


# --- modes, owners, groups -----------------------------------------------------------------

@pytest.mark.parametrize("mask, mode", [(0o077, 0o600), (0o002, 0o664), (0o022, 0o644)])
def test_a_new_queue_made_by_append_honours_the_umask(work, mask, mode):
    code = "import os, sys; os.umask(%d); from pegasus.main import main; sys.exit(main())" % mask
    result = subprocess.run([sys.executable, "-c", code, "l", "--append", "echo hi"],
                            cwd=work.path, env=environment(), capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(work.file("queue.yaml")).st_mode) == mode


@needs_root
def test_taking_keeps_the_queues_mode_owner_and_group(work):
    path = work.queue("- echo a\n- echo b\n")
    os.chown(path, OTHER_UID, OTHER_GID)
    os.chmod(path, 0o664)
    assert work.run("q").returncode == 0
    info = os.stat(path)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (
        OTHER_UID, OTHER_GID, 0o664)


def test_taking_keeps_a_group_shared_mode(work):
    path = work.queue("- echo a\n- echo b\n")
    os.chmod(path, 0o660)
    assert work.run("q").returncode == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o660


# --- a full disk ---------------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs of our own (root only), unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8) for a file system of our own")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "pegasus-test", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % done.stderr.strip())
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def fill(directory):
    """Fill the file system of `directory` to the last byte."""
    fd = os.open(os.path.join(str(directory), "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            while True:
                try:
                    os.write(fd, b"x" * size)
                except OSError:
                    break
    finally:
        os.close(fd)


def test_a_full_disk_takes_nothing_records_nothing_and_says_why(tiny_disk):
    work = Workspace(tiny_disk)
    work.hosts("- localhost\n")
    text = "".join("- echo %d %s\n" % (n, uuid.uuid4().hex) for n in range(500))
    work.queue(text)
    # The lock and state directory exist already; then the disk fills up.
    assert work.run("q", "--dry-run").returncode == 0
    open(work.file("queue.yaml.lock"), "a").close()
    fill(tiny_disk)
    result = work.run("q")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "No space left on device" in result.stderr
    assert "invalid" not in result.stderr
    assert work.read("queue.yaml") == text
    assert not work.exists("consumed.yaml") or work.read("consumed.yaml") == ""
    assert [name for name in os.listdir(work.path) if name.endswith(".tmp")] == []


# --- a job that cannot start ---------------------------------------------------------------

def test_a_job_that_cannot_be_started_fails_as_its_outcome(work):
    # Without `sh` on PATH a local job cannot be spawned: each job fails,
    # the runner does not crash, the exit status says so.
    work.queue("- echo one\n- echo two\n")
    env = environment(PATH=os.path.dirname(sys.executable))
    result = subprocess.run(work.argv("q"), cwd=work.path, env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.count("could not start") == 2
    assert work.read("queue.yaml").strip() == ""


# --- exit 0 means every job taken ran --------------------------------------------------------

def test_a_lost_only_host_with_retries_ends_with_exit_1_and_leaves_the_jobs(
        tmp_path, second_sshd):
    server = second_sshd(aliases=1)
    work = Workspace(tmp_path, server.config)
    marks = work.file("started")
    work.hosts("- far-1\n")
    work.queue("- touch %s; sleep 30\n- echo second\n" % marks)
    runner = work.start("q", "--retries", "1")
    wait_for(lambda: os.path.exists(marks), timeout=60)
    server.stop()
    out, err = runner.communicate(timeout=120)
    assert runner.returncode == 1, out + err
    assert "no sub-host is left" in err
    left = work.read("queue.yaml")
    assert "sleep 30" in left and "echo second" in left, out + err


def test_a_job_the_system_refuses_to_spawn_fails_without_crashing_the_runner():
    # Validation refuses a NUL in a command; should one reach the engine all
    # the same (here straight from memory), spawning it fails -- as that
    # job's outcome, and the next job runs.
    from pegasus.engine.runner import Runner
    from pegasus.engine.sources import MemoryQueue
    from pegasus.events.handler import Handler
    from pegasus.settings import Settings
    from pegasus.spec.jobs import Job
    from pegasus.spec.hosts import SubHost
    from pegasus.templates.template import Templates
    from pegasus.transports import transport

    class Record(Handler):
        def __init__(self):
            self.outcomes = []

        def on_job_finished(self, outcome):
            self.outcomes.append(outcome)

    settings = Settings()
    hosts = [SubHost(0, "localhost", {})]
    transport.attach(hosts, settings)
    record = Record()
    runner = Runner(settings, hosts, MemoryQueue([Job("echo a\0b"), Job("true")]),
                    Templates(), record)
    result = runner.run()
    assert [(o.command, o.ok) for o in record.outcomes] == [("echo a\0b", False), ("true", True)]
    assert "null" in record.outcomes[0].detail
    assert result.failed == 1 and not result.cancelled


def test_a_job_whose_runners_keep_dying_is_not_put_back_forever(work):
    started = work.file("started")
    work.queue("- echo x >> %s; sleep 120\n- echo after\n" % started)
    for kill in range(3):
        runner = work.start("q")
        wait_for(lambda k=kill: len(open(started).read().split()) == k + 1
                 if os.path.exists(started) else False)
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    assert "died 3 times while it ran" in result.stderr
    assert open(started).read().split() == ["x", "x", "x"]   # not a fourth time
    records = [json.loads(line) for line in open(work.file(".queue.yaml.pegasus/outcomes.jsonl"))]
    assert [r["kind"] for r in records if "sleep 120" in r["job"]] == ["lost"]


def test_a_read_only_queue_directory_takes_nothing_and_says_why(tiny_disk):
    work = Workspace(tiny_disk)
    work.hosts("- localhost\n")
    work.queue("- echo a\n- echo b\n")
    assert work.run("q", "--dry-run").returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    try:
        result = work.run("q")
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tiny_disk)], check=True)
    assert result.returncode == 2, result.stderr
    assert "Read-only file system" in result.stderr
    assert work.read("queue.yaml") == "- echo a\n- echo b\n"
    assert not work.exists("consumed.yaml")


@pytest.mark.parametrize("stdin, words", [
    ("echo fine\necho \x01bad\n", ["<stdin>:2:", "control character (0x01)"]),
    ("- command: echo {{ a }}{{ b }}{{ c }}\n" + "".join(
        "  %s: [%s]\n" % (key, ", ".join(str(n) for n in range(1000))) for key in "abc"),
     ["<stdin>:1:", "1000000000 jobs"]),
])
def test_append_from_stdin_refuses_what_would_break_the_queue(work, stdin, words):
    work.queue("- echo kept\n")
    result = work.run("l", "--append", "-", input=stdin, timeout=60)
    assert result.returncode == 2
    for word in words:
        assert word in result.stderr
    assert work.read("queue.yaml") == "- echo kept\n"
