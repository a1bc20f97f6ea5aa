#!/usr/bin/env python3
"""See pegasus work, in about ten seconds: scripts/demo [--keep] [--no-sshd]

It starts a private sshd on 127.0.0.1 whose ssh config makes node-1..node-3
aliases of it (scripts/loopback_sshd.py, as the tests do), writes a hosts.yaml
and a queue.yaml in a temporary directory, and runs pegasus on them the way a
user would: a dry run, a real run with one job failing on purpose, the live
queue of a daemon fed from outside, and a broadcast. Where there is no sshd (not
installed, and not root to install it) its hosts are localhost instead, which
pegasus runs with a local `sh -c`.

It never touches ~/.ssh, uses no address but 127.0.0.1, and whatever happens
(Ctrl-C included) stops every process it started, by PID, and removes its
temporary directories. Exit status: 0 when the demo went as intended (the
failing job is part of it), 1 otherwise, 130 when interrupted.

scripts/demo installs what this needs first; run directly, it wants the venv's
python (.venv/bin/python scripts/demo.py).
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from typing import Any, List, Optional

from loopback_sshd import LoopbackSshd, SshdError, find_sshd  # beside this file
from procs import stop_process

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALIASES = 3
EVENT_TIMEOUT = 60.0    # safety net only: awaited output normally comes in a second
PROBE_TIMEOUT = 20.0    # for the first `ssh node-1 true` through the private sshd
OWN_EXIT_GRACE = 3.0    # after Ctrl-C, time for a pegasus to finish on its own ...
TERM_GRACE = 10.0       # ... and then after our SIGTERM, before SIGKILL

SSH_HOSTS = """\
# hosts.yaml: where jobs run. Each name is given to ssh as is (an alias of
# ~/.ssh/config, user@host...); a mapping expands to every combination of
# its lists, and each combination, a "sub-host", runs one job at a time.
- hostname: [node-1, node-2]
  gpu: [0, 1]        # 2 hostnames x 2 gpus = 4 sub-hosts
- node-3             # and a fifth
"""

LOCAL_HOSTS = """\
# hosts.yaml: where jobs run. localhost, 127.0.0.1 and ::1 run commands with
# a local `sh -c`, no ssh; a mapping expands to every combination of its
# lists, and each combination, a "sub-host", runs one job at a time.
- hostname: [localhost, 127.0.0.1]
  gpu: [0, 1]        # 2 hostnames x 2 gpus = 4 sub-hosts
- ::1                # and a fifth
"""

QUEUE = """\
# queue.yaml: pegasus takes entries from the top as sub-hosts become free.
# {{ hostname }} and the host's parameters are filled in on each sub-host.
- echo "hello from {{ hostname }}, gpu {{ default gpu "none" }}"
# A mapping runs once per combination of its lists: 2 models x 2 = 4 jobs.
- command: sleep {{ seconds }}; echo "trained {{ replace model "/" "--" }} in {{ seconds }} s"
  model: [facebook/opt-125m, EleutherAI/pythia-160m]
  seconds: [1, 2]
# This one fails on purpose.
- echo "this job fails on purpose" >&2; exit 3
"""

READY_JOB = 'echo "{{ hostname }} is ready"'
READY_OUTPUT = re.compile(r"\] \S+ is ready$")              # not the `$ echo "..."` line
LATE_JOB = 'echo "added while the daemon ran: 6 x 7 = $((6 * 7))"'
LATE_OUTPUT = re.compile(r"\] added while the daemon ran: 6 x 7 = 42$")
JOB_END = re.compile(r"\] (done|FAILED): ")
BROADCAST_JOBS = ["uname -sr", 'echo "{{ hostname }} has $(nproc) CPUs"']
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
    type. Shared with the thread that relays the daemon's output."""

    def __init__(self):
        self.color = color_wanted()
        self.lock = threading.Lock()

    def _write(self, text):
        with self.lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def _style(self, code, text):
        return "\x1b[%sm%s\x1b[0m" % (code, text) if self.color else text

    def heading(self, text):
        self._write("\n" + self._style("1;4", text))

    def say(self, text):
        self._write(text)

    def command(self, text):
        self._write(self._style("1", "$ " + text))

    def status(self, text):
        self._write(self._style("1", "-> " + text))

    def file(self, name, path):
        self.command("cat " + name)
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        with self.lock:
            sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
            sys.stdout.flush()

    def relay(self, line):
        self._write(line)


