#!/usr/bin/env python3
"""The performance benchmark of pegasus: how close it comes to raw ssh.

Everything runs against a private sshd on 127.0.0.1 (scripts/loopback_sshd.py)
whose ssh_config names the aliases node-1..node-N; nothing leaves the machine.

Cases (select with --only, by name or letter):
  a limit     N ControlMasters opened first (not timed), then N concurrent
              shell loops of raw `ssh -S sock node-k true`: the floor for
              running JOBS commands over N connections
  b pegasus   `pegasus q` as a subprocess, JOBS `true` jobs over N sub-hosts;
              wall time, including starting Python and connecting
  c parallel  GNU parallel -M with the same jobs and N slots
  d cpu       pegasus's own CPU time per job (its process, not its ssh children),
              measured in-process in a forked child
  e take      taking one job from a 10,000 and a 100,000-entry queue.yaml
  f fanout    broadcast, cold: one command on 64 aliases, connections
              included: `pegasus b` vs pdsh -f 64, clush -f 64, parallel-ssh -p 64
  g lockstep  ten commands on 64 aliases: one `pegasus b` (masters opened
              once, reused) vs ten invocations of each of those peers
  h fanout256 (f) and (g) on 256 aliases (256 sub-hosts on the one sshd)

  In (f)-(h) each command is `: > DIR/cK/$$`: like `true` a shell builtin
  (no fork), but it leaves one file per host that ran it, so every run is
  checked to have reached every alias -- a misconfigured tool cannot look
  fast. pegasus's peak memory (its own RSS high-water, and the sum of its
  ssh children's RSS) is sampled with psutil every 20 ms in one extra,
  untimed run, so that the sampling does not slow the timed ones.

    scripts/bench.py                 # best of 3, 400 jobs, 8 hosts
    scripts/bench.py --quick         # one run, 100 jobs, no 100,000-entry queue
    scripts/bench.py --only a,b      # just the limit and pegasus
    scripts/bench.py --only f,g,h    # just the broadcast fan-out

Adding a case: write `case_NAME(bench)`, register it in CASES (and LETTERS,
LABELS), and give it targets in `targets()` if it has any. It returns a list
of Row (measured at once), a Timed, or a list of both. A Timed is one
function doing one run, which the driver calls --repeat times, interleaved
round by round with the other Timed cases (so that a burst of load elsewhere
on the machine hits them all alike), keeping the best. `bench.aliases(n)`
adds aliases to the running sshd (fan-out rows: one command on 64 or 256
aliases), `bench.tool()` finds or installs a competitor (pdsh, clush,
parallel-ssh) or says why it is skipped.

Exit status: 0, or 1 if a case or one of its runs failed (or, with --check, a
target was missed).
"""

import argparse
import collections
import importlib.util
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from loopback_sshd import LoopbackSshd  # noqa: E402  (scripts/ is not a package)

RUN_TIMEOUT = 600.0      # seconds: a run that takes longer is stopped and reported
STOP_GRACE = 5.0         # seconds between SIGTERM and SIGKILL for our own children
MASTER_EXIT_WAIT = 5.0   # seconds for a ControlMaster to go after `-O exit`
TAKES = 200              # timed takes per queue size in case (e)
TAKE_SIZES = (10000, 100000)
FANOUT = 64              # (f)-(h): pdsh -f, clush -f, parallel-ssh -p
FANOUT_HOSTS = 64        # aliases in (f) and (g)
FANOUT_BIG = 256         # aliases in (h)
LOCKSTEP_COMMANDS = 10   # commands in (g) and (h)
MEMORY_SAMPLE = 0.02     # seconds between psutil samples of pegasus's memory

# The targets of the performance issue.
TARGET_PEGASUS_VS_LIMIT = 1.5     # (b) <= 1.5 x (a)
TARGET_PARALLEL_VS_PEGASUS = 3.0  # (c) >= 3 x (b)
TARGET_CPU_MS = 2.0               # (d) < 2 ms per job
TARGET_TAKE_MS = 5.0              # (e) median < 5 ms at 10,000 entries
TARGET_FANOUT_VS_PEER = 1.0       # (f) pegasus <= 1 x the fastest peer
TARGET_PEER_VS_LOCKSTEP = 3.0     # (g) the fastest peer >= 3 x pegasus


class CaseError(Exception):
    """A case could not be measured (the tool failed); the text says why."""


class Skip(Exception):
    """A case cannot run on this machine (a tool is missing)."""


class Timed:
    """A case measured by wall time over --repeat runs; the best counts.

    once() does one run and returns its seconds, or raises CaseError: that
    run is reported, the others still happen, and the case fails only if
    every run failed. jobs: what `per job` divides by (unit names it: a job,
    a host, a command). group, peer: see Row. probe, if given, is called once
    after the rounds, untimed, and returns a Memory (or raises CaseError)."""

    def __init__(self, key, label, once, jobs, note="", unit="job", group=None,
                 peer=False, probe=None):
        self.key = key
        self.label = label
        self.once = once
        self.jobs = jobs
        self.note = note
        self.unit = unit
        self.group = group
        self.peer = peer
        self.probe = probe
        self.memory = None
        self.times = []
        self.failures = []

    def run_probe(self, bench):
        if self.probe is None:
            return
        try:
            self.memory = self.probe()
        except CaseError as exc:
            bench.progress("(%s) memory run FAILED: %s" % (self.key, exc))
            self.failures.append("memory run: %s" % exc)
            return
        bench.progress("(%s) memory run: %s" % (self.key, self.memory.describe()))

    def failed_row(self, reason):
        return Row(self.key, self.label + " (FAILED)", note=reason, failed=True,
                   unit=self.unit, group=self.group, peer=self.peer)

    def run(self, bench, attempt):
        try:
            seconds = self.once()
        except CaseError as exc:
            bench.progress("(%s) run %d/%d FAILED: %s" % (self.key, attempt + 1,
                                                          bench.args.repeat, exc))
            self.failures.append("run %d: %s" % (attempt + 1, exc))
            self.times.append(None)
            return
        bench.progress("(%s) run %d/%d: %.3f s" % (self.key, attempt + 1, bench.args.repeat,
                                                   seconds))
        self.times.append(seconds)

    def rows(self):
        good = [t for t in self.times if t is not None]
        if not good:
            raise CaseError("\n".join(self.failures))
        note = "runs " + " ".join("FAILED" if t is None else "%.2f" % t for t in self.times)
        if self.note:
            note += "; " + self.note
        if self.failures:
            note += "\n" + "\n".join(self.failures)
        best = min(good)
        return [Row(self.key, self.label, best, best / self.jobs, note=note, unit=self.unit,
                    group=self.group, peer=self.peer, memory=self.memory)]


