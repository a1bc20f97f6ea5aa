"""Every common login shell, on the real sshd: real accounts whose login
shell is sh, bash, dash, zsh, ksh93, mksh, csh, tcsh or fish run pegasus's
jobs exactly as written, and an account whose shell cannot run them is
refused when its connection opens, before any job goes there.

The accounts are made for the test (useradd, as root) and removed after;
they log in to a private sshd with the harness's client key."""

import hashlib
import os
import pwd
import random
import re
import shutil
import signal
import subprocess
import tempfile

import psutil
import pytest
from loopback_sshd import LoopbackSshd, find_sshd
from helpers.runpegasus import Workspace, wait_for

pytestmark = pytest.mark.integration

# The nine login shells, by the name of the program (csh: the BSD one).
SHELLS = {"sh": "sh", "bash": "bash", "dash": "dash", "zsh": "zsh", "ksh93": "ksh93",
          "mksh": "mksh", "csh": "bsd-csh", "tcsh": "tcsh", "fish": "fish"}

# Every quote, `$`, backquote, backslash, `!`, `%`, glob and brace character,
# white space, Unicode: a heredoc's text arrives as written only if the
# command did; the line after it is read by sh.
VERBATIM = ("single ' double \" back ` dollar $HOME $(id) ${x} backslash \\ \\\\ \\n "
            "bang ! !! !$ !-1 ^a^b percent % %1 %s glob * ? [a-z] ~ ~root brace {a,b} {} "
            "hash # semicolon ; pipe | amp & lt < gt > paren ( ) tab\tend "
            "unicode \u00e9\u4e2d\u2603 trailing space ")
EVALUATED = ("printf '%s|' \"a'b\" 'c\"d' '$HOME' \"$((6*7))\" `echo bt` 'back\\\\slash' "
             "\\!x 100% /no-such-dir/* {a,b} \"${UNSET-dflt}\"")
EVALUATED_OUT = "a'b|c\"d|$HOME|42|bt|back\\\\slash|!x|100%|/no-such-dir/*|{a,b}|dflt|"
# Long enough to travel in several words of the login shell's line.
LONG = "\n".join("%d %s" % (n, VERBATIM) for n in range(60))
BYTE_EXACT = ("od -An -v -tx1 <<'PEGASUS_END' | tr -d ' \\n'; echo\n" + VERBATIM
              + "\nPEGASUS_END\n" + EVALUATED + "; echo\n"
              + "md5sum <<'PEGASUS_END' | cut -c 1-32\n" + LONG + "\nPEGASUS_END")


def _require_root_and_sshd():
    if os.getuid() != 0:
        pytest.skip("needs root: the test makes accounts with other login shells (useradd)")
    if find_sshd() is None:
        pytest.skip("sshd not found (PATH, /usr/sbin): install openssh-server")
    if shutil.which("useradd") is None:
        pytest.skip("useradd not found")


class Accounts:
    """Accounts made for this module, each with its login shell and an ssh
    alias that reaches the private sshd as that account."""

    def __init__(self, sshd):
        self.sshd = sshd
        self.made = []
        # A directory every account may read: for login shells written here.
        self.directory = tempfile.mkdtemp(prefix="pgsh-")
        os.chmod(self.directory, 0o755)

    def make(self, label, shell):
        """The alias of a new account whose login shell is `shell`."""
        name = "pgsh%d-%s" % (os.getpid() % 100000, label)
        subprocess.run(["useradd", "--create-home", "--shell", shell,
                        # Not locked (sshd without PAM refuses a '!' password,
                        # even for keys), but no password either.
                        "--password", "*", name], check=True, capture_output=True)
        self.made.append(name)
        self.sshd.add_user_alias(name, name)
        return name

    def shell_script(self, name, text):
        path = os.path.join(self.directory, name)
        with open(path, "w") as stream:
            stream.write(text)
        os.chmod(path, 0o755)
        return path

    def remove(self):
        for name in self.made:
            stop_processes_of(name)
            subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)
        shutil.rmtree(self.directory, ignore_errors=True)


def processes_of(name):
    """The processes running as account `name` (its sessions, its jobs)."""
    uid = pwd.getpwnam(name).pw_uid
    found = []
    for process in psutil.process_iter(["uids"]):
        try:
            if process.info["uids"] and process.info["uids"].real == uid:
                found.append(process)
        except psutil.Error:
            continue
    return found


def stop_processes_of(name):
    """What this test left running as `name`: killed by PID."""
    try:
        left = processes_of(name)
    except KeyError:
        return
    for process in left:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(left, timeout=10)


@pytest.fixture(scope="module")
def shell_sshd():
    _require_root_and_sshd()
    server = LoopbackSshd(None, aliases=1, any_user=True)
    server.start()
    accounts = Accounts(server)
    try:
        yield accounts
    finally:
        accounts.remove()
        server.stop()


@pytest.fixture(scope="module")
def login_accounts(shell_sshd):
    """label -> alias of an account whose login shell is that shell."""
    aliases = {}
    for label, program in SHELLS.items():
        path = shutil.which(program)
        if path is not None:
            aliases[label] = shell_sshd.make(label, path)
    return aliases


