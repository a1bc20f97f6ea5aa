"""A real terminal for the tests: a private tmux server (its own socket in
a temporary directory, never the user's), one window of a chosen size
running one command, read back with capture-pane. Stopped by its PID."""

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONFIG = ("set -g remain-on-exit on\n"     # the screen stays after the command ends
          "set -g history-limit 50000\n"
          "set -g status off\n")           # every row is the command's


def have_tmux():
    return shutil.which("tmux") is not None


class Screen:
    """`Screen(width, height).start(argv, cwd, env)`; `capture()`;
    `wait_for(predicate)`; `resize(width)`; `exit_status()`; `stop()`."""

    def __init__(self, width=100, height=30):
        self.width = width
        self.height = height
        # Short: a unix socket path has ~100 bytes.
        self.directory = tempfile.mkdtemp(prefix="pgtm", dir="/tmp")
        self.socket = os.path.join(self.directory, "s")
        self.status_file = os.path.join(self.directory, "rc")
        self.pid = None
        with open(os.path.join(self.directory, "tmux.conf"), "w") as stream:
            stream.write(CONFIG)

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.socket, "-f",
                               os.path.join(self.directory, "tmux.conf")] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              check=check, timeout=30)

    def start(self, argv, cwd, env):
        """Run `argv` in `cwd` with exactly `env` in the window; its exit
        status is written to a file when it ends."""
        script = os.path.join(self.directory, "run.sh")
        with open(script, "w") as stream:
            stream.write("cd %s || exit 99\n" % shlex.quote(str(cwd)))
            # Ctrl-C (send_keys("C-c")) reaches the command; the shell lives on to
            # write its status (a trapped signal is the default again after exec).
            stream.write("trap : INT\n")
            # env -i: nothing of the tmux server's own environment (COLUMNS...).
            assignments = ["%s=%s" % (name, shlex.quote(value)) for name, value in env.items()
                           if _NAME.match(name)]
            stream.write("env -i %s %s\necho $? > %s\n" % (
                " ".join(assignments), " ".join(shlex.quote(a) for a in argv),
                shlex.quote(self.status_file)))
        self.tmux("new-session", "-d", "-s", "t", "-x", str(self.width), "-y",
                  str(self.height), "sh %s" % shlex.quote(script))
        self.pid = int(self.tmux("display-message", "-p", "-t", "t", "#{pid}").stdout)
        return self

    def capture(self, escapes=False, history=False):
        """The rows of the window (with `history`, also those scrolled off),
        trailing blank rows left out."""
        args = ["capture-pane", "-p", "-t", "t"]
        if escapes:
            args.append("-e")
        if history:
            args += ["-S", "-"]
        rows = self.tmux(*args).stdout.split("\n")
        while rows and (not rows[-1].strip() or "Pane is dead" in rows[-1]):
            rows.pop()
        return rows

    def wait_for(self, predicate, timeout=60, **capture):
        """Capture until `predicate(rows)` is true; the rows. A safety net,
        not a timing claim."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.capture(**capture)
            if predicate(rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError("screen never matched:\n" + "\n".join(rows))
            time.sleep(0.05)

    def send_keys(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def resize(self, width, height=None):
        self.width = width
        self.height = height or self.height
        self.tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(self.height))

    def exit_status(self, timeout=60):
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.status_file) or not open(self.status_file).read():
            assert time.monotonic() < deadline, "the command never ended"
            time.sleep(0.05)
        return int(open(self.status_file).read())

    def stop(self):
        """Stop this server (by its PID) and what runs in it."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _alive(self.pid):
                time.sleep(0.02)
            if _alive(self.pid):
                os.kill(self.pid, signal.SIGKILL)
            self.pid = None
        shutil.rmtree(self.directory, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of ours is not alive
        with open("/proc/%d/stat" % pid) as stream:
            return stream.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True
