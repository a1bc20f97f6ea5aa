"""What every case works with: the results (Row, Timed), the errors that skip or fail
a case, running a tool by PID with a timeout, and the Bench context (options, temp
dir, the sshd, tools installed on demand, the pegasus of this checkout)."""

import os
import shutil
import signal
import statistics
import subprocess
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

from procs import children_of, processes_mentioning, stop_process, wait_until

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # scripts/
REPO = os.path.dirname(HERE)

RUN_TIMEOUT = 600.0      # seconds: a run that takes longer is stopped and reported
STOP_GRACE = 5.0         # seconds between SIGTERM and SIGKILL for our own children
LEFTOVER_WAIT = 3.0      # seconds for our runs' processes to go on their own at the end


class CaseError(Exception):
    """A case could not be measured (the tool failed); the text says why."""


class Skip(Exception):
    """A case cannot run on this machine (a tool is missing)."""


class Row:
    """One line of the table. seconds/per_job may be None (skipped, failed).

    Rows with a group (the fan-out cases) go to a table of their own, where
    each is compared with the fastest peer (a row with peer=True) of its
    group; per_job is then per `unit` (host, command), and memory is
    pegasus's peak (a benchlib.memory.Memory, or None). `values` holds other
    numbers of the row (e.g. a median CPU time) for its case's targets."""

    def __init__(self, key: str, label: str, seconds: Optional[float] = None,
                 per_job: Optional[float] = None, vs_limit: bool = True, note: str = "",
                 failed: bool = False, unit: str = "job", group: Optional[str] = None,
                 peer: bool = False, memory: Any = None,
                 values: Optional[Dict[str, float]] = None) -> None:
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
        self.values = values or {}


class Timed:
    """A case measured by wall time over --repeat runs; the best counts.

    once() does one run and returns its seconds, or raises CaseError: that
    run is reported, the others still happen, and the case fails only if
    every run failed. jobs: what `per job` divides by (unit names it: a job,
    a host, a command). group, peer: see Row. probe, if given, is called once
    after the rounds, untimed, and returns a Memory (or raises CaseError)."""

    def __init__(self, key: str, label: str, once: Callable[[], float], jobs: int,
                 note: str = "", unit: str = "job", group: Optional[str] = None,
                 peer: bool = False, probe: Optional[Callable[[], Any]] = None) -> None:
        self.key = key
        self.label = label
        self.once = once
        self.jobs = jobs
        self.note = note
        self.unit = unit
        self.group = group
        self.peer = peer
        self.probe = probe
        self.memory: Any = None
        self.times: List[Optional[float]] = []
        self.failures: List[str] = []

    def run_probe(self, bench: "Bench") -> None:
        if self.probe is None:
            return
        try:
            self.memory = self.probe()
        except CaseError as exc:
            bench.progress("(%s) memory run FAILED: %s" % (self.key, exc))
            self.failures.append("memory run: %s" % exc)
            return
        bench.progress("(%s) memory run: %s" % (self.key, self.memory.describe()))

    def failed_row(self, reason: str) -> Row:
        return Row(self.key, self.label + " (FAILED)", note=reason, failed=True,
                   unit=self.unit, group=self.group, peer=self.peer)

    def run(self, bench: "Bench", attempt: int) -> None:
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

    def rows(self) -> List[Row]:
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


# --- processes ------------------------------------------------------------------

def run_process(argv: List[str], timeout: float = RUN_TIMEOUT, **popen_args: Any) -> int:
    """Run argv to completion; return its exit status. A run that outlives
    timeout is stopped by PID (TERM, then KILL) and reported."""
    process = subprocess.Popen(argv, **popen_args)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CaseError("%s did not finish within %gs" % (argv[0], timeout)) from None
    finally:
        stop_process(process, STOP_GRACE)


def tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, errors="replace") as f:
            text = f.read().strip()
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def verify_queue_run(directory: str, queue: str, jobs: int) -> None:
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


def spread(values: List[float], unit: str = "s", scale: float = 1.0) -> str:
    """`median (min-max)`, e.g. `1.21 s (1.10-1.45)`."""
    return "%.2f %s (%.2f-%.2f)" % (statistics.median(values) * scale, unit,
                                    min(values) * scale, max(values) * scale)


# --- the context ----------------------------------------------------------------

def interpreter_of(script: str) -> str:
    """The Python of a script, from its #! line; this one's if it has none."""
    with open(script, "rb") as f:
        line = f.readline()
    return line[2:].decode().strip() if line.startswith(b"#!") else sys.executable