class Row:
    """One line of the table. seconds/per_job may be None (skipped, failed).

    Rows with a group (the fan-out cases) go to a table of their own, where
    each is compared with the fastest peer (a row with peer=True) of its
    group; per_job is then per `unit` (host, command), and memory is
    pegasus's peak (a Memory, or None)."""

    def __init__(self, key, label, seconds=None, per_job=None, vs_limit=True,
                 note="", failed=False, unit="job", group=None, peer=False, memory=None):
        self.key = key
        self.label = label
        self.seconds = seconds
        self.per_job = per_job
        self.vs_limit = vs_limit
        self.note = note
        self.failed = failed
        self.unit = unit
        self.group = group
        self.peer = peer
        self.memory = memory


# --- processes ------------------------------------------------------------------

def run_process(argv, timeout=RUN_TIMEOUT, **popen_args):
    """Run argv to completion; return its exit status. A run that outlives
    timeout is stopped by PID (TERM, then KILL) and reported."""
    process = subprocess.Popen(argv, **popen_args)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CaseError("%s did not finish within %gs" % (argv[0], timeout)) from None
    finally:
        stop_process(process)


def stop_process(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            text = f.read().strip()
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def processes_mentioning(marker):
    """(pid, command line) of every process whose argv contains marker."""
    found = []
    if not os.path.isdir("/proc/self"):
        out = subprocess.run(["ps", "-A", "-o", "pid=", "-o", "args="],
                             stdout=subprocess.PIPE, universal_newlines=True).stdout
        for line in out.splitlines():
            pid, _, args = line.strip().partition(" ")
            if marker in args:
                found.append((int(pid), args))
        return [(p, a) for p, a in found if p != os.getpid()]
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                args = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in args and pid_alive(int(name)):
            found.append((int(name), args.strip()))
    return found


def children_of(pid):
    """PIDs of the live processes whose parent is pid."""
    found = []
    for name in os.listdir("/proc") if os.path.isdir("/proc/self") else []:
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(name))
    return found


# --- the context ----------------------------------------------------------------

