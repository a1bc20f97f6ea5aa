"""The demo's machinery (scripts/demo.py says what it shows): what it prints
(`Screen`), the processes it starts and stops by PID (`Processes`), a
background pegasus's output relayed and awaited line by line (`OutputWatch`),
the private sshd (`start_sshd`), and pegasus run and shown as a user would
type it (`Pegasus`)."""

import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from typing import IO, Any, Callable, List, Optional, Tuple

from loopback_sshd import LoopbackSshd, SshdError, find_sshd  # beside this file
from procs import stop_process

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENT_TIMEOUT = 60.0    # safety net only: awaited output normally comes in a second
PROBE_TIMEOUT = 20.0    # for the first `ssh node-1 true` through the private sshd
OWN_EXIT_GRACE = 3.0    # after Ctrl-C, time for a pegasus to finish on its own ...
TERM_GRACE = 10.0       # ... and then after our SIGTERM, before SIGKILL
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


class DemoError(Exception):
    """Something did not go as the demo intends."""


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: treated like Ctrl-C."""


def color_wanted():
    return (sys.stdout.isatty() and not os.environ.get("NO_COLOR")
            and os.environ.get("TERM") != "dumb")


class Screen:
    """What the demo itself prints: headings, narration, the commands a user would
    type. Shared with the thread that relays a background pegasus's output."""

    def __init__(self):
        self.color = color_wanted()
        self.lock = threading.Lock()

    def _write(self, text):
        with self.lock:
            sys.stdout.write(text)
            sys.stdout.flush()

    def _style(self, code, text):
        return "\x1b[%sm%s\x1b[0m" % (code, text) if self.color else text

    def heading(self, text):
        self._write("\n" + self._style("1;4", text) + "\n")

    def say(self, *lines):
        self._write("".join(line + "\n" for line in lines))

    def command(self, text):
        self._write(self._style("1", "$ " + text) + "\n")

    def status(self, text):
        self._write(self._style("1", "-> " + text) + "\n")

    def text(self, text):
        """Text as a program printed it (the last line ended if it was not)."""
        self._write(text if text.endswith("\n") or not text else text + "\n")

    def file(self, name, path):
        self.command("cat " + name)
        with open(path, encoding="utf-8") as stream:
            self.text(stream.read())

    relay = text


class Processes:
    """Every child the demo starts, so that it can stop each by PID at the end."""

    def __init__(self):
        self.running: List["subprocess.Popen[Any]"] = []
        self.hurry = False      # a second interrupt during clean-up: skip the graces

    def start(self, argv, **options) -> "subprocess.Popen[Any]":
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **options)
        self.running.append(process)
        return process

    def wait(self, process) -> int:
        """Its exit status (what it prints is read by others, if anyone)."""
        status = process.wait()
        self.running.remove(process)
        return status

    def output(self, process) -> Tuple[int, str]:
        """Its exit status, and what it printed on its stdout, a pipe."""
        out, _ = process.communicate()
        self.running.remove(process)
        return process.returncode, out.decode("utf-8", errors="replace")

    def stop_all(self):
        """Stop what is still running: a pegasus that shared our Ctrl-C is already
        cancelling its jobs, so it gets a moment to finish on its own; then SIGTERM
        (pegasus cancels as on Ctrl-C, and kills at once if it had one already);
        then SIGKILL."""
        for process in list(self.running):
            stop_process(process, TERM_GRACE, own_exit=OWN_EXIT_GRACE,
                         hurry=lambda: self.hurry)
            self.running.remove(process)


class OutputWatch:
    """Relays a process's output line by line and lets the demo await a line: an
    event, not a sleep. EVENT_TIMEOUT is only a safety net."""

    def __init__(self, process, stream: IO[bytes], screen):
        self.process = process
        self.screen = screen
        self.lines: List[str] = []
        self.ended = False
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for raw in stream:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.screen.relay(line + "\n")
            with self.changed:
                self.lines.append(ESCAPES.sub("", line))
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def mark(self) -> int:
        """Where the output is now: wait_for(..., after=mark()) looks only later."""
        with self.changed:
            return len(self.lines) - 1

    def wait_for(self, pattern: "re.Pattern[str]", what: str,
                 after: int = -1) -> Tuple[int, "re.Match[str]"]:
        """The first line after `after` that matches pattern: its index and match."""
        def found():
            for index in range(after + 1, len(self.lines)):
                match = pattern.search(self.lines[index])
                if match:
                    return index, match
            return None

        with self.changed:
            if not self.changed.wait_for(lambda: found() is not None or self.ended,
                                         timeout=EVENT_TIMEOUT):
                raise DemoError("pegasus did not show %s within %g s" % (what, EVENT_TIMEOUT))
            result = found()
        if result is None:
            raise DemoError("pegasus stopped (status %s) before showing %s"
                            % (self.process.wait(), what))
        return result

    def job(self, command: str, output: str, after: int = -1) -> int:
        """Await a job: its start line (`[host] #7 $ COMMAND`), a line of output,
        and its done line; return its sequence number. A job that fails is an
        error."""
        _, start = self.wait_for(re.compile(r"\] #(\d+) \$ %s$" % re.escape(command)),
                                 "the start of `%s`" % command, after)
        seq = int(start.group(1))
        self.wait_for(re.compile(r"\] %s$" % re.escape(output)), "`%s`" % output, after)
        self.ended_as(seq, "done: exit 0", after)
        return seq

    def ended_as(self, seq: int, ending: str, after: int = -1) -> None:
        """Await the done line of job #seq, which must begin with `ending`
        (`done: exit 0`, `cancelled`...)."""
        _, end = self.wait_for(re.compile(r"\] #%d ((?:done|FAILED|RETRY|LOST|cancelled)\b.*)$"
                                          % seq),
                               "the end of #%d" % seq, after)
        if not end.group(1).startswith(ending):
            raise DemoError("job #%d ended with `%s`, not `%s`" % (seq, end.group(1), ending))

    def join(self):
        self.thread.join(timeout=EVENT_TIMEOUT)