class Bench:
    """What every case needs: options, a temp dir, the sshd, the tools."""

    def __init__(self, args: Any, tmp: str, sshd: Any) -> None:
        self.args = args
        self.tmp = tmp
        self.sshd = sshd
        self.config: str = sshd.config
        self.jobs: int = args.jobs
        self.hosts: int = args.hosts
        self.notes: List[str] = []           # printed under the table
        self.load_before = os.getloadavg()
        self._apt_updated = False
        self._counter = 0
        self._at_end: List[Callable[[], None]] = []
        self._compiled = False

    def at_end(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the benchmark ends, whatever happened (a case's
        own service, such as a Slurm cluster, is stopped that way)."""
        self._at_end.append(callback)

    def end(self) -> None:
        while self._at_end:
            self._at_end.pop()()

    def workdir(self, name: str) -> str:
        """A new empty directory for one run."""
        self._counter += 1
        path = os.path.join(self.tmp, "%s%d" % (name, self._counter))
        os.mkdir(path)
        return path

    def aliases(self, count: int) -> List[str]:
        """node-1..node-count, all reaching the sshd (more are added if needed)."""
        names = ["node-%d" % k for k in range(1, count + 1)]
        for name in names:
            if name not in self.sshd.aliases:
                self.sshd.add_alias(name)
        return names

    def progress(self, text: str) -> None:
        sys.stderr.write("bench: %s\n" % text)
        sys.stderr.flush()

    def tool(self, command: str, package: str,
             check: Optional[Callable[[str], None]] = None) -> str:
        """The path of command, installing the Debian package when we are root
        and it is missing; raise Skip with a reason otherwise. check(path) may
        raise Skip when the command found is the wrong program."""
        path = shutil.which(command)
        if path is None:
            if os.getuid() != 0 or shutil.which("apt-get") is None:
                raise Skip("%s not installed (apt-get install %s)" % (command, package))
            self._apt_install(package)
            path = shutil.which(command)
            if path is None:
                raise Skip("%s missing and apt-get install %s failed:\n%s"
                           % (command, package, tail(os.path.join(self.tmp, "apt.log"))))
        if check:
            check(path)
        return path

    def _apt_install(self, package: str) -> None:
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

    # -- pegasus -------------------------------------------------------------------

    def pegasus_command(self) -> Tuple[List[str], dict]:
        """(argv prefix, environment) that run the pegasus of this checkout."""
        script = os.path.join(os.path.dirname(sys.executable), "pegasus")
        if os.access(script, os.X_OK):
            return [script], dict(os.environ)
        path = os.environ.get("PYTHONPATH")
        env = dict(os.environ, PYTHONPATH=REPO + (os.pathsep + path if path else ""))
        return [sys.executable, "-m", "pegasus"], env

    def job_files(self, directory: str, jobs: Optional[int] = None,
                  hosts: Optional[int] = None) -> Tuple[str, str]:
        """queue.yaml of `jobs` true commands, hosts.yaml of node-1..node-hosts."""
        queue = os.path.join(directory, "queue.yaml")
        hosts_file = os.path.join(directory, "hosts.yaml")
        with open(queue, "w") as f:
            f.write("- true\n" * (jobs or self.jobs))
        with open(hosts_file, "w") as f:
            f.write("".join("- %s\n" % a for a in self.aliases(hosts or self.hosts)))
        return queue, hosts_file

    def pegasus_bytecode(self) -> None:
        """Compile the pegasus that runs to bytecode, as installing it does:
        where PYTHONDONTWRITEBYTECODE is set, an uncompiled checkout would
        otherwise be compiled again at every start, and start-up measured
        with it."""
        if self._compiled:
            return
        prefix, env = self.pegasus_command()
        python = prefix[0] if len(prefix) > 1 else interpreter_of(prefix[0])
        # Run from elsewhere: `python -c` would find a checkout in the current directory.
        where = subprocess.run([python, "-c", "import os, pegasus; "
                                "print(os.path.dirname(pegasus.__file__))"], env=env,
                               cwd=self.tmp, stdout=subprocess.PIPE, universal_newlines=True,
                               check=True)
        self.progress("compiling %s to bytecode" % where.stdout.strip())
        run_process([python, "-m", "compileall", "-q", where.stdout.strip()], env=env,
                    stdout=subprocess.DEVNULL)
        self._compiled = True

    def pegasus_args(self, queue: str, hosts_file: str) -> List[str]:
        return ["q", "--ssh-config", self.config, "-p", "0", "-Q", queue, "-H", hosts_file]

    # -- the end -------------------------------------------------------------------

    def leftovers(self) -> List[str]:
        """Stop what our runs left behind: local processes that still use our ssh
        config or temp dir, and sshd sessions still open. Returns notes."""
        def ours() -> Tuple[List[Tuple[int, str]], List[int]]:
            local = processes_mentioning(self.config) + processes_mentioning(self.tmp)
            return local, children_of(self.sshd.pid) if self.sshd.pid else []

        wait_until(lambda: ours() == ([], []), LEFTOVER_WAIT, interval=0.05)
        local, remote = ours()
        notes = []
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
