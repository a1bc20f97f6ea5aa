"""Shared project directories (issue 21): nothing another user planted beside
a queue is trusted or written through, and nothing of a run leaks.

Run as root, with a second, unprivileged account (`nobody`) planting files
as such a user could, in a project directory shared with its group
(setgid, group-writable). Every case checks that no planted job ever runs,
that no file outside is changed (content, size and link count), and that
nothing of the run lands in a file the other user can read.
"""

import functools
import hashlib
import json
import os
import pwd
import shutil
import site
import stat
import subprocess
import sys
import tempfile

import pytest
from helpers.runpegasus import REPO, Workspace, environment

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root: a second account (nobody) plants the files")

try:
    OTHER = pwd.getpwnam("nobody")
except KeyError:  # pragma: no cover - every Debian has it
    pytest.skip("no user 'nobody' to play the other user", allow_module_level=True)
GONE = object()


class Project(Workspace):
    """A group project directory (root:nobody's group, 2775) in a base
    directory `nobody` can reach, with `outside/` (files of yours the other
    user would like pegasus to damage) and `marks/` (where jobs leave a
    mark when they run)."""

    def __init__(self, base):
        super().__init__(os.path.join(base, "project"))
        self.base = base
        self.outside = os.path.join(base, "outside")
        self.marks = os.path.join(base, "marks")
        self.theirs = os.path.join(base, "theirs")
        os.mkdir(self.path)
        os.chown(self.path, 0, OTHER.pw_gid)
        os.chmod(self.path, 0o2775)
        os.mkdir(self.outside, 0o755)
        os.mkdir(self.marks, 0o777)
        os.mkdir(self.theirs, 0o755)
        os.chown(self.theirs, OTHER.pw_uid, OTHER.pw_gid)
        self.hosts("- localhost\n")
        os.chmod(self.file("hosts.yaml"), 0o664)
        self.state = self.file(".queue.yaml.pegasus")

    def job(self, name):
        """A queue entry whose job leaves the mark `name`."""
        return "- touch %s\n" % self.mark(name)

    def mark(self, name):
        return os.path.join(self.marks, name)

    def ran(self, name):
        return os.path.exists(self.mark(name))

    def victim(self, name, group_shared=False):
        """A file of yours outside the project; `group_shared`: root:nobody's
        group 0664, which the other user may read and write (and so link)."""
        path = os.path.join(self.outside, name)
        with open(path, "w") as stream:
            stream.write("precious %s\n" % name)
        if group_shared:
            os.chown(path, 0, OTHER.pw_gid)
            os.chmod(path, 0o664)
        return path

    def as_other(self, script):
        """Run a shell script as the other user, in the project."""
        subprocess.run(["sh", "-ec", script], cwd=self.path, user=OTHER.pw_uid,
                       group=OTHER.pw_gid, extra_groups=[], env=self.other_env(), check=True)

    def other_env(self):
        return environment(HOME=self.theirs)

    def run_as_other(self, mode, *args, input=None):
        """pegasus run by the other user, with an interpreter they may run."""
        python = other_python()
        env = self.other_env()
        env["PYTHONPATH"] = os.pathsep.join([REPO] + site.getsitepackages())
        return subprocess.run([python, "-m", "pegasus", mode] + list(args), cwd=self.path,
                              user=OTHER.pw_uid, group=OTHER.pw_gid, extra_groups=[],
                              env=env, input=input, capture_output=True, text=True,
                              timeout=120, check=False)


