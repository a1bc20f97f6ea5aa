"""The job wrapper, run the way sshd runs it: `LOGIN_SHELL -c STRING`, with
a pipe from pegasus on stdin. No ssh here: every POSIX login shell found on
this machine plays the remote shell (csh, tcsh and fish too: sh runs the wrapper
whatever the login shell, see loginshell.py). Python plays no part in what they
test: they run in the main run alone (the remote_shell mark)."""

import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from helpers.runpegasus import sleepers
from pegasus.transports import wrapper

pytestmark = pytest.mark.remote_shell

SHELLS = [name for name in ("sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish")
          if shutil.which(name)]


SUBREAPER = os.path.join(os.path.dirname(__file__), "helpers", "subreaper.py")


def start(shell, command, grace=1.0):
    """The wrapper in `shell`, in a session of its own as sshd starts it,
    under an init that reaps orphans at once."""
    return subprocess.Popen([sys.executable, SUBREAPER, shell, "-c",
                             wrapper.wrapped_remote(command, grace)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def finish(process, timeout=20):
    """Read the job to its end with our end of its stdin still open (closing
    it would mean: pegasus is gone, stop the job)."""
    out = process.stdout.read()
    err = process.stderr.read()
    process.wait(timeout=timeout)
    process.stdin.close()
    return out, err


def send(process, line):
    """A control line; one the wrapper is no longer there to read is moot."""
    try:
        os.write(process.stdin.fileno(), line)
    except BrokenPipeError:
        pass


def stop_all(process):
    """Kill a wrapper that failed its test, and everything it started."""
    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        family = []
    for member in family + [process]:
        try:
            member.kill()
        except (psutil.Error, ProcessLookupError):
            pass
    process.wait()


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(params=SHELLS)
def shell(request):
    return request.param


TRICKY = ("printf '%s|' \"a'b\" 'c\"d' '$HOME' \"$((6*7))\" `echo bt` 'back\\slash'; "
          "printf '\\n%s\\n' 'tab\there é 中'")


def test_the_command_reaches_sh_byte_exact_and_its_status_comes_back(shell):
    process = start(shell, TRICKY + "; exit 3")
    out, err = finish(process)
    assert process.returncode == 3, err
    assert out.decode() == "a'b|c\"d|$HOME|42|bt|back\\slash|\ntab\there é 中\n"
    assert err == b""


def test_a_command_starting_with_a_dash_is_a_command(shell):
    process = start(shell, "-pegasus-no-such-command")
    finish(process)
    assert process.returncode == 127


def test_stdin_of_the_job_is_dev_null(shell):
    # The wrapper's stdin stays open (it is pegasus's control channel): a
    # `cat` reading it would never end.
    process = start(shell, "cat; echo end")
    out, _ = finish(process)
    assert out == b"end\n"


def test_cancel_stops_the_whole_job_group_then_the_wrapper_exits(shell):
    tag = "31%d" % os.getpid()
    process = start(shell, "sleep %s & sleep %s | cat; wait" % (tag, tag), grace=5)
    assert wait_until(lambda: len(sleepers(tag)) >= 2)
    process.stdin.write(wrapper.CANCEL)
    process.stdin.flush()
    process.wait(timeout=20)
    assert process.returncode == 128 + signal.SIGTERM
    assert wait_until(lambda: not sleepers(tag))


@pytest.mark.parametrize("job, status", [
    ("trap '' TERM; sleep {tag} & wait", 128 + signal.SIGKILL),
    # The top of the job dies at SIGTERM; a child that ignores it lives on.
    ("(trap '' TERM; sleep {tag}) & wait", 128 + signal.SIGTERM),
], ids=["whole-job-ignores-term", "a-child-ignores-term"])
def test_a_job_ignoring_sigterm_is_waited_for_then_killed_on_request(shell, job, status):
    tag = "32%d" % os.getpid()
    process = start(shell, job.format(tag=tag), grace=60)
    assert wait_until(lambda: sleepers(tag))
    send(process, wrapper.CANCEL)
    time.sleep(0.5)
    assert sleepers(tag), "SIGTERM is ignored: the job must still be there"
    assert process.poll() is None, "the wrapper waits while the job's group lives"
    send(process, wrapper.KILL)
    process.wait(timeout=20)  # not the 60 s grace
    assert process.returncode == status, "the job's own status"
    assert wait_until(lambda: not sleepers(tag))
    assert process.stderr.read() == b"", "no shell notice of the kill in the job's output"


@pytest.mark.parametrize("ignore_term", [False, True], ids=["dies-at-term", "ignores-term"])
def test_a_cancel_arriving_as_the_job_dies_never_hangs_the_wrapper(shell, ignore_term):
    # bash loses a job's status when a trap interrupts `wait` just as the
    # job ends, and then waits forever: vary the moment, many times.
    command = ("trap '' TERM; " if ignore_term else "") + "sleep 300"
    for attempt in range(20):
        process = start(shell, command, grace=600)
        time.sleep(0.02 + 0.01 * (attempt % 6))
        send(process, wrapper.CANCEL)
        if ignore_term:
            time.sleep(0.01 * (attempt % 4))
            send(process, wrapper.KILL)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop_all(process)
            pytest.fail("attempt %d: the wrapper never ended" % attempt)
        finally:
            for stream in (process.stdin, process.stdout, process.stderr):
                stream.close()
        assert process.returncode in (128 + signal.SIGTERM, 128 + signal.SIGKILL)


def test_the_job_runs_at_the_login_shell_s_priority(shell):
    # zsh would renice background jobs (its bg_nice option).
    process = start(shell, "nice")
    out, _ = finish(process)
    assert out.decode().strip() == str(os.nice(0))


def test_end_of_file_on_stdin_ends_the_job_after_the_grace(shell):
    tag = "33%d" % os.getpid()
    process = start(shell, "trap '' TERM; sleep %s" % tag, grace=0.5)
    assert wait_until(lambda: sleepers(tag))
    process.stdin.close()  # pegasus died, or the connection went
    process.wait(timeout=20)
    assert wait_until(lambda: not sleepers(tag))


def test_background_children_outlive_a_normal_end_as_with_plain_ssh(shell):
    tag = "34%d" % os.getpid()
    process = start(shell, "sleep %s >/dev/null 2>&1 & echo started" % tag)
    out, _ = finish(process)
    assert out == b"started\n" and process.returncode == 0
    left = sleepers(tag)
    assert left
    for child in left:
        child.kill()


def _session_members(sid):
    members = []
    for pid in psutil.pids():
        try:
            if os.getsid(pid) == sid:
                members.append(pid)
        except OSError:
            continue
    return members


def test_nothing_of_the_wrapper_outlives_it_when_the_job_ends(shell):
    # Under srun (proctrack/cgroup) a process still in the step when its task
    # exits costs the step a second and a SIGKILL: the watcher must be gone.
    for attempt in range(10):
        process = subprocess.Popen([shell, "-c", wrapper.wrapped_remote("exit 3", 1.0)],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            process.wait(timeout=20)
            assert process.returncode == 3
            assert _session_members(process.pid) == [], "attempt %d" % attempt
        finally:
            assert process.stdin is not None
            process.stdin.close()
