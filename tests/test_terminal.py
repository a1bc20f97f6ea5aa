"""Output on a terminal: long lines wrap under the prefix at the terminal's
width, read again when the window is resized. Run under a pseudo-terminal."""

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time

import pytest
from helpers.runpegasus import Workspace, environment, wait_for


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


# --- on a real terminal (a private tmux server) ------------------------------------

def _screen_env(term):
    env = environment(TERM=term)
    for name in ("NO_COLOR", "COLORTERM", "COLUMNS", "LINES"):
        env.pop(name, None)
    return env


@pytest.fixture
def screen():
    from helpers.tmuxscreen import Screen, have_tmux
    if not have_tmux():
        pytest.skip("tmux is not installed")
    screens = []

    def open_screen(width, height=40):
        screens.append(Screen(width, height))
        return screens[-1]

    yield open_screen
    for each in screens:
        each.stop()


def _foreground(escapes):
    """The foreground color the escapes leave set, as `36` or `38;5;74`."""
    color = None
    for params in re.findall(r"\x1b\[([0-9;]*)m", escapes):
        codes = params.split(";")
        while codes:
            code = codes.pop(0)
            if code == "38" and codes[:1] == ["5"]:
                color = "38;5;" + codes[1]
                codes = codes[2:]
            elif code in ("0", "39"):
                color = None
            elif code.isdigit() and (30 <= int(code) <= 37 or 90 <= int(code) <= 97):
                color = code
    return color


RED_SGR = {"31", "91", "38;5;1", "38;5;9", "38;5;88", "38;5;124", "38;5;160", "38;5;196"}


@pytest.mark.parametrize("term", ["screen", "xterm-256color"])
def test_two_sub_hosts_with_the_same_label_get_different_colors_in_a_real_terminal(
        tmp_path, sshd, screen, term):
    work = Workspace(tmp_path, sshd.config)
    twin = "- hostname: node-1\n  laziness: 3\n"
    work.hosts(twin + twin + "- node-2\n- node-3\n")
    work.queue("- echo hi\n")
    shown = screen(100).start(work.argv("b"), work.path, _screen_env(term))
    assert shown.exit_status() == 0
    colors: dict = {}
    for row in shown.capture(escapes=True, history=True):
        match = re.match(r"((?:\x1b\[[0-9;]*m)*)\[([^]]+)\]\x1b\[[0-9;]*m hi$", row)
        if match:
            colors.setdefault(match.group(2), []).append(_foreground(match.group(1)))
    assert sorted(colors) == ["node-1 (laziness=3)", "node-2", "node-3"]
    twins = colors["node-1 (laziness=3)"]
    assert len(twins) == 2 and twins[0] != twins[1], "same label, two sub-hosts: two colors"
    every = twins + colors["node-2"] + colors["node-3"]
    assert len(set(every)) == 4, "neighbours in hosts.yaml differ"
    assert not RED_SGR & set(every), "red is for FAILED"
    assert all(color.startswith("38;5;") == term.endswith("256color") for color in every)


@pytest.mark.parametrize("width", [60, 100])
def test_continuation_rows_go_under_the_text_not_under_a_prefix(tmp_path, sshd, screen, width):
    work = Workspace(tmp_path, sshd.config)
    work.hosts("- node-1\n")
    work.queue("- printf '%0300d\\n' 0 | tr 0 y\n"
               "- |\n  echo 'a. short'\n  printf 'b. %0200d\\n' 0 | tr 0 z\n  echo 'c. short'\n")
    shown = screen(width).start(work.argv("q"), work.path, _screen_env("xterm-256color"))
    assert shown.exit_status() == 0
    rows = shown.capture(history=True)
    prefix = "[node-1] "
    room = width - len(prefix)
    ys = [row for row in rows if set(row[len(prefix):]) == {"y"}]
    assert ys[0] == prefix + "y" * room
    assert all(row.startswith(" " * len(prefix)) for row in ys[1:])
    assert "".join(row[len(prefix):] for row in ys) == "y" * 300
    block = rows[rows.index(prefix + "a. short"):rows.index(prefix + "c. short") + 1]
    assert block[1] == prefix + "b. " + "z" * (room - 3)
    assert all(row == " " * len(prefix) + row.strip() for row in block[2:-1])
    assert "".join(row[len(prefix):] for row in block[1:-1]) == "b. " + "z" * 200