@functools.lru_cache(maxsize=None)
def other_python():
    """This Python, or the system's of the same version, if the other user
    may run it (a venv made from pyenv under /root is out of their reach);
    else the test is skipped."""
    version = "python%d.%d" % sys.version_info[:2]
    for python in (sys.executable, os.path.join("/usr/bin", version),
                   os.path.join("/usr/local/bin", version)):
        try:
            subprocess.run([python, "-c", "pass"], user=OTHER.pw_uid, group=OTHER.pw_gid,
                           extra_groups=[], cwd="/", capture_output=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            continue
        return python
    pytest.skip("no %s that the user nobody may run, to run pegasus as a second user"
                % version)


@pytest.fixture
def project():
    base = tempfile.mkdtemp(prefix="pegasus-shared-")
    os.chmod(base, 0o755)
    try:
        yield Project(base)
    finally:
        shutil.rmtree(base)


def snapshot(path):
    """Everything about a file or a tree that a change would show: kind,
    owner, mode, size, link count, and content (or link target)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return GONE
    about = (stat.S_IFMT(info.st_mode), info.st_uid, stat.S_IMODE(info.st_mode),
             info.st_nlink)
    if stat.S_ISLNK(info.st_mode):
        return about + (os.readlink(path),)
    if stat.S_ISDIR(info.st_mode):
        return about + (tuple((name, snapshot(os.path.join(path, name)))
                              for name in sorted(os.listdir(path))),)
    with open(path, "rb") as stream:
        return about + (info.st_size, stream.read())


def journal_of(job):
    """A dead runner's journal, in the shape pegasus writes them."""
    return (json.dumps({"t": 1, "jobs": [[1, "- command: %s\n" % job]]}) + "\n"
            + json.dumps({"c": 1}) + "\n")


def plant_script(project, plant, victims):
    """The other user's shell script that plants `plant` in the state
    directory (which they may write)."""
    state = project.state
    if plant == "journal":
        return "printf '%%s' '%s' > %s/evil.1.journal" % (
            journal_of("touch " + project.mark("planted")), state)
    if plant == "note":
        a, b, c = victims
        note = {"temporary": a, "inode": os.stat(a).st_ino,
                "basis": [0, hashlib.sha1(b"").hexdigest(), 0],
                "journal": b, "txn": 1, "consumed": [c, 0]}
        return "rm -f %s/pending; printf '%%s' '%s' > %s/pending" % (
            state, json.dumps(note), state)
    if plant == "pending-link":
        return "rm -f %s/pending; ln -s %s %s/pending" % (state, victims[0], state)
    if plant == "inbox":
        name = "r-1-99999-0-0-" + hashlib.sha1(b"").hexdigest()
        return "mkdir -p %s/inbox; printf '%%s' '%s' > %s/inbox/%s" % (
            state, project.job("planted"), state, name)
    if plant.startswith("link:"):   # their link at a name pegasus uses there
        name = plant[len("link:"):]
        target = project.theirs if name in ("inbox", "conflicts") else victims[0]
        return "rm -rf %s/%s; ln -s %s %s/%s" % (state, name, target, state, name)
    if plant == "outcome":
        record = {"seq": 1, "host": "localhost", "start": 1.0, "end": 2.0, "kind": "failed",
                  "exit": 1, "signal": 0, "reason": None, "detail": None, "slots": None,
                  "attempt": 1, "retried": False, "runner": "x.1",
                  "job": "- command: touch %s\n" % project.mark("planted")}
        return "printf '%%s\\n' '%s' >> %s/outcomes.jsonl" % (json.dumps(record), state)
    raise AssertionError(plant)


def assert_untouched(project, before, victims, queue_text):
    for path, was in before.items():
        assert snapshot(path) == was, path
    for victim in victims:
        assert snapshot(victim)[3:] == (1, len("precious %s\n" % os.path.basename(victim)),
                                        ("precious %s\n" % os.path.basename(victim)).encode())
    assert not project.ran("planted")
    assert not project.ran("mine")
    assert project.read("queue.yaml") == queue_text


PLANTS = ["journal", "note", "pending-link", "inbox"]


# --- a state directory another user made, before a first run ------------------------------

@pytest.mark.parametrize("link", [False, True], ids=["directory", "link-to-theirs"])
@pytest.mark.parametrize("plant", PLANTS)
def test_a_state_directory_another_user_made_is_refused_before_anything_in_it_is_read(
        project, plant, link):
    victims = [project.victim(name) for name in "abc"]
    queue_text = project.job("mine")
    project.queue(queue_text)
    if link:   # .queue.yaml.pegasus: their link to a directory of theirs
        project.as_other("mkdir -m 777 %s/state && ln -s %s/state %s" % (
            project.theirs, project.theirs, project.state))
    else:
        project.as_other("mkdir -m 777 %s" % project.state)
    project.as_other(plant_script(project, plant, victims))
    before = {project.state: snapshot(project.state),
              os.path.join(project.theirs, "state"): snapshot(os.path.join(project.theirs,
                                                                         "state"))}
    result = project.run("q")
    assert result.returncode == 2, result.stderr
    assert "nobody (uid %d)" % OTHER.pw_uid in result.stderr
    assert ".queue.yaml.pegasus" in result.stderr
    assert_untouched(project, before, victims, queue_text)
    assert not project.exists("consumed.yaml")


# --- a state directory opened to the group between two runs ---------------------------

def first_run_then_open_to_the_group(project):
    """A run of yours, then `chmod -R g+rwX` of the project, as people do."""
    project.queue("- false\n- true\n")
    assert project.run("q").returncode == 1
    subprocess.run(["chmod", "-R", "g+rwX", project.path], check=True)
    assert os.stat(project.state).st_mode & 0o070 == 0o070


@pytest.mark.parametrize("plant, command", [(plant, ["q"]) for plant in PLANTS] + [
    ("outcome", ["l", "--requeue", "failed"]), ("journal", ["l", "--append", "echo hi"]),
    ("note", ["status"])])
def test_a_state_directory_opened_to_the_group_is_refused_and_left_as_it_is(
        project, plant, command):
    first_run_then_open_to_the_group(project)
    victims = [project.victim(name, group_shared=True) for name in "abc"]
    project.as_other(plant_script(project, plant, victims))
    queue_text = project.job("mine")
    project.queue(queue_text)
    before = {project.state: snapshot(project.state),
              project.file("consumed.yaml"): snapshot(project.file("consumed.yaml"))}
    result = project.run(*command)
    assert result.returncode == 2, result.stderr
    assert "is open to other users" in result.stderr
    assert "chmod -R go= %s" % project.state in result.stderr
    if plant not in ("outcome", "inbox"):
        # (Their lines in a file of yours, or a kept queue file of someone
        # who may write the queue: refused for the directory's mode alone.)
        assert "nobody (uid %d)" % OTHER.pw_uid in result.stderr
    assert_untouched(project, before, victims, queue_text)


STATE_NAMES = ["pending", "outcomes.jsonl", "outcomes.1.jsonl", "recoveries.json",
               "host.1.journal", "inbox", "conflicts"]


@pytest.mark.parametrize("plant", ["journal", "inbox", "pending-link"] + [
    "link:" + name for name in STATE_NAMES])
def test_what_another_user_left_in_a_state_directory_closed_again_is_refused(
        project, plant):
    """Only the state directory was opened: the other user may not write
    the queue, so not even a kept queue file of theirs is taken."""
    project.queue("- false\n- true\n")
    assert project.run("q").returncode == 1
    os.chmod(project.path, 0o2755)
    subprocess.run(["chmod", "-R", "g+rwX", project.state], check=True)
    victims = [project.victim(name, group_shared=True) for name in "abc"]
    project.as_other(plant_script(project, plant, victims))
    subprocess.run(["chmod", "-R", "go=", project.state], check=True)   # closed again
    queue_text = project.job("mine")
    project.queue(queue_text)
    before = {project.state: snapshot(project.state)}
    result = project.run("q")
    assert result.returncode == 2, result.stderr
    assert "nobody (uid %d)" % OTHER.pw_uid in result.stderr
    assert_untouched(project, before, victims, queue_text)
    # Once what they left is removed, the queue runs, and only your job.
    for name in ["evil.1.journal", "pending"] + STATE_NAMES:
        path = os.path.join(project.state, name)
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)
    result = project.run("q")
    assert result.returncode == 0, result.stderr
    assert project.ran("mine") and not project.ran("planted")
    for victim in victims:
        assert snapshot(victim)[3] == 1