def start_sshd(no_sshd: bool, aliases: int) -> Tuple[Optional[LoopbackSshd], Optional[str]]:
    """A private sshd that answers ssh, or None and the reason there is none."""
    if no_sshd:
        return None, "--no-sshd asks for none"
    if find_sshd() is None:
        return None, "sshd is not installed (Debian package openssh-server)"
    for tool in ("ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return None, "%s is not installed (Debian package openssh-client)" % tool
    sshd = LoopbackSshd(None, aliases=aliases)
    try:
        sshd.start()
    except (SshdError, OSError, subprocess.CalledProcessError) as exc:
        sshd.stop()
        return None, "the private sshd did not start: %s" % exc
    try:
        probe = subprocess.run(
            sshd.ssh_argv(sshd.aliases[0], "true"), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=PROBE_TIMEOUT,
            check=False)
    except subprocess.TimeoutExpired:
        sshd.stop()
        return None, "ssh to the private sshd did not answer in %g s" % PROBE_TIMEOUT
    if probe.returncode != 0:
        sshd.stop()
        return None, "ssh to the private sshd failed: %s" % (
            probe.stdout.decode(errors="replace").strip() or probe.returncode)
    return sshd, None


class Pegasus:
    """pegasus as the demo runs it (the venv's), and as it shows it: as a user
    would type it, the private ssh config as $CFG."""

    def __init__(self, screen, processes, ssh_config: Optional[str]):
        self.screen = screen
        self.processes = processes
        self.ssh_config = ssh_config    # None: localhost sub-hosts, no ssh
        self.work: Optional[str] = None
        script = os.path.join(os.path.dirname(sys.executable), "pegasus")
        self.argv = [script] if os.access(script, os.X_OK) else [sys.executable, "-m",
                                                                 "pegasus"]
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = REPO + os.pathsep + self.env.get("PYTHONPATH", "")

    def ssh_args(self) -> List[str]:
        return ["--ssh-config", self.ssh_config] if self.ssh_config else []

    def shown(self, args) -> str:
        words = ["pegasus"]
        for arg in args:
            words.append("$CFG" if arg == self.ssh_config else shlex.quote(arg))
        return " ".join(words)

    def run(self, args, expect: int, meaning: str, capture=False,
            excerpt: Optional[Callable[[str], str]] = None) -> str:
        """Run pegasus in the foreground, its output straight to the terminal
        (`capture`: through us, and returned too; `excerpt`: what of it to
        show)."""
        self.screen.command(self.shown(args))
        capture = capture or excerpt is not None
        pipe = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT} if capture else {}
        process = self.processes.start(self.argv + args, cwd=self.work, env=self.env, **pipe)
        if capture:
            status, out = self.processes.output(process)
            self.screen.relay(excerpt(out) if excerpt and status == expect else out)
        else:
            status, out = self.processes.wait(process), ""
        self.check(args, status, expect, meaning)
        return out

    def check(self, args, status: int, expect: int, meaning: str) -> None:
        if status != expect:
            raise DemoError("`%s` exited with status %d where %d was expected"
                            % (self.shown(args), status, expect))
        self.screen.status("exit status %d: %s" % (status, meaning))

    def background(self, args) -> Tuple["subprocess.Popen[Any]", OutputWatch]:
        """Start pegasus in the background, its stdout and stderr relayed (in
        their order) by an OutputWatch."""
        self.screen.command(self.shown(args) + " &")
        # Its output comes through us, so it is not on a terminal: colors as ours.
        hidden = ["--color", "always"] if self.screen.color else []
        process = self.processes.start(self.argv + args + hidden, cwd=self.work, env=self.env,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        return process, OutputWatch(process, process.stdout, self.screen)

    def shell(self, script: str) -> None:
        """Run a shell command line in the work directory, as typed."""
        self.screen.command(script)
        process = self.processes.start(["sh", "-c", script], cwd=self.work)
        status = self.processes.wait(process)
        if status != 0:
            raise DemoError("`%s` exited with status %d" % (script, status))