class Bench:
    """What every case needs: options, a temp dir, the sshd, the tools."""

    def __init__(self, args, tmp, sshd):
        self.args = args
        self.tmp = tmp
        self.sshd = sshd
        self.config = sshd.config
        self.jobs = args.jobs
        self.hosts = args.hosts
        self.notes = []           # printed under the table
        self._apt_updated = False
        self._counter = 0

    def workdir(self, name):
        """A new empty directory for one run."""
        self._counter += 1
        path = os.path.join(self.tmp, "%s%d" % (name, self._counter))
        os.mkdir(path)
        return path

    def aliases(self, count):
        """node-1..node-count, all reaching the sshd (more are added if needed)."""
        names = ["node-%d" % k for k in range(1, count + 1)]
        for name in names:
            if name not in self.sshd.aliases:
                self.sshd.add_alias(name)
        return names

    def progress(self, text):
        sys.stderr.write("bench: %s\n" % text)
        sys.stderr.flush()

    def tool(self, command, package, check=None):
        """The path of command, installing the Debian package when we are root
        and it is missing; raise Skip with a reason otherwise. check(path) may
        raise Skip when the command found is the wrong program."""
        path = shutil.which(command)
        if path is None:
            if os.getuid() != 0 or shutil.which("apt-get") is None:
                raise Skip("%s not installed (apt-get install %s)" % (command, package))
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            with open(os.path.join(self.tmp, "apt.log"), "ab") as log:
                if not self._apt_updated:
                    self.progress("apt-get update (to install %s)" % package)
                    run_process(["apt-get", "update", "-q"], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, env=env)
                    self._apt_updated = True
                self.progress("apt-get install -y %s" % package)
                run_process(["apt-get", "install", "-y", "-q", package],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
            path = shutil.which(command)
            if path is None:
                raise Skip("%s missing and apt-get install %s failed:\n%s"
                           % (command, package, tail(os.path.join(self.tmp, "apt.log"))))
        if check:
            check(path)
        return path

    # -- pegasus -------------------------------------------------------------------

    def pegasus_command(self):
        """(argv prefix, environment) that run the pegasus of this checkout."""
        script = os.path.join(os.path.dirname(sys.executable), "pegasus")
        if os.access(script, os.X_OK):
            return [script], dict(os.environ)
        path = os.environ.get("PYTHONPATH")
        env = dict(os.environ, PYTHONPATH=REPO + (os.pathsep + path if path else ""))
        return [sys.executable, "-m", "pegasus"], env

    def job_files(self, directory, jobs=None, hosts=None):
        """queue.yaml of `jobs` true commands, hosts.yaml of node-1..node-hosts."""
        queue = os.path.join(directory, "queue.yaml")
        hosts_file = os.path.join(directory, "hosts.yaml")
        with open(queue, "w") as f:
            f.write("- true\n" * (jobs or self.jobs))
        with open(hosts_file, "w") as f:
            f.write("".join("- %s\n" % a for a in self.aliases(hosts or self.hosts)))
        return queue, hosts_file

    def pegasus_args(self, queue, hosts_file):
        return ["q", "--ssh-config", self.config, "-p", "0", "-Q", queue, "-H", hosts_file]


def verify_queue_run(directory, queue, jobs):
    """Raise CaseError unless the queue is empty and every job was consumed.
    (Counted by lines, without PyYAML: importing it here would spare the
    forked child of (d) its import and flatter pegasus's CPU time.)"""
    with open(queue) as f:
        left = [line for line in f if line.startswith("- ")]
    consumed = os.path.join(directory, "consumed.yaml")
    try:
        with open(consumed) as f:
            taken = sum(1 for line in f if line.startswith("- "))
    except OSError:
        taken = 0
    if left or taken != jobs:
        raise CaseError("%d jobs left in queue.yaml, %d of %d in consumed.yaml"
                        % (len(left), taken, jobs))


# --- (a) the limit --------------------------------------------------------------

class Masters:
    """One persistent ControlMaster per alias, opened with -fN, closed with
    `-O exit`; each is then waited for by PID, and terminated if it stays."""

    def __init__(self, bench, aliases, directory):
        self.bench = bench
        self.aliases = aliases
        self.sockets = {a: os.path.join(directory, "m%d" % i)
                        for i, a in enumerate(aliases)}
        self.log = os.path.join(directory, "masters.log")
        self.pids = {}

    def _ssh(self, alias, *args):
        return ["ssh", "-F", self.bench.config, "-S", self.sockets[alias]] + list(args) + [alias]

    def open(self):
        with open(self.log, "ab") as log:
            # -f: each forks into the background once authenticated; its log
            # stays a file, so no pipe is held open by a daemon.
            starts = [subprocess.Popen(self._ssh(a, "-M", "-o", "ControlPersist=yes", "-fN"),
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log)
                      for a in self.aliases]
            failed = []
            for alias, process in zip(self.aliases, starts):
                try:
                    status = process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    stop_process(process)
                    status = "timeout"
                if status != 0:
                    failed.append(alias)
        for alias in self.aliases:
            pid = self._master_pid(alias)
            if pid:
                self.pids[alias] = pid
        if failed:
            raise CaseError("ControlMaster failed for %s:\n%s" % (", ".join(failed),
                                                                  tail(self.log)))

    def _master_pid(self, alias):
        out = subprocess.run(self._ssh(alias, "-O", "check"), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=30).stdout
        if "pid=" in out:
            return int(out.split("pid=")[1].split(")")[0])
        return None

    def close(self):
        for alias in self.pids:
            subprocess.run(self._ssh(alias, "-O", "exit"), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        deadline = time.monotonic() + MASTER_EXIT_WAIT
        while time.monotonic() < deadline and any(map(pid_alive, self.pids.values())):
            time.sleep(0.02)
        for alias, pid in self.pids.items():
            if pid_alive(pid):
                self.bench.notes.append("master of %s (pid %d) ignored -O exit; "
                                        "terminated" % (alias, pid))
                os.kill(pid, signal.SIGTERM)
        self.pids = {}


LOOP = ('n=$3; while [ "$n" -gt 0 ]; do ssh -F "$0" -S "$1" "$2" true || exit 1; '
        'n=$((n-1)); done')


def limit_once(bench):
    directory = bench.workdir("limit")
    aliases = bench.aliases(bench.hosts)
    masters = Masters(bench, aliases, directory)
    try:
        masters.open()
        shares = [bench.jobs // len(aliases) + (1 if i < bench.jobs % len(aliases) else 0)
                  for i in range(len(aliases))]
        errors = os.path.join(directory, "loops.log")
        with open(errors, "ab") as log:
            start = time.monotonic()
            loops = [subprocess.Popen(["sh", "-c", LOOP, bench.config, masters.sockets[a], a,
                                       str(n)],
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=log)
                     for a, n in zip(aliases, shares)]
            statuses = []
            try:
                for loop in loops:
                    statuses.append(loop.wait(timeout=RUN_TIMEOUT))
            finally:
                for loop in loops:
                    stop_process(loop)
            seconds = time.monotonic() - start
        if any(statuses):
            raise CaseError("an ssh -S loop failed:\n%s" % tail(errors))
        return seconds
    finally:
        masters.close()


def case_limit(bench):
    return Timed("a", "(a) limit: raw ssh -S, %d masters" % bench.hosts,
                 lambda: limit_once(bench), bench.jobs, note="masters not timed")


# --- (b) pegasus q ----------------------------------------------------------------

def pegasus_once(bench):
    directory = bench.workdir("pegasus")
    queue, hosts_file = bench.job_files(directory)
    prefix, env = bench.pegasus_command()
    errors = os.path.join(directory, "stderr")
    with open(errors, "wb") as log:
        start = time.monotonic()
        status = run_process(prefix + bench.pegasus_args(queue, hosts_file), env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=log, cwd=directory)
        seconds = time.monotonic() - start
    if status != 0:
        raise CaseError("pegasus q exited with status %d:\n%s" % (status, tail(errors)))
    verify_queue_run(directory, queue, bench.jobs)
    return seconds


def case_pegasus(bench):
    return Timed("b", "(b) pegasus q (wall, incl. connecting)",
                 lambda: pegasus_once(bench), bench.jobs)


# --- (c) GNU parallel ---------------------------------------------------------------

def check_gnu_parallel(path):
    out = subprocess.run([path, "--version"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True).stdout
    if "GNU parallel" not in out:
        raise Skip("%s is not GNU parallel (moreutils?)" % path)


def parallel_once(bench, parallel):
    directory = bench.workdir("parallel")
    # GNU parallel's -M silently does nothing when --ssh has arguments, so
    # `ssh -F cfg` goes into a one-line wrapper.
    wrapper = os.path.join(directory, "ssh")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec ssh -F %s "$@"\n' % shlex.quote(bench.config))
    os.chmod(wrapper, 0o755)
    logins = os.path.join(directory, "sshlogins")
    with open(logins, "w") as f:
        f.write("".join("1/%s\n" % a for a in bench.aliases(bench.hosts)))
    commands = os.path.join(directory, "commands")
    with open(commands, "w") as f:
        f.write("true\n" * bench.jobs)
    home = os.path.join(directory, "parallel-home")   # not ~/.parallel
    os.mkdir(home)
    env = dict(os.environ, PARALLEL_HOME=home, TMPDIR=directory)
    errors = os.path.join(directory, "stderr")
    with open(commands, "rb") as stdin, open(errors, "wb") as log:
        start = time.monotonic()
        status = run_process([parallel, "--will-cite", "-M", "--sshloginfile", logins,
                              "--ssh", wrapper], env=env, stdin=stdin,
                             stdout=subprocess.DEVNULL, stderr=log, cwd=directory)
        seconds = time.monotonic() - start
    if status != 0:
        raise CaseError("parallel exited with status %d:\n%s" % (status, tail(errors)))
    return seconds


def case_parallel(bench):
    parallel = bench.tool("parallel", "parallel", check=check_gnu_parallel)
    version = subprocess.run([parallel, "--version"], stdout=subprocess.PIPE,
                             universal_newlines=True).stdout.splitlines()[0]
    return Timed("c", "(c) GNU parallel -M, %d slots" % bench.hosts,
                 lambda: parallel_once(bench, parallel), bench.jobs, note=version)


# --- (d) pegasus CPU per job ----------------------------------------------------------

def cpu_child(bench, directory, queue, hosts_file, write_fd):
    """In the forked child: run pegasus's main() in this process, in its
    main thread, and send our CPU times back as JSON."""
    result = {}
    try:
        os.chdir(directory)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        errors = os.open(os.path.join(directory, "stderr"),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(errors, 2)
        sys.path.insert(0, REPO)
        import pegasus.main
        result["module"] = pegasus.main.__file__
        before = resource.getrusage(resource.RUSAGE_SELF)
        kids_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        result["status"] = pegasus.main.main(bench.pegasus_args(queue, hosts_file))
        result["wall"] = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        kids_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        result["user"] = after.ru_utime - before.ru_utime
        result["sys"] = after.ru_stime - before.ru_stime
        result["children"] = (kids_after.ru_utime - kids_before.ru_utime
                              + kids_after.ru_stime - kids_before.ru_stime)
    except BaseException:
        result["error"] = traceback.format_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        os.write(write_fd, json.dumps(result).encode())
        os._exit(0)


def case_cpu(bench):
    directory = bench.workdir("cpu")
    queue, hosts_file = bench.job_files(directory)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        cpu_child(bench, directory, queue, hosts_file, write_fd)
    os.close(write_fd)
    chunks = []
    with os.fdopen(read_fd, "rb") as pipe:
        chunks.append(pipe.read())
    os.waitpid(pid, 0)
    try:
        result = json.loads(b"".join(chunks).decode() or "{}")
    except ValueError:
        raise CaseError("the forked child sent no result") from None
    if "error" in result:
        raise CaseError("in-process pegasus raised:\n%s" % result["error"].strip())
    if result.get("status") != 0:
        raise CaseError("in-process pegasus returned %r:\n%s"
                        % (result.get("status"), tail(os.path.join(directory, "stderr"))))
    verify_queue_run(directory, queue, bench.jobs)
    cpu = result["user"] + result["sys"]
    bench.progress("(d) cpu %.3f s (user %.3f, sys %.3f), wall %.3f s"
                   % (cpu, result["user"], result["sys"], result["wall"]))
    return [Row("d", "(d) pegasus CPU, own process only", cpu, cpu / bench.jobs,
                vs_limit=False,
                note="user %.2f + sys %.2f s; wall %.2f s; its ssh children %.2f s CPU"
                     % (result["user"], result["sys"], result["wall"], result["children"]))]


# --- (e) one take from a big queue ---------------------------------------------------

def write_big_queue(path, entries):
    """entries jobs: single-line commands, a comment every 100 lines, and a
    few multi-key mapping entries (two of them within the first 200)."""
    mappings = {10, 150, entries // 2, entries - 3}
    with open(path, "w") as f:
        f.write("# benchmark queue: %d entries\n" % entries)
        for i in range(entries):
            if i and i % 100 == 0:
                f.write("# --- entry %d ---\n" % i)
            if i in mappings:
                f.write("- command: python train.py --lr {{ lr }} --seed {{ seed }}\n"
                        "  lr: 0.001\n  seed: '%d'\n  timeout: 3600\n" % i)
            else:
                f.write("- python train.py --model m%d --seed %d > /dev/null\n" % (i % 7, i))


def take_timings(bench, entries, takes):
    from pegasus.queuefile import QueueFile
    directory = bench.workdir("take")
    path = os.path.join(directory, "queue.yaml")
    write_big_queue(path, entries)
    size = os.path.getsize(path)
    queue = QueueFile(path)
    start = time.perf_counter()
    with queue.locked():
        first_jobs = queue.take_locked(1)
    first = time.perf_counter() - start
    times = []
    for _ in range(takes):
        start = time.perf_counter()
        with queue.locked():
            jobs = queue.take_locked(1)
        times.append(time.perf_counter() - start)
        if len(jobs) != 1:
            raise CaseError("take_locked(1) returned %d jobs" % len(jobs))
    if len(first_jobs) != 1:
        raise CaseError("the first take_locked(1) returned %d jobs" % len(first_jobs))
    times.sort()
    median = statistics.median(times)
    p90 = times[min(len(times) - 1, int(round(0.9 * len(times))) - 1)]
    bench.progress("(e) %d entries (%d KB): first %.1f ms, median %.2f ms, p90 %.2f ms"
                   % (entries, size // 1024, first * 1e3, median * 1e3, p90 * 1e3))
    return first, median, p90, size


def case_take(bench):
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    rows = []
    sizes = TAKE_SIZES[:1] if bench.args.quick else TAKE_SIZES
    for entries in sizes:
        first, median, p90, size = take_timings(bench, entries, TAKES)
        rows.append(Row("e%d" % entries, "(e) take 1 job, %s entries" % format(entries, ","),
                        median, median, vs_limit=False,
                        note="median of %d; p90 %.2f ms; first take (validates) %.0f ms; "
                             "%d KB" % (TAKES, p90 * 1e3, first * 1e3, size // 1024)))
    return rows


# --- (f) (g) (h) broadcast fan-out ----------------------------------------------------

class Memory:
    """Peak memory of pegasus during one run, in bytes: its own RSS
    high-water; the largest sum of its descendants' RSS (its ssh masters and
    job clients) seen at one sample, with how many there were; and the
    largest sum of their PSS, which counts shared pages once (None where
    psutil cannot tell)."""

    def __init__(self, own, children, children_count, children_pss, most_children, samples,
                 seconds):
        self.own = own
        self.children = children
        self.children_count = children_count
        self.children_pss = children_pss
        self.most_children = most_children
        self.samples = samples
        self.seconds = seconds

    def describe(self):
        return ("pegasus %s; its ssh children: RSS sum %s over %d processes, PSS sum %s; "
                "at most %d at once; %d samples over %.2f s"
                % (fmt_mb(self.own), fmt_mb(self.children), self.children_count,
                   fmt_mb(self.children_pss), self.most_children, self.samples, self.seconds))


class MemorySampler:
    """Samples a process and its descendants with psutil (which must be
    installed) every MEMORY_SAMPLE seconds, in a thread, until stop().

    The process's own peak is the kernel's high-water mark (VmHWM) where
    /proc has it -- the last value read, since it only grows and the first
    samples may still see the forked bench before exec -- else the largest
    RSS seen. The children's RSS is summed as is: the pages of the ssh binary
    and its libraries that they share are counted once per process (an ssh
    client has ~8.7 MB RSS but ~2.4 MB PSS here). Their PSS is dearer to read
    (~0.4 ms a process), so it is summed only when the RSS sum reaches a new
    high, at most every PSS_INTERVAL seconds. Zombies (RSS 0) are not counted."""

    PSS_INTERVAL = 0.25

    def __init__(self, pid):
        import psutil
        self.psutil = psutil
        self.pid = pid
        self.process = psutil.Process(pid)
        self.own_hwm = None
        self.own_rss = 0
        self.children = 0
        self.children_count = 0
        self.children_pss = None
        self.pss_readable = True
        self.last_pss = 0.0
        self.most_children = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def start(self):
        self.started = time.monotonic()
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        return Memory(self.own_hwm if self.own_hwm is not None else self.own_rss,
                      self.children, self.children_count, self.children_pss,
                      self.most_children, self.samples, time.monotonic() - self.started)

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(MEMORY_SAMPLE)

    def _sample(self):
        psutil = self.psutil
        try:
            self.own_rss = max(self.own_rss, self.process.memory_info().rss)
            children = self.process.children(recursive=True)
        except psutil.Error:
            return
        hwm = high_water_mark(self.pid)
        if hwm is not None:
            self.own_hwm = hwm
        total, alive = 0, []
        for child in children:
            try:
                rss = child.memory_info().rss
            except psutil.Error:
                continue    # exited since the listing
            if rss:
                total += rss
                alive.append(child)
        self.samples += 1
        self.most_children = max(self.most_children, len(alive))
        if total > self.children:
            self.children, self.children_count = total, len(alive)
            if self.pss_readable and time.monotonic() - self.last_pss >= self.PSS_INTERVAL:
                self._sample_pss(alive)

    def _sample_pss(self, children):
        total = 0
        for child in children:
            try:
                total += child.memory_full_info().pss
            except AttributeError:      # no PSS on this system
                self.pss_readable = False
                return
            except self.psutil.Error:
                continue
        self.last_pss = time.monotonic()
        self.children_pss = max(self.children_pss or 0, total)


def high_water_mark(pid):
    """VmHWM of pid in bytes, or None (no /proc, or it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def fmt_mb(size):
    return "-" if size is None else "%.1f MB" % (size / 1e6)


def step_command(directory, step):
    """The command of step k: `: > DIR/ck/$$`. `:` is a builtin, as cheap as
    `true`, and the redirection leaves one file per shell that ran it."""
    return ": > %s/$$" % shlex.quote(os.path.join(directory, "c%d" % step))


def step_dirs(directory, commands):
    for step in range(1, commands + 1):
        os.mkdir(os.path.join(directory, "c%d" % step))


def verify_steps(tool, directory, commands, hosts):
    """Raise CaseError unless every step ran on every host."""
    for step in range(1, commands + 1):
        ran = len(os.listdir(os.path.join(directory, "c%d" % step)))
        if ran != hosts:
            raise CaseError("%s: command %d of %d ran on %d of %d hosts"
                            % (tool, step, commands, ran, hosts))


def run_logged(argv, directory, what, env=None, sampler=False):
    """Run argv with output to files in directory; raise CaseError if it
    fails. Returns (seconds, Memory or None)."""
    out_path = os.path.join(directory, "out")
    with open(out_path, "ab") as out:
        start = time.monotonic()
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, cwd=directory)
        memory = None
        try:
            watcher = MemorySampler(process.pid).start() if sampler else None
            try:
                status = process.wait(timeout=RUN_TIMEOUT)
            finally:
                if watcher is not None:
                    memory = watcher.stop()
        except subprocess.TimeoutExpired:
            raise CaseError("%s did not finish within %gs" % (what, RUN_TIMEOUT)) from None
        finally:
            stop_process(process)
        seconds = time.monotonic() - start
    if status != 0:
        raise CaseError("%s exited with status %d:\n%s" % (what, status, tail(out_path)))
    return seconds, memory


class Fanout:
    """One fan-out comparison: `commands` commands on `hosts` aliases, by
    pegasus (one `pegasus b` run) and by each peer (one invocation per
    command). Builds the Timed of every tool; a tool that is missing gives
    a skipped row instead."""

    def __init__(self, bench, letter, hosts, commands):
        self.bench = bench
        self.letter = letter
        self.hosts = hosts
        self.commands = commands
        self.group = "%s-%d-%d" % (letter, hosts, commands)
        self.unit = "host" if commands == 1 else "cmd"
        self.units = hosts if commands == 1 else commands
        self.what = ("1 cmd x %d hosts, cold" % hosts if commands == 1
                     else "%d cmds x %d hosts" % (commands, hosts))

    def key(self, tool):
        return "%s-%s" % (self.group, tool)

    def items(self):
        items = [self.pegasus()]
        for tool in (self.pdsh, self.clush, self.pssh):
            try:
                items.append(tool())
            except Skip as exc:
                name = tool.__name__
                items.append(Row(self.key(name), "(%s) %s, %s (skipped)"
                                 % (self.letter, name, self.what), note=str(exc),
                                 unit=self.unit, group=self.group, peer=True))
        return items

    # -- pegasus -------------------------------------------------------------------------

    def pegasus(self):
        label = "(%s) pegasus b, %s" % (self.letter, self.what)
        if self.commands > 1:
            label += ", masters reused"
        probe, note = lambda: self.pegasus_once(sampler=True)[1], ""
        if importlib.util.find_spec("psutil") is None:
            probe, note = None, "psutil not installed (pip install psutil): no memory figures"
        return Timed(self.key("pegasus"), label, lambda: self.pegasus_once()[0],
                     self.units, unit=self.unit, group=self.group, probe=probe, note=note)

    def pegasus_once(self, sampler=False):
        directory = self.bench.workdir("broadcast")
        step_dirs(directory, self.commands)
        queue = os.path.join(directory, "queue.yaml")
        hosts_file = os.path.join(directory, "hosts.yaml")
        with open(queue, "w") as f:
            # JSON strings are YAML double-quoted scalars.
            f.write("".join("- %s\n" % json.dumps(step_command(directory, k))
                            for k in range(1, self.commands + 1)))
        with open(hosts_file, "w") as f:
            f.write("".join("- %s\n" % a for a in self.bench.aliases(self.hosts)))
        prefix, env = self.bench.pegasus_command()
        argv = prefix + ["b", "--ssh-config", self.bench.config, "-p", "0",
                         "-Q", queue, "-H", hosts_file]
        seconds, memory = run_logged(argv, directory, "pegasus b", env=env, sampler=sampler)
        verify_queue_run(directory, queue, self.commands)
        verify_steps("pegasus b", directory, self.commands, self.hosts)
        return seconds, memory

    # -- the peers: one invocation per command ---------------------------------------------

    def peer(self, name, label, version, argv_of, env=None, files=None):
        """The Timed of a peer. argv_of(directory, command) is its command line."""
        def once():
            directory = self.bench.workdir(name)
            step_dirs(directory, self.commands)
            if files:
                files(directory)
            total = 0.0
            for k in range(1, self.commands + 1):
                seconds, _ = run_logged(argv_of(directory, step_command(directory, k)),
                                        directory, "%s (command %d)" % (name, k), env=env)
                total += seconds
            verify_steps(name, directory, self.commands, self.hosts)
            return total
        runs = "" if self.commands == 1 else ", %d invocations" % self.commands
        return Timed(self.key(name), "(%s) %s, %s%s" % (self.letter, label, self.what, runs),
                     once, self.units, unit=self.unit, group=self.group, peer=True,
                     note=version)

    def pdsh(self):
        pdsh = self.bench.tool("pdsh", "pdsh", check=check_pdsh)
        names = ",".join(self.bench.aliases(self.hosts))
        # pdsh's ssh module runs `ssh $PDSH_SSH_ARGS $PDSH_SSH_ARGS_APPEND cmd`
        # (the default args "-2 -a -x -l%u %h" name the host), split on
        # spaces: the config path has none.
        env = dict(os.environ, PDSH_SSH_ARGS_APPEND="-F %s -o BatchMode=yes"
                   % self.bench.config)
        env.pop("PDSH_SSH_ARGS", None)
        return self.peer("pdsh", "pdsh -f %d" % FANOUT, tool_version([pdsh, "-V"]),
                         lambda d, command: [pdsh, "-R", "ssh", "-S", "-f", str(FANOUT),
                                             "-w", names, command], env=env)

    def clush(self):
        clush = self.bench.tool("clush", "clustershell")
        names = ",".join(self.bench.aliases(self.hosts))
        # -o: options for every ssh it starts; -S: exit with the largest
        # status (else a failed host still exits 0); --nostdin: nothing to send.
        return self.peer("clush", "clush -f %d" % FANOUT, tool_version([clush, "--version"]),
                         lambda d, command: [clush, "-f", str(FANOUT), "-S", "--nostdin",
                                             "-w", names, "-o", "-F %s -o BatchMode=yes"
                                             % self.bench.config, command])

    def pssh(self):
        pssh = self.bench.tool("parallel-ssh", "pssh")

        def hosts_file(directory):
            with open(os.path.join(directory, "hosts"), "w") as f:
                f.write("".join("%s\n" % a for a in self.bench.aliases(self.hosts)))
        # -x: extra ssh arguments (split like a shell would); -O: one ssh
        # option; -t 0: no per-host timeout (the run's own timeout stands).
        return self.peer("pssh", "parallel-ssh -p %d" % FANOUT,
                         "parallel-ssh " + tool_version([pssh, "--version"]),
                         lambda d, command: [pssh, "-p", str(FANOUT), "-t", "0",
                                             "-h", os.path.join(d, "hosts"),
                                             "-x", "-F %s" % self.bench.config,
                                             "-O", "BatchMode=yes", command],
                         files=hosts_file)


def check_pdsh(path):
    if "ssh" not in tool_version([path, "-V"], line=None):
        raise Skip("%s has no ssh rcmd module (pdsh -V)" % path)


def tool_version(argv, line=0):
    out = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True).stdout.strip()
    return out if line is None else (out.splitlines() or ["?"])[line]


def case_fanout(bench):
    return Fanout(bench, "f", FANOUT_HOSTS, 1).items()


def case_lockstep(bench):
    return Fanout(bench, "g", FANOUT_HOSTS, LOCKSTEP_COMMANDS).items()


def case_fanout256(bench):
    return (Fanout(bench, "h", FANOUT_BIG, 1).items()
            + Fanout(bench, "h", FANOUT_BIG, LOCKSTEP_COMMANDS).items())


# --- registry, table, targets ------------------------------------------------------

CASES = collections.OrderedDict([
    ("limit", case_limit),
    ("pegasus", case_pegasus),
    ("parallel", case_parallel),
    ("cpu", case_cpu),
    ("take", case_take),
    ("fanout", case_fanout),
    ("lockstep", case_lockstep),
    ("fanout256", case_fanout256),
])
LETTERS = {"a": "limit", "b": "pegasus", "c": "parallel", "d": "cpu", "e": "take",
           "f": "fanout", "g": "lockstep", "h": "fanout256"}
LABELS = {"limit": "(a) limit", "pegasus": "(b) pegasus q", "parallel": "(c) GNU parallel",
          "cpu": "(d) pegasus CPU", "take": "(e) take from a big queue",
          "fanout": "(f) broadcast, 1 cmd on %d hosts" % FANOUT_HOSTS,
          "lockstep": "(g) broadcast, %d cmds on %d hosts" % (LOCKSTEP_COMMANDS, FANOUT_HOSTS),
          "fanout256": "(h) broadcast on %d hosts" % FANOUT_BIG}


def fmt_seconds(seconds):
    if seconds is None:
        return "-"
    return "%.3f" % seconds if seconds >= 0.1 else "%.5f" % seconds


def fmt_per(seconds):
    return "%.2f s" % seconds if seconds >= 1 else fmt_ms(seconds)


def fmt_ms(seconds):
    return "-" if seconds is None else "%.2f ms" % (seconds * 1e3)


def print_table(rows, out):
    main = [row for row in rows if row.group is None]
    fanout = [row for row in rows if row.group is not None]
    if main:
        print_main_table(main, out)
    if fanout:
        if main:
            out.write("\n")
        print_fanout_table(fanout, out)
    for row in rows:
        if row.note and "\n" in row.note:
            out.write("\n%s:\n%s\n" % (row.label, indent(row.note)))


def print_main_table(rows, out):
    by_key = {row.key: row for row in rows}
    limit = by_key.get("a")
    header = ("case", "seconds", "per job", "vs limit (a)", "notes")
    table = []
    for row in rows:
        if row.seconds is None:
            table.append((row.label, "-", "-", "-", row.note.splitlines()[0]))
            continue
        ratio = "-"
        if row.vs_limit and limit is not None and limit.seconds:
            ratio = "%.2fx" % (row.seconds / limit.seconds)
        table.append((row.label, fmt_seconds(row.seconds), fmt_ms(row.per_job), ratio,
                      row.note.splitlines()[0] if row.note else ""))
    write_columns([header] + table, out)


def write_columns(lines, out):
    """lines[0] is the header; the first column is left-aligned, the last
    (notes) is free, the others right-aligned."""
    last = len(lines[0]) - 1
    widths = [max(len(line[i]) for line in lines) for i in range(last)]
    for line in lines:
        cells = [line[0].ljust(widths[0])] + [line[i].rjust(widths[i]) for i in range(1, last)]
        out.write(" | ".join(cells + [line[last]]).rstrip() + "\n")
        if line is lines[0]:
            out.write("-+-".join("-" * w for w in widths) + "-+-" + "-" * 5 + "\n")


def fastest_peers(rows):
    """group -> the peer row with the fewest seconds."""
    fastest = {}
    for row in rows:
        if row.peer and row.seconds is not None and row.group is not None:
            if row.group not in fastest or row.seconds < fastest[row.group].seconds:
                fastest[row.group] = row
    return fastest


def print_fanout_table(rows, out):
    fastest = fastest_peers(rows)
    header = ("broadcast fan-out", "seconds", "per host/cmd", "vs fastest peer",
              "pegasus RSS peak", "its ssh children: RSS sum (PSS)", "notes")
    table = []
    for row in rows:
        note = row.note.splitlines()[0] if row.note else ""
        if row.seconds is None:
            table.append((row.label, "-", "-", "-", "-", "-", note))
            continue
        best = fastest.get(row.group)
        ratio = "%.2fx" % (row.seconds / best.seconds) if best else "-"
        own = children = "-"
        if row.memory is not None:
            own = fmt_mb(row.memory.own)
            children = "%s in %d (%s)" % (fmt_mb(row.memory.children),
                                          row.memory.children_count,
                                          fmt_mb(row.memory.children_pss))
        table.append((row.label, fmt_seconds(row.seconds),
                      "%s/%s" % (fmt_per(row.per_job), row.unit), ratio, own, children, note))
    write_columns([header] + table, out)
    out.write("(vs fastest peer: seconds / those of the fastest of pdsh, clush, parallel-ssh "
              "on the same work. Memory: one extra untimed run, sampled every %d ms; RSS "
              "summed counts shared pages once per process, PSS once)\n"
              % (MEMORY_SAMPLE * 1e3))


def indent(text):
    return "\n".join("    " + line for line in text.splitlines())


def targets(rows):
    """(label, value text, target text, met) for each target the rows allow."""
    seconds = {row.key: row.seconds for row in rows if row.seconds is not None}
    per_job = {row.key: row.per_job for row in rows if row.per_job is not None}
    found = []
    if "a" in seconds and "b" in seconds:
        ratio = seconds["b"] / seconds["a"]
        found.append(("(b)/(a)", "%.2fx" % ratio,
                      "<= %gx" % TARGET_PEGASUS_VS_LIMIT, ratio <= TARGET_PEGASUS_VS_LIMIT))
    if "a" in seconds and "c" in seconds:
        found.append(("(c)/(a)", "%.2fx" % (seconds["c"] / seconds["a"]), "(none)", None))
    if "b" in seconds and "c" in seconds:
        ratio = seconds["c"] / seconds["b"]
        found.append(("(c)/(b)", "%.2fx" % ratio,
                      ">= %gx (pegasus 3x faster than parallel)" % TARGET_PARALLEL_VS_PEGASUS,
                      ratio >= TARGET_PARALLEL_VS_PEGASUS))
    if "d" in per_job:
        ms = per_job["d"] * 1e3
        found.append(("(d) CPU per job", "%.2f ms" % ms, "< %g ms" % TARGET_CPU_MS,
                      ms < TARGET_CPU_MS))
    if "e10000" in seconds:
        ms = seconds["e10000"] * 1e3
        found.append(("(e) median take @10,000", "%.2f ms" % ms, "< %g ms" % TARGET_TAKE_MS,
                      ms < TARGET_TAKE_MS))
    if "e100000" in seconds:
        found.append(("(e) median take @100,000", "%.2f ms" % (seconds["e100000"] * 1e3),
                      "(none)", None))
    found += fanout_targets(rows)
    return found


def fanout_targets(rows):
    """pegasus vs the fastest peer of each fan-out group: (f) no slower,
    (g) at least 3x faster, (h) reported without a target."""
    fastest = fastest_peers(rows)
    found = []
    for row in rows:
        if row.group is None or row.peer or row.seconds is None or row.group not in fastest:
            continue
        best = fastest[row.group]
        letter, hosts, commands = row.group.split("-")
        what = "%s, %s cmd%s on %s hosts" % (letter, commands, "" if commands == "1" else "s",
                                             hosts)
        versus = "%.2f s vs %s %.2f s" % (row.seconds, best.key.rsplit("-", 1)[1], best.seconds)
        if letter == "f":
            ratio = row.seconds / best.seconds
            found.append(("(%s) pegasus / fastest peer" % what, "%.2fx (%s)" % (ratio, versus),
                          "<= %gx (no slower than pdsh, clush, pssh)" % TARGET_FANOUT_VS_PEER,
                          ratio <= TARGET_FANOUT_VS_PEER))
        elif letter == "g":
            ratio = best.seconds / row.seconds
            found.append(("(%s) fastest peer / pegasus" % what, "%.2fx (%s)" % (ratio, versus),
                          ">= %gx (pegasus 3x faster than the fastest peer)"
                          % TARGET_PEER_VS_LOCKSTEP, ratio >= TARGET_PEER_VS_LOCKSTEP))
        else:
            found.append(("(%s) fastest peer / pegasus" % what,
                          "%.2fx (%s)" % (best.seconds / row.seconds, versus), "(none)", None))
    return found


def print_targets(found, out):
    out.write("\nratios and targets:\n")
    if not found:
        out.write("  (none: a case they need did not run)\n")
    widths = [max([len(f[i]) for f in found] + [1]) for i in range(3)]
    for label, value, target, met in found:
        verdict = "" if met is None else ("met" if met else "MISSED")
        out.write("  %s  %s  target %s  %s\n" % (label.ljust(widths[0]), value.rjust(widths[1]),
                                                 target.ljust(widths[2]), verdict))


def machine_header(bench, out):
    ssh_version = subprocess.run(["ssh", "-V"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT,
                                 universal_newlines=True).stdout.strip()
    prefix, _ = bench.pegasus_command()
    out.write("pegasus benchmark, %s\n" % time.strftime("%Y-%m-%d %H:%M:%S"))
    out.write("machine: nproc %d, %s %s, Python %s (%s), %s\n"
              % (os.cpu_count() or 0, platform.system(), platform.release(),
                 platform.python_version(), sys.executable, ssh_version))
    out.write("sshd: private LoopbackSshd on 127.0.0.1:%d, %d aliases, MaxStartups %d, "
              "MaxSessions %d; sshd SetEnv SHLVL=1: remote bash skips ~/.bashrc\n"
              % (bench.sshd.port, len(bench.sshd.aliases) + len(bench.sshd.extra_aliases),
                 bench.sshd.max_startups, bench.sshd.max_sessions))
    out.write("jobs: %d x `true` over %d hosts; timed cases best of %d, interleaved%s\n"
              % (bench.jobs, bench.hosts, bench.args.repeat,
                 " (--quick)" if bench.args.quick else ""))
    out.write("load average (1 min) before %.2f, after %.2f%s\n"
              % (bench.load_before[0], os.getloadavg()[0],
                 "  <- the machine is busy: expect noise" if max(
                     bench.load_before[0], os.getloadavg()[0]) > (os.cpu_count() or 1)
                 else ""))
    out.write("pegasus: %s%s\n\n" % (" ".join(prefix),
                                     "" if len(prefix) == 1 else " (PYTHONPATH=%s)" % REPO))


# --- cleanup ------------------------------------------------------------------------

def leftovers(bench):
    """Stop what our runs left behind: local processes that still use our ssh
    config or temp dir, and sshd sessions still open. Returns notes."""
    notes = []
    deadline = time.monotonic() + 3.0
    while True:
        local = processes_mentioning(bench.config) + processes_mentioning(bench.tmp)
        remote = children_of(bench.sshd.pid) if bench.sshd.pid else []
        if (not local and not remote) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for pid, args in local:
        notes.append("left running, terminated: pid %d: %s" % (pid, args[:160]))
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    if remote:
        notes.append("%d sshd connection(s) still open at the end (closed with sshd)"
                      % len(remote))
    return notes


# --- main ---------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="cases: " + ", ".join("%s (%s)" % (k, v) for k, v in LETTERS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, metavar="N",
                        help="runs of (a), (b), (c); the best is reported (default 3, "
                             "1 with --quick)")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="jobs in the queue (default 400, 100 with --quick)")
    parser.add_argument("--hosts", type=int, default=8, metavar="N",
                        help="aliases, masters and slots (default %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="one run, 100 jobs, no 100,000-entry queue")
    parser.add_argument("--only", metavar="CASES",
                        help="comma-separated cases to run, by name or letter: "
                             + ",".join(CASES))
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.jobs is None:
        args.jobs = 100 if args.quick else 400
    if args.repeat < 1 or args.jobs < 1 or args.hosts < 1:
        parser.error("--repeat, --jobs and --hosts must be 1 or more")
    if args.only:
        names = [LETTERS.get(n.strip(), n.strip()) for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in CASES]
        if unknown:
            parser.error("unknown case(s) %s; known: %s"
                         % (", ".join(unknown), ", ".join(CASES)))
        args.cases = [n for n in CASES if n in names]
    else:
        args.cases = list(CASES)
    return args


def run_cases(bench):
    """Every selected case; returns (rows in CASES order, whether any failed).
    Row-returning cases run first, then the Timed ones, round by round, then
    the probes (untimed extra runs) of the Timed that have one."""
    results, plans, timed, failed = {}, {}, [], False

    def attempt(name, step):
        try:
            return step()
        except Skip as exc:
            results[name] = [Row(name, LABELS[name] + " (skipped)", note=str(exc))]
        except CaseError as exc:
            results[name] = [Row(name, LABELS[name] + " (FAILED)", note=str(exc),
                                 failed=True)]
        return None

    for name in bench.args.cases:
        outcome = attempt(name, lambda case=CASES[name]: case(bench))
        if outcome is not None:
            plans[name] = outcome if isinstance(outcome, list) else [outcome]
            timed += [(name, item) for item in plans[name] if isinstance(item, Timed)]
    if timed:
        names = list(collections.OrderedDict.fromkeys(n for n, _ in timed))
        bench.progress("%d round(s) of %s (%d timed rows)"
                       % (bench.args.repeat, ", ".join(LABELS[n] for n in names), len(timed)))
    for round_index in range(bench.args.repeat):
        for _name, case in timed:
            case.run(bench, round_index)
    for _name, case in timed:
        case.run_probe(bench)
    for name, items in plans.items():
        results[name] = []
        for item in items:
            if not isinstance(item, Timed):
                results[name].append(item)
                continue
            try:
                results[name] += item.rows()
            except CaseError as exc:
                results[name].append(item.failed_row(str(exc)))
            failed = failed or bool(item.failures)
    rows = [row for name in bench.args.cases for row in results.get(name, [])]
    return rows, failed or any(row.failed for row in rows)


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    tmp = tempfile.mkdtemp(prefix="pgbench-", dir="/tmp")   # short: control sockets
    sshd = LoopbackSshd(None, aliases=args.hosts)
    failed = False
    out = sys.stdout
    try:
        sshd.start()
        bench = Bench(args, tmp, sshd)
        bench.load_before = os.getloadavg()
        rows, failed = run_cases(bench)
        bench.notes += leftovers(bench)
        machine_header(bench, out)
        print_table(rows, out)
        found = targets(rows)
        print_targets(found, out)
        for note in bench.notes:
            out.write("note: %s\n" % note)
        out.flush()
        if args.check and any(met is False for _, _, _, met in found):
            failed = True
    except KeyboardInterrupt:
        sys.stderr.write("bench: interrupted\n")
        return 130
    finally:
        sshd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
