"""Output on a terminal: long lines wrap under the prefix at the terminal's
width, read again when the window is resized. Run under a pseudo-terminal."""

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from runpegasus import Workspace, environment, wait_for


def set_width(fd, columns):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))


def read_until(master, predicate, timeout=30):
    seen = b""
    deadline = time.monotonic() + timeout
    while not predicate(seen):
        remaining = deadline - time.monotonic()
        assert remaining > 0, seen.decode(errors="replace")
        ready, _, _ = select.select([master], [], [], remaining)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace").replace("\r\n", "\n")


@pytest.fixture
def terminal():
    master, slave = pty.openpty()
    set_width(slave, 60)
    yield master, slave
    os.close(master)


def test_long_lines_wrap_under_the_prefix_and_follow_a_resize(tmp_path, sshd, terminal):
    master, slave = terminal
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- node-1\n")
    go = work.file("go")
    line = "printf '%0150d\\n' 0 | tr 0 x"  # 150 x, without 150 x in the command
    work.queue("- %s; while [ ! -e %s ]; do sleep 0.05; done; %s\n" % (line, go, line))
    env = environment()
    env.pop("COLUMNS", None)
    # stderr elsewhere: no status line drawn between the lines read raw here
    # (test_statusline_screen.py looks at it on a real screen).
    process = subprocess.Popen(work.argv("q", "--color", "never"), cwd=work.path, env=env,
                               stdin=subprocess.DEVNULL, stdout=slave,
                               stderr=subprocess.DEVNULL)
    try:
        first = read_until(master, lambda seen: b" " * 9 + b"x" * 48 + b"\r\n" in seen)
        set_width(slave, 100)
        process.send_signal(signal.SIGWINCH)
        time.sleep(0.3)  # let the resize be read before the second line comes
        open(go, "w").close()
        rest = read_until(master, lambda seen: b"done:" in seen)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(slave)
    prefix = "[node-1] "
    def xs(text):
        return [line for line in text.splitlines() if set(line[len(prefix):]) == {"x"}]

    pieces = xs(first)
    # 60 columns: 51 characters after the 9-column prefix, continued under it.
    assert pieces[0] == prefix + "x" * 51
    assert pieces[1] == " " * len(prefix) + "x" * 51
    assert pieces[2] == " " * len(prefix) + "x" * 48
    after = xs(rest)
    assert after[0] == prefix + "x" * 91 and after[1] == " " * len(prefix) + "x" * 59


def test_output_that_is_not_a_terminal_is_never_wrapped(tmp_path, sshd):
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- node-1\n")
    work.queue("- echo %s\n" % ("y" * 500))
    result = work.run("q", env=environment(COLUMNS="40"))
    assert "[node-1] " + "y" * 500 + "\n" in result.stdout


def test_stale_socket_directories_of_dead_runs_are_removed(tmp_path, tmp_path_factory, sshd):
    short = str(tmp_path_factory.mktemp("s"))
    if len(short) > 40:
        pytest.skip("temporary directory path too long for socket paths")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = os.path.join(short, "pegasus-stale")
    os.mkdir(stale)
    with open(os.path.join(stale, "owner"), "w") as stream:
        stream.write("%d\n" % dead.pid)
    alive = os.path.join(short, "pegasus-alive")
    os.mkdir(alive)
    with open(os.path.join(alive, "owner"), "w") as stream:
        stream.write("%d\n" % os.getpid())
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- node-1\n")
    work.queue("- 'true'\n")
    assert work.run("q", env=environment(TMPDIR=short)).returncode == 0
    wait_for(lambda: not os.path.exists(stale))
    assert os.path.exists(alive)  # a live run's directory is left alone