@pytest.fixture(params=list(SHELLS))
def login(request, login_accounts):
    """The alias of an account with the shell of this test's parameter."""
    if request.param not in login_accounts:
        pytest.skip("%s is not installed (scripts/setup installs it with apt-get)"
                    % SHELLS[request.param])
    return login_accounts[request.param]


@pytest.fixture
def work(tmp_path, shell_sshd):
    return Workspace(tmp_path, shell_sshd.sshd.config)


def job_output(stdout, alias):
    """The lines a job printed on `alias` (not pegasus's start and done lines)."""
    prefix = "[%s] " % alias
    lines = [line[len(prefix):] for line in stdout.splitlines() if line.startswith(prefix)]
    return [line for line in lines if not re.match(r"#\d+ ", line)]


def test_a_command_arrives_byte_exact_whatever_the_login_shell(work, login):
    result = work.run("q", "-w", login, "--", BYTE_EXACT)
    assert result.returncode == 0, result.stderr
    lines = job_output(result.stdout, login)
    expected = (VERBATIM + "\n").encode("utf-8").hex()
    long_sum = hashlib.md5((LONG + "\n").encode("utf-8")).hexdigest()
    assert lines == [expected, EVALUATED_OUT, long_sum], result.stdout + result.stderr


def test_a_pipeline_runs_and_an_exit_status_comes_back_whatever_the_login_shell(work, login):
    work.hosts("- %s\n" % login)
    work.queue("- seq 1 5 | sort -rn | head -n 2 | paste -s -d , -\n- exit 3\n")
    result = work.run("q", "--joblog", "jobs.tsv")
    assert result.returncode == 1, result.stderr
    assert job_output(result.stdout, login) == ["5,4"], result.stdout
    rows = [row.split("\t") for row in work.read("jobs.tsv").splitlines()[1:]]
    assert sorted((row[8], row[6]) for row in rows) == [
        ("exit 3", "3"), ("seq 1 5 | sort -rn | head -n 2 | paste -s -d , -", "0")], rows


def test_ctrl_c_stops_the_remote_job_and_puts_it_back_whatever_the_login_shell(work, login):
    tag = str(4000 + random.randrange(10 ** 6))
    work.hosts("- %s\n" % login)
    work.queue("- sleep %s; echo never\n- echo second\n" % tag)

    def sleeping():
        return [process for process in processes_of(login)
                if process.info["uids"] and _cmdline(process)[-2:] == ["sleep", tag]]

    process = work.start("q")
    try:
        wait_for(sleeping, timeout=60)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    # Nothing of the job, its login shell or its session is left.
    wait_for(lambda: not processes_of(login), timeout=30)
    assert work.read("queue.yaml") == "- command: sleep %s; echo never\n- echo second\n" % tag, err


def test_a_background_child_with_its_output_elsewhere_lets_its_job_end(work, login):
    # As with plain ssh: the job ends when its command has, whatever it left
    # running with its output redirected. (csh's exec left the session's
    # stdout and stderr open on fds 4 and 5 of every job's processes.)
    tag = str(4000 + random.randrange(10 ** 6))
    work.hosts("- %s\n" % login)
    work.queue("- sleep %s >/dev/null 2>&1 & echo started\n- echo second\n" % tag)
    try:
        result = work.run("q", timeout=60)
        assert result.returncode == 0, result.stderr
        assert job_output(result.stdout, login) == ["started", "second"]
    finally:
        left = [process for process in processes_of(login)
                if _cmdline(process)[-2:] == ["sleep", tag]]
        for process in left:
            process.kill()
        psutil.wait_procs(left, timeout=10)


def _cmdline(process):
    try:
        return process.cmdline()
    except psutil.Error:
        return []


# --- login shells that cannot run pegasus's jobs ----------------------------------------

# Changes every `~` it is given, then runs the rest: it runs commands, but not
# as written.
ALTERING_SHELL = """#!/bin/sh
[ "$1" = -c ] || exit 1
exec /bin/sh -c "$(printf '%s' "$2" | tr '~' '-')"
"""


@pytest.mark.parametrize("label, said", [
    ("false", "its login shell ran no command: it exited with status 1 and said nothing"),
    ("nologin", "This account is currently not available."),
    ("rbash", "rbash: line 1: exec: restricted"),
    ("altering", "altered pegasus's command line on its way to sh"),
])
def test_an_account_whose_shell_cannot_run_the_jobs_is_refused_at_connect(
        work, shell_sshd, label, said):
    shells = {"false": shutil.which("false"), "nologin": "/usr/sbin/nologin",
              "rbash": shutil.which("rbash"),
              "altering": shell_sshd.shell_script("altering", ALTERING_SHELL)}
    shell = shells[label]
    if shell is None or not os.path.exists(shell):
        pytest.skip("%s is not installed" % label)
    alias = shell_sshd.make(label, shell)
    work.hosts("- %s\n" % alias)
    queue = "- echo ran > %s/ran\n- exit 3\n" % work.path
    work.queue(queue)
    result = work.run("q")
    assert result.returncode != 0
    assert said in result.stderr, result.stderr
    if label == "altering":
        assert shell in result.stderr, "the reason names the shell"
    assert work.read("queue.yaml") == queue, "nothing was taken"
    assert not work.exists("ran")
    assert "done:" not in result.stdout + result.stderr
    assert "nothing was run, the queue is untouched" in result.stderr