class Processes:
    """Every child the demo starts, so that it can stop each by PID at the end."""

    def __init__(self):
        self.running: List["subprocess.Popen[Any]"] = []
        self.hurry = False      # a second interrupt during clean-up: skip the graces

    def start(self, argv, **options):
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **options)
        self.running.append(process)
        return process

    def wait(self, process):
        status = process.wait()
        self.running.remove(process)
        return status

    def stop_all(self):
        """Stop what is still running: a pegasus that shared our Ctrl-C is already
        cancelling its jobs, so it gets a moment to finish on its own; then SIGTERM
        (pegasus cancels as on Ctrl-C, and kills at once if it had one already);
        then SIGKILL."""
        for process in list(self.running):
            stop_process(process, TERM_GRACE, own_exit=OWN_EXIT_GRACE,
                         hurry=lambda: self.hurry)
            self.running.remove(process)


class Demo:
    def __init__(self, options, screen, processes):
        self.options = options
        self.screen = screen
        self.processes = processes
        self.sshd: Optional[LoopbackSshd] = None
        self.ssh_config: Optional[str] = None   # None: localhost sub-hosts, no ssh
        self.work: Optional[str] = None

    # -- setting up ------------------------------------------------------------------

    def start_sshd(self):
        """A private sshd, or the reason there is none."""
        if self.options.no_sshd:
            return "--no-sshd asks for none"
        if find_sshd() is None:
            return "sshd is not installed (Debian package openssh-server)"
        for tool in ("ssh", "ssh-keygen"):
            if shutil.which(tool) is None:
                return "%s is not installed (Debian package openssh-client)" % tool
        self.sshd = LoopbackSshd(None, aliases=ALIASES)
        try:
            self.sshd.start()
        except (SshdError, OSError, subprocess.CalledProcessError) as exc:
            return "the private sshd did not start: %s" % exc
        try:
            probe = subprocess.run(
                self.sshd.ssh_argv(self.sshd.aliases[0], "true"), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=PROBE_TIMEOUT,
                check=False)
        except subprocess.TimeoutExpired:
            self.sshd.stop()
            return "ssh to the private sshd did not answer in %g s" % PROBE_TIMEOUT
        if probe.returncode != 0:
            self.sshd.stop()
            return "ssh to the private sshd failed: %s" % (
                probe.stdout.decode(errors="replace").strip() or probe.returncode)
        self.ssh_config = self.sshd.config
        return None

    def pegasus_argv(self):
        """The venv's `pegasus` console script, else `python -m pegasus`."""
        script = os.path.join(os.path.dirname(sys.executable), "pegasus")
        if os.access(script, os.X_OK):
            return [script]
        return [sys.executable, "-m", "pegasus"]

    def environment(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def ssh_args(self):
        return ["--ssh-config", self.ssh_config] if self.ssh_config else []

    def shown(self, args):
        """The command line as a user would type it, the config path as $CFG."""
        words = ["pegasus"]
        for arg in args:
            words.append("$CFG" if arg == self.ssh_config else shlex.quote(arg))
        return " ".join(words)

    # -- running pegasus -------------------------------------------------------------

    def pegasus(self, args, expect, meaning):
        """Run pegasus in the foreground, its output straight to the terminal."""
        self.screen.command(self.shown(args))
        process = self.processes.start(self.pegasus_argv() + args, cwd=self.work,
                                       env=self.environment())
        status = self.processes.wait(process)
        self.check(args, status, expect, meaning)

    def check(self, args, status, expect, meaning):
        if status != expect:
            raise DemoError("`%s` exited with status %d where %d was expected"
                            % (self.shown(args), status, expect))
        self.screen.status("exit status %d: %s" % (status, meaning))

    def append(self, commands):
        args = ["l"]
        for command in commands:
            args += ["--append", command]
        self.pegasus(args, 0, "added under the queue lock")

    # -- the steps -------------------------------------------------------------------

    def run(self):
        screen = self.screen
        screen.heading("pegasus demo")
        screen.say("pegasus runs the commands of queue.yaml on the hosts of hosts.yaml over "
                   "ssh.")
        why_not = self.start_sshd()
        if why_not is None:
            # start_sshd() gives no reason only when it set both.
            assert self.sshd is not None and self.ssh_config is not None
            screen.say("A private sshd listens on 127.0.0.1:%s. Its ssh config, $CFG below, "
                       "makes node-1..node-%d" % (self.sshd.port, ALIASES))
            screen.say("aliases of it, as your ~/.ssh/config does for real hosts (where "
                       "plain `pegasus q` is enough).")
            screen.command("CFG=%s" % shlex.quote(self.ssh_config))
        else:
            screen.say("No private sshd here: %s." % why_not.rstrip("."))
            screen.say("So the sub-hosts are localhost, which pegasus runs with a local "
                       "`sh -c`; the rest is the same.")
        self.work = tempfile.mkdtemp(prefix="pegasus-demo-")
        screen.say("`pegasus` is %s." % " ".join(self.pegasus_argv()))
        screen.command("cd %s" % shlex.quote(self.work))
        hosts = SSH_HOSTS if self.ssh_config else LOCAL_HOSTS
        for name, text in (("hosts.yaml", hosts), ("queue.yaml", QUEUE)):
            with open(os.path.join(self.work, name), "w", encoding="utf-8") as stream:
                stream.write(text)

        screen.heading("1. The two files")
        screen.say("Hosts, then jobs. Templates are Handlebars: {{ name }} and helpers "
                   "such as replace and default.")
        screen.file("hosts.yaml", os.path.join(self.work, "hosts.yaml"))
        screen.file("queue.yaml", os.path.join(self.work, "queue.yaml"))

        screen.heading("2. A dry run")
        screen.say("Every job the queue expands to, with the command each sub-host would "
                   "run. Nothing runs, nothing is consumed.")
        self.pegasus(["q", "--dry-run"], 0, "the files are valid")

        screen.heading("3. Run the queue")
        screen.say("6 jobs on 5 sub-hosts: each line is prefixed by its sub-host; the 6th "
                   "job waits for a free one.")
        screen.say("At the end, a summary of the failed job on stderr, and exit status 1.")
        self.pegasus(["q"] + self.ssh_args(), 1, "one job failed, as intended")

        screen.heading("4. What is left")
        screen.say("queue.yaml keeps its comments, but every entry was taken. consumed.yaml "
                   "got each job, with its")
        screen.say("parameters, the moment it was taken (copy one back to queue.yaml to run "
                   "it again).")
        screen.file("queue.yaml", os.path.join(self.work, "queue.yaml"))
        screen.file("consumed.yaml", os.path.join(self.work, "consumed.yaml"))

        screen.heading("5. The live queue")
        screen.say("With -d pegasus keeps running when the queue is empty and runs whatever "
                   "is added. Queue one job,")
        screen.say("start a daemon in the background, and once that job ran, add another "
                   "from outside.")
        self.append([READY_JOB])
        self.live_queue()

        screen.heading("6. Broadcast")
        screen.say("`pegasus b` runs each entry on every sub-host, in lockstep: the next "
                   "starts when all are done.")
        self.append(BROADCAST_JOBS)
        self.pegasus(["b"] + self.ssh_args(), 0, "both commands ran on every sub-host")

        screen.heading("Done")
        screen.say("Try it on your machines: list your ssh aliases in hosts.yaml, your "
                   "commands in queue.yaml,")
        screen.say("and run `pegasus q`. `. .venv/bin/activate` puts pegasus on your PATH; "
                   "`pegasus --help` tells more.")

    def live_queue(self):
        screen = self.screen
        args = ["q", "-d"] + self.ssh_args()
        screen.command(self.shown(args) + " &")
        # Its output comes through us (we watch it), so it is not on a terminal.
        hidden = ["--color", "always"] if screen.color else []
        daemon = self.processes.start(self.pegasus_argv() + args + hidden, cwd=self.work,
                                      env=self.environment(), stdout=subprocess.PIPE)
        # If anything goes wrong, clean_up stops the daemon, which ends the watch.
        watch = OutputWatch(daemon, screen)
        ready = watch.wait_for(READY_OUTPUT, "the queued job's output")
        watch.wait_for(JOB_END, "the queued job's end", after=ready)
        screen.say("The queue is empty and the daemon waits. Add a job from another "
                   "shell; --append takes")
        screen.say("the queue lock, so it is safe while pegasus runs:")
        self.append([LATE_JOB])
        late = watch.wait_for(LATE_OUTPUT, "the added job's output")
        watch.wait_for(JOB_END, "the added job's end", after=late)
        screen.say("It ran. Stop the daemon as Ctrl-C would (SIGTERM, SIGINT and SIGHUP "
                   "all cancel):")
        screen.command("kill -TERM %d" % daemon.pid)
        daemon.send_signal(signal.SIGTERM)
        status = self.processes.wait(daemon)
        watch.join()
        self.check(args, status, 130, "cancelled")

    # -- the end ---------------------------------------------------------------------

    def clean_up(self):
        self.processes.stop_all()
        if self.sshd is not None:
            self.sshd.stop()
        if self.work is None:
            return
        if self.options.keep:
            self.screen.say("")
            self.screen.say("Kept: %s" % self.work)
            if self.ssh_config:
                self.screen.say("(the private sshd is gone: there, `pegasus q` needs "
                                "hosts you can reach)")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


class OutputWatch:
    """Relays a process's stdout line by line and lets the demo await a line: an
    event, not a sleep. EVENT_TIMEOUT is only a safety net."""

    def __init__(self, process, screen):
        self.process = process
        self.screen = screen
        self.lines = []
        self.ended = False
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.screen.relay(line)
            with self.changed:
                self.lines.append(ESCAPES.sub("", line))
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for(self, pattern, what, after=-1):
        """Index of the first line after `after` that matches pattern."""
        def found():
            for index in range(after + 1, len(self.lines)):
                if pattern.search(self.lines[index]):
                    return index
            return None

        with self.changed:
            if not self.changed.wait_for(lambda: found() is not None or self.ended,
                                         timeout=EVENT_TIMEOUT):
                raise DemoError("the daemon did not show %s within %g s"
                                % (what, EVENT_TIMEOUT))
            index = found()
        if index is None:
            raise DemoError("the daemon stopped (status %s) before showing %s"
                            % (self.process.wait(), what))
        return index

    def join(self):
        self.thread.join(timeout=EVENT_TIMEOUT)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="scripts/demo", description=__doc__.split("\n\n")[0].split(": ")[0] + ".")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (hosts.yaml, queue.yaml, "
                             "consumed.yaml) and print its path")
    parser.add_argument("--no-sshd", action="store_true",
                        help="run on localhost sub-hosts, without ssh, even where a "
                             "private sshd could run")
    return parser.parse_args(argv)


def main(argv=None):
    options = parse_args(argv)
    screen = Screen()
    processes = Processes()

    def interrupted(signum, frame):
        raise Interrupted()

    def hurry(signum, frame):
        processes.hurry = True

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)
    demo = Demo(options, screen, processes)
    status = 0
    try:
        demo.run()
    except (KeyboardInterrupt, Interrupted):
        sys.stderr.write("\ndemo: interrupted; cleaning up\n")
        status = 130
    except DemoError as exc:
        sys.stderr.write("\ndemo: %s\n" % exc)
        status = 1
    finally:
        # Clean-up runs to its end: another interrupt only cuts the waiting short.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, hurry)
        demo.clean_up()
    return status


if __name__ == "__main__":
    sys.exit(main())