def test_a_state_file_another_user_linked_elsewhere_is_refused(project):
    """While the state directory was open, the other user gave the outcome
    record a second name in a directory of theirs: closing the directory
    does not take that name away."""
    first_run_then_open_to_the_group(project)
    record = os.path.join(project.state, "outcomes.jsonl")
    copy = os.path.join(project.theirs, "copy")
    project.as_other("ln %s %s" % (record, copy))
    subprocess.run(["chmod", "-R", "go=", project.state], check=True)
    subprocess.run(["chmod", "g-w", record], check=True)
    before = {copy: snapshot(copy)}
    queue_text = project.job("mine")
    project.queue(queue_text)
    result = project.run("q")
    assert result.returncode == 2, result.stderr
    assert "outcomes.jsonl: has 2 names" in result.stderr
    assert_untouched(project, before, [], queue_text)


# --- files beside the queue: consumed.yaml, the lock, the joblog -------------------------

NAMES = {"consumed.yaml": (), "queue.yaml.lock": (), "jobs.tsv": ("--joblog", "jobs.tsv")}


@pytest.mark.parametrize("when", ["before-a-first-run", "between-two-runs"])
@pytest.mark.parametrize("kind", ["their-file", "their-link", "hard-link"])
@pytest.mark.parametrize("name", sorted(NAMES))
def test_a_file_another_user_put_beside_the_queue_is_neither_used_nor_written(
        project, name, kind, when):
    options = NAMES[name]
    if when == "between-two-runs":
        project.queue("- true\n")
        assert project.run("q", *options).returncode == 0
        assert project.exists(name)
        project.as_other("mv %s %s.yours" % (name, name))   # the directory is the group's
    victim = project.victim("v", group_shared=True)
    if kind == "their-file":
        project.as_other("touch %s && chmod 666 %s" % (name, name))
    elif kind == "their-link":
        project.as_other("ln -s %s %s" % (victim, name))
    else:   # a file of yours they may write, linked at the name
        project.as_other("ln %s %s" % (victim, name))
    queue_text = project.job("mine")
    project.queue(queue_text)
    before = {project.file(name): snapshot(project.file(name))}
    result = project.run("q", *options)
    assert result.returncode == 2, result.stderr
    assert name in result.stderr and "b'" not in result.stderr
    if kind == "hard-link":
        assert "has 2 names (hard links)" in result.stderr
        before.pop(project.file(name))     # it is the victim, checked below
        assert snapshot(victim)[3:] == (2, 11, b"precious v\n")
    else:
        assert "another user, nobody (uid %d)" % OTHER.pw_uid in result.stderr
        assert snapshot(victim)[3:] == (1, 11, b"precious v\n")
    assert_untouched(project, before, [], queue_text)


