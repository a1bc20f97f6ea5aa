#!/usr/bin/env python3
"""See pegasus work, in about fifteen seconds: scripts/demo [--keep] [--no-sshd]

It starts a private sshd on 127.0.0.1 whose ssh config makes node-1..node-3
aliases of it (scripts/loopback_sshd.py, as the tests do), writes a hosts.yaml
and a queue.yaml in a temporary directory, and runs pegasus on them the way a
user would: a dry run; a run with one job failing on purpose, retried on
another sub-host; what is left, consumed and failed; a daemon's live queue fed
from outside (pegasus l --append, and a shell loop redirected once); pegasus
status from another terminal while the daemon runs a job; Ctrl-C putting that
job back, and the run that resumes it; a broadcast, and an ad-hoc one with
--gather. Where there is no sshd (not installed, and not root to install it)
its hosts are localhost instead, which pegasus runs with a local `sh -c`.

It never touches ~/.ssh, uses no address but 127.0.0.1, and whatever happens
(Ctrl-C included) stops every process it started, by PID, and removes its
temporary directories. Exit status: 0 when the demo went as intended (the
failing job is part of it), 1 otherwise, 130 when interrupted.

scripts/demo installs what this needs first; run directly, it wants the venv's
python (.venv/bin/python scripts/demo.py). scripts/demolib.py has its machinery.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile

from demolib import DemoError, Interrupted, OutputWatch, Pegasus, Processes, Screen, start_sshd

ALIASES = 3

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

FAILING = 'echo "this job fails on purpose" >&2; exit 3'
READY_JOB = 'echo "{{ hostname }} is ready"'
READY_OUTPUT = re.compile(r"\] (\S+) is ready$")            # not the `$ echo "..."` line
LATE_JOB = 'echo "added while the daemon ran: 6 x 7 = $((6 * 7))"'
FED = 3
FEED = 'for i in %s; do echo "- echo fed $i"; sleep 0.2; done >> queue.yaml' % " ".join(
    str(i) for i in range(1, FED + 1))
EPOCHS = 3
LONG_JOB = 'for epoch in %s; do sleep 1; echo "epoch $epoch of %d"; done' % (
    " ".join(str(i) for i in range(1, EPOCHS + 1)), EPOCHS)
BROADCAST_JOBS = ["uname -sr", 'echo "{{ hostname }} has $(nproc) CPUs"']
IDLE = re.compile(r"^pegasus: queue empty: waiting for new entries")


class Demo:
    def __init__(self, options, screen, processes):
        self.options = options
        self.screen = screen
        self.processes = processes
        self.sshd = None
        self.pegasus = Pegasus(screen, processes, None)
        self.work = ""      # the temporary directory, once made

    @property
    def ssh_args(self):
        return self.pegasus.ssh_args()

    def path(self, name):
        return os.path.join(self.work, name)

    def append(self, commands):
        args = ["l"]
        for command in commands:
            args += ["--append", command]
        self.pegasus.run(args, 0, "added under the queue lock")

    def run(self):
        self.set_up()
        self.run_queue()
        self.live_queue()
        self.broadcast()
        self.screen.heading("Done")
        self.screen.say(
            "Try it on your machines: list your ssh aliases in hosts.yaml, your commands in "
            "queue.yaml,",
            "and run `pegasus q`. `. .venv/bin/activate` puts pegasus on your PATH; `pegasus "
            "--help` tells more.")

    def set_up(self):
        screen = self.screen
        screen.heading("pegasus demo")
        screen.say("pegasus runs the commands of queue.yaml on the hosts of hosts.yaml over ssh.")
        self.sshd, why_not = start_sshd(self.options.no_sshd, ALIASES)
        if self.sshd is not None:
            self.pegasus.ssh_config = self.sshd.config
            screen.say("A private sshd listens on 127.0.0.1:%s. Its ssh config, $CFG below, "
                       "makes node-1..node-%d" % (self.sshd.port, ALIASES),
                       "aliases of it, as your ~/.ssh/config does for real hosts (where "
                       "plain `pegasus q` is enough).")
            screen.command("CFG=%s" % shlex.quote(self.sshd.config))
        else:
            screen.say("No private sshd here: %s." % str(why_not).rstrip("."),
                       "So the sub-hosts are localhost, which pegasus runs with a local "
                       "`sh -c`; the rest is the same.")
        self.work = self.pegasus.work = tempfile.mkdtemp(prefix="pegasus-demo-")
        screen.say("`pegasus` is %s." % " ".join(self.pegasus.argv))
        screen.command("cd %s" % shlex.quote(self.work))
        hosts = SSH_HOSTS if self.sshd is not None else LOCAL_HOSTS
        for name, text in (("hosts.yaml", hosts), ("queue.yaml", QUEUE)):
            with open(self.path(name), "w", encoding="utf-8") as stream:
                stream.write(text)

        screen.heading("1. The two files")
        screen.say("Hosts, then jobs. Templates are Handlebars: {{ name }} and helpers such "
                   "as replace and default.")
        screen.file("hosts.yaml", self.path("hosts.yaml"))
        screen.file("queue.yaml", self.path("queue.yaml"))

        screen.heading("2. A dry run")
        screen.say("Every job the queue expands to, with the command each sub-host would "
                   "run. Nothing runs, nothing is consumed.")
        self.pegasus.run(["q", "--dry-run"], 0, "the files are valid")

    def run_queue(self):
        screen = self.screen
        screen.heading("3. Run the queue")
        screen.say("6 jobs on 5 sub-hosts: each line is prefixed by its sub-host, start and "
                   "done lines by the job's",
                   "number; the 6th job waits for a free sub-host. With --retries 1 the "
                   "failing job says RETRY and",
                   "runs again on another sub-host; it fails there too: a summary on stderr, "
                   "the final line, exit 1.")
        self.pegasus.run(["q", "--retries", "1"] + self.ssh_args, 1,
                         "one job failed, twice, as intended")

        screen.heading("4. What is left")
        screen.say("queue.yaml keeps its comments, but every entry was taken. consumed.yaml "
                   "got each job, with its",
                   "parameters, the moment it was taken (the failing one twice: once more for "
                   "its retry).")
        screen.file("queue.yaml", self.path("queue.yaml"))
        screen.file("consumed.yaml", self.path("consumed.yaml"))
        screen.say("Every run's outcome is recorded too: `pegasus l --requeue failed` puts "
                   "back what failed (here,",
                   "with --dry-run, it only says what it would put back).")
        out = self.pegasus.run(["l", "--requeue", "failed", "--dry-run"], 0,
                               "the failed job, once", capture=True)
        if FAILING not in out or "would put back 1 job" not in out:
            raise DemoError("--requeue failed --dry-run did not list the failed job")

    def live_queue(self):
        screen = self.screen
        screen.heading("5. The live queue")
        screen.say("With -d pegasus keeps running when the queue is empty and runs whatever "
                   "is added. Queue one job,",
                   "start a daemon in the background, and once that job ran, add more from "
                   "outside.")
        self.append([READY_JOB])
        args = ["q", "-d"] + self.ssh_args
        daemon, watch = self.pegasus.background(args)
        # If anything goes wrong, clean_up stops the daemon, which ends the watch.
        _, ready = watch.wait_for(READY_OUTPUT, "the queued job's output")
        host = ready.group(1)
        watch.job('echo "%s is ready"' % host, "%s is ready" % host)
        watch.wait_for(IDLE, "that the queue is empty")
        screen.say("The queue is empty and the daemon waits. Add a job from another shell; "
                   "--append takes",
                   "the queue lock, so it is safe while pegasus runs:")
        mark = watch.mark()
        self.append([LATE_JOB])
        watch.job(LATE_JOB, "added while the daemon ran: 6 x 7 = 42", mark)
        screen.say("Plain appends are safe too, from any writer: even a shell loop whose "
                   "output is redirected once,",
                   "which keeps writing to the file it opened while pegasus replaces "
                   "queue.yaml at each take:")
        mark = watch.mark()
        self.pegasus.shell(FEED)
        for i in range(1, FED + 1):
            watch.job("echo fed %d" % i, "fed %d" % i, mark)
        screen.status("all %d fed jobs ran: no append is lost, whoever writes it" % FED)
        seq = self.watch_it(daemon, watch)
        self.cancel_and_resume(daemon, watch, args, seq)

    def watch_it(self, daemon, watch: OutputWatch) -> int:
        """pegasus status (and --json) while the daemon runs a job, and the daemon's
        own answer to SIGUSR1; the job's sequence number."""
        screen = self.screen
        screen.heading("6. Watching it")
        screen.say("Give the daemon a longer job, and look at it from another terminal: "
                   "pegasus status reads what",
                   "the runners keep beside the queue, asking no runner anything.")
        mark = watch.mark()
        self.append([LONG_JOB])
        _, start = watch.wait_for(re.compile(r"\] #(\d+) \$ %s$" % re.escape(LONG_JOB)),
                                  "the start of the long job", mark)
        seq = int(start.group(1))
        out = self.pegasus.run(["status"], 0, "one runner, running #%d" % seq, capture=True)
        if not re.search(r"\(daemon\).*\n  #%d " % seq, out):
            raise DemoError("pegasus status did not show job #%d running" % seq)

        def running(out):
            jobs = [job for runner in json.loads(out)["runners"] for job in runner["running"]]
            if [job["seq"] for job in jobs] != [seq]:
                raise DemoError("pegasus status --json did not show job #%d running" % seq)
            keys = ("seq", "host", "command", "elapsed")
            return "(an excerpt: what its runners run now)\n" + json.dumps(
                [{key: job[key] for key in keys} for job in jobs], indent=2)

        self.pegasus.run(["status", "--json"], 0, "the same, for scripts", excerpt=running)
        screen.say("The daemon itself answers SIGUSR1 with its status, on stderr:")
        mark = watch.mark()
        screen.command("kill -USR1 %d" % daemon.pid)
        daemon.send_signal(signal.SIGUSR1)
        block, _ = watch.wait_for(re.compile(r"^pegasus: status of "), "its status", mark)
        watch.wait_for(re.compile(r"^  #%d " % seq), "its running job", block)
        return seq

    def cancel_and_resume(self, daemon, watch: OutputWatch, args, seq: int):
        screen = self.screen
        screen.heading("7. Ctrl-C, and resuming")
        screen.say("Ctrl-C the daemon, as in its terminal, while the job runs: the job is "
                   "stopped on its host",
                   "and put back at the top of queue.yaml.")
        mark = watch.mark()
        screen.command("kill -INT %d     # what Ctrl-C sends" % daemon.pid)
        daemon.send_signal(signal.SIGINT)
        status = self.processes.wait(daemon)
        watch.join()
        watch.ended_as(seq, "cancelled", mark)
        watch.wait_for(re.compile(r"^pegasus: put back 1 cancelled job"), "the job put back",
                       mark)
        self.pegasus.check(args, status, 130, "cancelled, its job put back")
        screen.file("queue.yaml", self.path("queue.yaml"))
        screen.say("Running pegasus again resumes: the job runs, from the start, to its end.")
        self.pegasus.run(["q"] + self.ssh_args, 0, "the cancelled job ran")

    def broadcast(self):
        screen = self.screen
        screen.heading("8. Broadcast")
        screen.say("`pegasus b` runs each entry on every sub-host, in lockstep: the next "
                   "starts when all are done.")
        self.append(BROADCAST_JOBS)
        self.pegasus.run(["b"] + self.ssh_args, 0, "both commands ran on every sub-host")
        screen.say("Without any file, as pdsh and clush users type it: hosts with -w, "
                   "commands after --.",
                   "--gather prints each distinct output once, under the sub-hosts that "
                   "gave it.")
        hosts = "node-[1-%d]" % ALIASES if self.sshd is not None else "localhost,127.0.0.1,::1"
        self.pegasus.run(["b", "-w", hosts, "--gather"] + self.ssh_args + ["--", "uname -sr"],
                         0, "one output, from every host")

    def clean_up(self):
        self.processes.stop_all()
        if self.sshd is not None:
            self.sshd.stop()
        if not self.work:
            return
        if self.options.keep:
            self.screen.say("", "Kept: %s" % self.work)
            if self.sshd is not None:
                self.screen.say("(the private sshd is gone: there, `pegasus q` needs hosts "
                                "you can reach)")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


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