def test_a_lock_file_link_is_reported_in_words(project):
    victim = project.victim("v")
    project.as_other("ln -s %s queue.yaml.lock" % victim)
    project.queue("- true\n")
    result = project.run("l", "--append", "echo hi")
    assert result.returncode == 2
    assert result.stderr.startswith("pegasus: %s is a symbolic link that belongs to another "
                                    "user, nobody" % project.file("queue.yaml.lock"))


# --- the log directory -----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["their-directory", "their-link"])
def test_a_log_directory_of_another_user_receives_nothing(project, kind):
    theirs = os.path.join(project.theirs, "logs")
    project.as_other("mkdir -m 777 %s" % theirs)
    if kind == "their-directory":
        project.as_other("mkdir -m 777 logs")
        theirs = project.file("logs")
    else:
        project.as_other("ln -s %s logs" % theirs)
    queue_text = project.job("mine")
    project.queue(queue_text)
    result = project.run("q", "--log-dir", "logs")
    assert result.returncode == 2, result.stderr
    assert "another user, nobody (uid %d)" % OTHER.pw_uid in result.stderr
    assert os.listdir(theirs) == []
    assert_untouched(project, {}, [], queue_text)


# --- a second user of a group queue ---------------------------------------------------

@pytest.mark.parametrize("command", [["q"], ["b"], ["l", "--append", "echo hi"],
                                     ["l", "--editor", "true"], ["status"],
                                     ["l", "--requeue", "failed"]],
                         ids=" ".join)
def test_a_second_user_of_a_group_queue_is_told_whose_it_is(project, command):
    project.queue("- true\n")
    assert project.run("q").returncode == 0
    queue_text = project.job("mine")
    project.queue(queue_text)
    os.chmod(project.file("queue.yaml"), 0o664)
    before = {project.state: snapshot(project.state),
              project.file("queue.yaml.lock"): snapshot(project.file("queue.yaml.lock"))}
    result = project.run_as_other(*command)
    assert result.returncode == 2, result.stderr
    assert "belongs to another user, root (uid 0)" in result.stderr
    assert "your own copy of the queue" in result.stderr
    assert "Permission denied" not in result.stderr
    assert_untouched(project, before, [], queue_text)


@pytest.mark.parametrize("command", [["l", "--append", "echo hi"], ["add", "echo", "hi"],
                                     ["l", "--editor", "true"], ["q"], ["b"]],
                         ids=" ".join)
def test_a_group_member_who_runs_pegasus_first_does_not_take_the_owners_queue(project,
                                                                                command):
    """Before the queue's owner ever ran pegasus on it, a group member's run
    starts nothing beside it (no state directory, no lock file of theirs
    that the owner could then neither use nor remove): it is told whose the
    queue is, and the owner's run goes on."""
    queue_text = project.job("mine")
    project.queue(queue_text)
    os.chmod(project.file("queue.yaml"), 0o664)
    result = project.run_as_other(*command)
    assert result.returncode == 2, result.stderr
    assert "belongs to another user, root (uid 0)" in result.stderr
    assert "echo '- command' >> " in result.stderr
    assert sorted(os.listdir(project.path)) == ["hosts.yaml", "queue.yaml"]
    mine = project.run("q")
    assert mine.returncode == 0, mine.stderr
    assert project.ran("mine")


def test_a_group_member_feeds_the_queue_with_an_append_and_it_runs(project):
    project.queue("- true\n")
    os.chmod(project.file("queue.yaml"), 0o664)
    assert project.run("q").returncode == 0
    project.as_other("echo '%s' >> queue.yaml" % project.job("fed").strip())
    result = project.run("q")
    assert result.returncode == 0, result.stderr
    assert project.ran("fed")
    assert os.stat(project.state).st_mode & 0o777 == 0o700   # setgid kept, as the project


# --- what a run writes -------------------------------------------------------------------

def test_records_of_a_run_get_your_umask_in_a_group_directory(project):
    code = ("import os, sys; os.umask(0o077); from pegasus.main import main; "
            "sys.exit(main())")
    project.queue("- echo out\n- false\n")
    result = subprocess.run([sys.executable, "-c", code, "q",
                             "--joblog", "jobs.tsv", "--log-dir", "logs"],
                            cwd=project.path, env=environment(), capture_output=True,
                            text=True, check=False)
    assert result.returncode == 1, result.stderr
    written = [project.file("consumed.yaml"), project.file("jobs.tsv"), project.file("logs"),
               project.state, os.path.join(project.state, "outcomes.jsonl")]
    written += [os.path.join(project.file("logs"), name)
                for name in os.listdir(project.file("logs"))]
    for path in written:
        assert os.stat(path).st_mode & 0o077 == 0, path


def test_a_consumed_record_swapped_between_two_takes_receives_nothing(project):
    """Between two takes, consumed.yaml becomes a file of the other user's
    (here the first job swaps it, as they could in the group directory):
    the next take is refused and says why, their file stays empty, the job
    stays queued, and the run ends with exit 2."""
    project.queue("- mv consumed.yaml consumed.old && touch consumed.yaml && "
                  "chown %d consumed.yaml\n%s" % (OTHER.pw_uid, project.job("second")))
    result = project.run("q")
    assert result.returncode == 2, result.stderr
    assert "consumed.yaml belongs to another user, nobody" in result.stderr
    assert "stopped: " in result.stderr
    assert not project.ran("second")
    assert os.path.getsize(project.file("consumed.yaml")) == 0
    assert project.read("queue.yaml") == project.job("second")


def test_a_queue_file_kept_for_a_group_members_appender_is_theirs_and_still_read(project):
    """The other user made queue.yaml and keeps it open to append to (a
    shell loop redirected once); a take replaces it, and the old file,
    theirs, is kept in your state directory for them. It is not refused:
    they may write the queue anyway. What they write to it later runs."""
    project.as_other("printf -- '- true\\n' > queue.yaml && chmod 664 queue.yaml")
    appender = subprocess.Popen(
        ["sh", "-c", "exec 3>>queue.yaml; echo open; read line; printf '%s\\n' \"$line\" >&3"],
        cwd=project.path, user=OTHER.pw_uid, group=OTHER.pw_gid, extra_groups=[],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert appender.stdout is not None
        assert appender.stdout.readline() == "open\n"
        assert project.run("q").returncode == 0
        inbox = os.path.join(project.state, "inbox")
        assert any(os.stat(os.path.join(inbox, name)).st_uid == OTHER.pw_uid
                   for name in os.listdir(inbox))
        appender.communicate(project.job("fed").strip() + "\n", timeout=60)
    finally:
        if appender.poll() is None:
            appender.kill()
            appender.wait()
    result = project.run("q")
    assert result.returncode == 0, result.stderr
    assert project.ran("fed")
