"""(l)-(p) the ssh path of issue 24, each against its target, as medians of the
interleaved rounds with their spread:

  (l) one command, cold, on 8 aliases, (m) on 64: `pegasus b -w ... -- hostname` vs
      pdsh, clush, parallel-ssh and raw ssh (one `ssh host hostname` per alias, all at
      once); time to the first output line; CPU of the tool and its ssh clients, and
      of the sshd (every alias reaches the one loopback sshd, so its CPU is part of
      the cost on this machine).
  (n) ten lockstep commands on 64 aliases: one `pegasus b` vs each peer run ten times.
  (o) 400 `true` over 8 aliases: `pegasus q` vs the raw limit (8 loops of `ssh -S`
      over masters opened beforehand) and GNU parallel -M; CPU per job.
  (p) (l) and (m) again with `KexAlgorithms curve25519-sha256` for every tool: does
      a faster key exchange change the ranking?

Every tool gets the same ssh configuration (the loopback sshd's file) and BatchMode;
only pegasus adds its own defaults (which this file's settings win over) and the
options it forces (README, SSH).
"""

import os
import resource
import shlex
import socket
import statistics
import subprocess
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from benchlib.cases.fanout import check_pdsh, step_command, step_dirs, tool_version, \
    verify_steps
from benchlib.cases.limit import LOOP, Masters
from benchlib.cases.queue_mode import check_gnu_parallel, parallel_once, pegasus_once
from benchlib.core import RUN_TIMEOUT, STOP_GRACE, Bench, CaseError, Row, Skip, Timed, tail
from benchlib.registry import Target, case
from procs import children_of, stop_process, wait_until

COLD_SMALL = 8
COLD_BIG = 64
LOCKSTEP_HOSTS = 64
LOCKSTEP_COMMANDS = 10
FANOUT = 64                      # pdsh -f, clush -f, parallel-ssh -p
FAST_KEX = "curve25519-sha256"
SSHD_SETTLE = 10.0               # seconds for the sshd to reap a run's connections

TARGET_COLD = 0.9                # (l), (m): pegasus <= 0.9 x the fastest peer
TARGET_LOCKSTEP = 8.0            # (n): the fastest peer >= 8 x pegasus
TARGET_QUEUE_LIMIT = 1.5         # (o): pegasus <= 1.5 x the raw limit
TARGET_QUEUE_PARALLEL = 3.0      # (o): GNU parallel >= 3 x pegasus


# --- one measured run ---------------------------------------------------------------

class Sample:
    """One run: wall seconds, seconds to the first output line (None if not
    asked), CPU seconds of the tool and its descendants, and of the sshd."""

    def __init__(self, wall: float, first: Optional[float], client: float,
                 server: Optional[float]) -> None:
        self.wall = wall
        self.first = first
        self.client = client
        self.server = server
        self.opening: Optional[float] = None   # (o)'s limit: opening its masters


def sshd_cpu(pid: Optional[int]) -> Optional[float]:
    """CPU seconds of the sshd's connections that have ended (its reaped
    children's), or None."""
    if not pid:
        return None
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the name: state, ppid, ... utime(11) stime(12) cutime(13) cstime(14).
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def settle_sshd(bench: Bench) -> None:
    """Wait until the sshd has reaped every connection of the last run."""
    if bench.sshd.pid:
        wait_until(lambda: not children_of(bench.sshd.pid), SSHD_SETTLE, interval=0.02)


def run_timed(bench: Bench, argv: List[str], directory: str, what: str,
              env: Optional[Dict[str, str]] = None, first_line: Optional[str] = None,
              expect_lines: Optional[int] = None) -> Sample:
    """Run argv, its stdout read here line by line: the wall time, the time
    to the first line that ends with `first_line`, the CPU. With
    expect_lines, that many such lines must come (every host answered)."""
    settle_sshd(bench)
    server_before = sshd_cpu(bench.sshd.pid)
    client_before = children_cpu()
    errors = os.path.join(directory, "stderr")
    first = None
    matched = 0
    with open(errors, "ab") as log:
        start = time.monotonic()
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=log, cwd=directory)
        try:
            assert process.stdout is not None
            for raw in process.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if first_line is not None and line.endswith(first_line):
                    matched += 1
                    if first is None:
                        first = time.monotonic() - start
            status = process.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise CaseError("%s did not finish within %gs" % (what, RUN_TIMEOUT)) from None
        finally:
            stop_process(process, STOP_GRACE)
        wall = time.monotonic() - start
    client = children_cpu() - client_before
    settle_sshd(bench)
    server_after = sshd_cpu(bench.sshd.pid)
    if status != 0:
        raise CaseError("%s exited with status %d:\n%s" % (what, status, tail(errors)))
    if expect_lines is not None and matched != expect_lines:
        raise CaseError("%s: %d of %d hosts answered:\n%s" % (what, matched, expect_lines,
                                                              tail(errors)))
    server = None if server_before is None or server_after is None else \
        server_after - server_before
    return Sample(wall, first, client, server)


# --- medians -------------------------------------------------------------------------

def spread(values: List[float], unit: str = "s", scale: float = 1.0) -> str:
    """`median unit (min-max)`."""
    return "%.2f %s (%.2f-%.2f)" % (statistics.median(values) * scale, unit,
                                    min(values) * scale, max(values) * scale)


class MedianRow(Row):
    """A Row whose seconds are the median of its rounds; `samples` keeps every
    round (None for a failed one), in round order."""

    def __init__(self, key: str, label: str, samples: List[Optional[Sample]],
                 units: int, **options: Any) -> None:
        good = [s for s in samples if s is not None]
        median = statistics.median([s.wall for s in good])
        super().__init__(key, label, median, median / units, **options)
        self.samples = samples

    def sampled(self, name: str) -> List[float]:
        return [getattr(s, name) for s in self.samples
                if s is not None and getattr(s, name) is not None]


class MedianTimed(Timed):
    """A Timed whose once() gives a Sample; its row reports the median."""

    def __init__(self, key: str, label: str, once: Callable[[], Sample], units: int,
                 **options: Any) -> None:
        self.samples: List[Optional[Sample]] = []
        self._measure = once

        def wall() -> float:
            try:
                sample = self._measure()
            except CaseError:
                self.samples.append(None)
                raise
            self.samples.append(sample)
            return sample.wall
        super().__init__(key, label, wall, units, **options)

    def rows(self) -> List[Row]:
        good = [s for s in self.samples if s is not None]
        if not good:
            raise CaseError("\n".join(self.failures))
        parts = ["median of %d: %s" % (len(good), spread([s.wall for s in good]))]
        firsts = [s.first for s in good if s.first is not None]
        if firsts:
            parts.append("first line %s" % spread(firsts))
        parts.append("CPU %s" % spread([s.client for s in good]))
        servers = [s.server for s in good if s.server is not None]
        if servers:
            parts.append("sshd CPU %s" % spread(servers))
        note = "; ".join(parts + ([self.note] if self.note else []))
        if self.failures:
            note += "\n" + "\n".join(self.failures)
        return [MedianRow(self.key, self.label, self.samples, self.jobs, note=note,
                          unit=self.unit, group=self.group, peer=self.peer)]


def round_ratios(row: MedianRow, other: MedianRow, invert: bool = False) -> List[float]:
    """row / other round by round (other / row with invert), where both ran."""
    ratios = []
    for mine, theirs in zip(row.samples, other.samples):
        if mine is not None and theirs is not None:
            ratios.append(theirs.wall / mine.wall if invert else mine.wall / theirs.wall)
    return ratios


def ratio_text(ratio: float, per_round: List[float]) -> str:
    if not per_round:
        return "%.2fx" % ratio
    return "%.2fx (rounds %.2f-%.2f)" % (ratio, min(per_round), max(per_round))


# --- the tools, one command on many hosts ----------------------------------------------

class Tools:
    """The command lines of pegasus, the peers and raw ssh for one command on
    `hosts` aliases, with `kex` (None: ssh's own choice) for every one."""

    def __init__(self, bench: Bench, hosts: int, kex: Optional[str]) -> None:
        self.bench = bench
        self.hosts = hosts
        self.kex = kex
        self.names = bench.aliases(hosts)
        self.config = bench.config

    def ssh_options(self) -> List[str]:
        options = ["-o", "BatchMode=yes"]
        if self.kex:
            options += ["-o", "KexAlgorithms=" + self.kex]
        return options

    def pegasus(self, directory: str, commands: List[str]) -> Tuple[List[str], Dict[str, str]]:
        prefix, env = self.bench.pegasus_command()
        argv = prefix + ["b", "--ssh-config", self.config, "-w", ",".join(self.names)]
        if self.kex:
            argv += ["-o", "KexAlgorithms=" + self.kex]
        if len(commands) > 1:
            argv += ["-p", "0"]   # as the peers, which print nothing for these
        return argv + ["--"] + commands, env

    def pdsh(self, command: str) -> Tuple[List[str], Dict[str, str]]:
        pdsh = self.bench.tool("pdsh", "pdsh", check=check_pdsh)
        # pdsh's ssh module splits these on spaces: the paths hold none.
        env = dict(os.environ, PDSH_SSH_ARGS_APPEND=" ".join(["-F", self.config]
                                                             + self.ssh_options()))
        env.pop("PDSH_SSH_ARGS", None)
        return [pdsh, "-R", "ssh", "-S", "-f", str(FANOUT), "-w", ",".join(self.names),
                command], env

    def clush(self, command: str) -> Tuple[List[str], Dict[str, str]]:
        clush = self.bench.tool("clush", "clustershell")
        return [clush, "-f", str(FANOUT), "-S", "--nostdin", "-w", ",".join(self.names),
                "-o", " ".join(["-F", self.config] + self.ssh_options()), command], \
            dict(os.environ)

    def pssh(self, directory: str, command: str) -> Tuple[List[str], Dict[str, str]]:
        pssh = self.bench.tool("parallel-ssh", "pssh")
        hosts = os.path.join(directory, "hosts")
        with open(hosts, "w") as f:
            f.write("".join("%s\n" % a for a in self.names))
        options = [word for option in self.ssh_options()[1::2] for word in ("-O", option)]
        # -i: print each host's output (after it ends); -t 0: no timeout of its own.
        return [pssh, "-i", "-p", str(FANOUT), "-t", "0", "-h", hosts, "-x",
                "-F %s" % self.config] + options + [command], dict(os.environ)

    def raw(self, command: str) -> Tuple[List[str], Dict[str, str]]:
        """One plain ssh per alias, all started at once by a shell."""
        ssh = " ".join(shlex.quote(word) for word in ["ssh", "-F", self.config]
                       + self.ssh_options())
        script = ('for h in %s; do %s "$h" %s & done; wait'
                  % (" ".join(self.names), ssh, shlex.quote(command)))
        return ["sh", "-c", script], dict(os.environ)


class Cold:
    """One command, cold, on `hosts` aliases: every tool's MedianTimed."""

    def __init__(self, bench: Bench, letter: str, hosts: int, kex: Optional[str]) -> None:
        self.bench = bench
        self.letter = letter
        self.tools = Tools(bench, hosts, kex)
        self.hosts = hosts
        self.group = "%s-%d%s" % (letter, hosts, "-kex" if kex else "")
        self.what = "1 cmd x %d hosts, cold%s" % (hosts, ", %s" % kex if kex else "")
        self.expect = socket.gethostname()

    def key(self, tool: str) -> str:
        return "%s-%s" % (self.group, tool)

    def items(self) -> List[Union[Timed, Row]]:
        items: List[Union[Timed, Row]] = []
        for name, tool, peer, argv_of in (
                ("pegasus", "pegasus b", False,
                 lambda d: self.tools.pegasus(d, ["hostname"])),
                ("raw", "raw ssh, %d at once" % self.hosts, False,
                 lambda d: self.tools.raw("hostname")),
                ("pdsh", "pdsh -f %d" % FANOUT, True, lambda d: self.tools.pdsh("hostname")),
                ("clush", "clush -f %d" % FANOUT, True,
                 lambda d: self.tools.clush("hostname")),
                ("pssh", "parallel-ssh -p %d" % FANOUT, True,
                 lambda d: self.tools.pssh(d, "hostname"))):
            label = "(%s) %s, %s" % (self.letter, tool, self.what)
            try:
                argv_of(self.bench.tmp)   # a missing peer is found now
            except Skip as exc:
                items.append(Row(self.key(name), label + " (skipped)", note=str(exc),
                                 unit="host", group=self.group, peer=peer))
                continue
            items.append(MedianTimed(self.key(name), label, self._once(name, argv_of),
                                     self.hosts, unit="host", group=self.group, peer=peer))
        return items

    def _once(self, name: str, argv_of: Callable[[str], Tuple[List[str], Dict[str, str]]]
              ) -> Callable[[], Sample]:
        def once() -> Sample:
            directory = self.bench.workdir(name)
            argv, env = argv_of(directory)
            return run_timed(self.bench, argv, directory, name, env=env,
                             first_line=self.expect, expect_lines=self.hosts)
        return once


class Lockstep:
    """Ten commands on 64 aliases: pegasus b once, each peer ten times; every
    command leaves a file per host that ran it (fanout.step_command)."""

    def __init__(self, bench: Bench, letter: str) -> None:
        self.bench = bench
        self.letter = letter
        self.tools = Tools(bench, LOCKSTEP_HOSTS, None)
        self.group = "%s-%d-%d" % (letter, LOCKSTEP_HOSTS, LOCKSTEP_COMMANDS)
        self.what = "%d cmds x %d hosts" % (LOCKSTEP_COMMANDS, LOCKSTEP_HOSTS)

    def items(self) -> List[Union[Timed, Row]]:
        items: List[Union[Timed, Row]] = [MedianTimed(
            "%s-pegasus" % self.group, "(%s) pegasus b, %s, masters reused"
            % (self.letter, self.what), self._pegasus, LOCKSTEP_COMMANDS, unit="cmd",
            group=self.group)]
        for name, tool, argv_of in (
                ("pdsh", "pdsh -f %d" % FANOUT, lambda d, c: self.tools.pdsh(c)),
                ("clush", "clush -f %d" % FANOUT, lambda d, c: self.tools.clush(c)),
                ("pssh", "parallel-ssh -p %d" % FANOUT, self.tools.pssh)):
            label = "(%s) %s, %s, %d invocations" % (self.letter, tool, self.what,
                                                    LOCKSTEP_COMMANDS)
            try:
                argv_of(self.bench.tmp, "true")
            except Skip as exc:
                items.append(Row("%s-%s" % (self.group, name), label + " (skipped)",
                                 note=str(exc), unit="cmd", group=self.group, peer=True))
                continue
            items.append(MedianTimed("%s-%s" % (self.group, name), label,
                                     self._peer(name, argv_of), LOCKSTEP_COMMANDS,
                                     unit="cmd", group=self.group, peer=True))
        return items

    def _pegasus(self) -> Sample:
        directory = self.bench.workdir("lockstep")
        step_dirs(directory, LOCKSTEP_COMMANDS)
        commands = [step_command(directory, k) for k in range(1, LOCKSTEP_COMMANDS + 1)]
        argv, env = self.tools.pegasus(directory, commands)
        sample = run_timed(self.bench, argv, directory, "pegasus b", env=env)
        verify_steps("pegasus b", directory, LOCKSTEP_COMMANDS, LOCKSTEP_HOSTS)
        return sample

    def _peer(self, name: str, argv_of: Callable[[str, str], Tuple[List[str], Dict[str, str]]]
              ) -> Callable[[], Sample]:
        def once() -> Sample:
            directory = self.bench.workdir(name)
            step_dirs(directory, LOCKSTEP_COMMANDS)
            total = Sample(0.0, None, 0.0, 0.0)
            for k in range(1, LOCKSTEP_COMMANDS + 1):
                argv, env = argv_of(directory, step_command(directory, k))
                one = run_timed(self.bench, argv, directory, "%s (command %d)" % (name, k),
                                env=env)
                total.wall += one.wall
                total.client += one.client
                total.server = None if total.server is None or one.server is None else \
                    total.server + one.server
            verify_steps(name, directory, LOCKSTEP_COMMANDS, LOCKSTEP_HOSTS)
            return total
        return once


# --- the queue: 400 short jobs ----------------------------------------------------------

def process_cpu(pid: int) -> float:
    """CPU seconds of a live process (0 if it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def limit_sample(bench: Bench) -> Sample:
    """limit.limit_once, with its CPU: the loops' sh and ssh clients (our
    children), and the masters' (forked into the background by -f: counted
    by PID) while the loops run. `opening`: what opening the masters took."""
    directory = bench.workdir("limit")
    aliases = bench.aliases(bench.hosts)
    masters = Masters(bench, aliases, directory)
    before_open = children_cpu()
    try:
        masters.open()
        opening = children_cpu() - before_open
        relay_before = sum(process_cpu(pid) for pid in masters.pids.values())
        shares = [bench.jobs // len(aliases) + (1 if i < bench.jobs % len(aliases) else 0)
                  for i in range(len(aliases))]
        errors = os.path.join(directory, "loops.log")
        client_before = children_cpu()
        with open(errors, "ab") as log:
            start = time.monotonic()
            loops = [subprocess.Popen(["sh", "-c", LOOP, bench.config, masters.sockets[a], a,
                                       str(n)], stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=log) for a, n in zip(aliases, shares)]
            try:
                statuses = [loop.wait(timeout=RUN_TIMEOUT) for loop in loops]
            finally:
                for loop in loops:
                    stop_process(loop, STOP_GRACE)
            seconds = time.monotonic() - start
        client = children_cpu() - client_before
        relay = sum(process_cpu(pid) for pid in masters.pids.values()) - relay_before
    finally:
        masters.close()
    if any(statuses):
        raise CaseError("an ssh -S loop failed:\n%s" % tail(errors))
    sample = Sample(seconds, None, client + relay, None)
    sample.opening = opening
    return sample


def queue_items(bench: Bench, letter: str) -> List[Union[Timed, Row]]:
    def measured(run: Callable[[], float]) -> Callable[[], Sample]:
        def once() -> Sample:
            before = children_cpu()
            seconds = run()
            return Sample(seconds, None, children_cpu() - before, None)
        return once

    what = "%d x true over %d hosts" % (bench.jobs, bench.hosts)
    items: List[Union[Timed, Row]] = [
        MedianTimed("%s-limit" % letter, "(%s) limit: raw ssh -S loops, %s" % (letter, what),
                    lambda: limit_sample(bench), bench.jobs,
                    note="masters opened beforehand, not timed"),
        MedianTimed("%s-pegasus" % letter, "(%s) pegasus q, %s (incl. start-up, connecting)"
                    % (letter, what), measured(lambda: pegasus_once(bench)), bench.jobs)]
    try:
        parallel = bench.tool("parallel", "parallel", check=check_gnu_parallel)
    except Skip as exc:
        items.append(Row("%s-parallel" % letter, "(%s) GNU parallel (skipped)" % letter,
                         note=str(exc)))
        return items
    items.append(MedianTimed("%s-parallel" % letter, "(%s) GNU parallel -M, %s"
                             % (letter, what), measured(lambda: parallel_once(bench, parallel)),
                             bench.jobs, note=tool_version([parallel, "--version"])))
    return items


# --- the targets -----------------------------------------------------------------------

def _median_rows(rows: List[Row]) -> Dict[str, MedianRow]:
    return {row.key: row for row in rows if isinstance(row, MedianRow)}


def _fastest_peer(rows: Dict[str, MedianRow], group: str) -> Optional[MedianRow]:
    peers = [row for row in rows.values() if row.group == group and row.peer
             and row.seconds is not None]
    return min(peers, key=lambda row: row.seconds or 0.0) if peers else None


def _tool(row: MedianRow) -> str:
    return row.key.rsplit("-", 1)[1]


def _versus(mine: MedianRow, other: MedianRow) -> str:
    return "%s %s vs %s %s" % (_tool(mine), spread(mine.sampled("wall")), _tool(other),
                               spread(other.sampled("wall")))


def cold_targets(letter: str, hosts: int, kex: Optional[str]) -> Callable[[List[Row]],
                                                                          List[Target]]:
    def targets(rows: List[Row]) -> List[Target]:
        found: List[Target] = []
        medians = _median_rows(rows)
        group = "%s-%d%s" % (letter, hosts, "-kex" if kex else "")
        mine = medians.get(group + "-pegasus")
        best = _fastest_peer(medians, group)
        if mine is None or best is None or not mine.seconds or not best.seconds:
            return found
        what = "(%s) 1 cmd on %d hosts, cold%s" % (letter, hosts, ", %s for all" % kex
                                                   if kex else "")
        ratio = mine.seconds / best.seconds
        text = "%s; %s" % (ratio_text(ratio, round_ratios(mine, best)), _versus(mine, best))
        if kex:
            found.append((what + ": pegasus / fastest peer", text, "(ranking only)", None))
        else:
            found.append((what + ": pegasus / fastest peer", text, "<= %gx" % TARGET_COLD,
                          ratio <= TARGET_COLD))
        for tool in (mine, best, medians.get(group + "-raw")):
            if tool is None:
                continue
            firsts = tool.sampled("first")
            servers = tool.sampled("server")
            found.append(("%s: %s" % (what, _tool(tool)), "first line %s; CPU %s + sshd %s" % (
                spread(firsts) if firsts else "-", spread(tool.sampled("client")),
                spread(servers) if servers else "-"), "(report)", None))
        if kex:
            # pegasus alone with the faster exchange, the peers with ssh's own choice.
            default_best = _fastest_peer(medians, "%s-%d" % ("m" if hosts == COLD_BIG else "l",
                                                               hosts))
            if default_best is not None and default_best.seconds:
                ratio = mine.seconds / default_best.seconds
                found.append(("%s: pegasus with %s / fastest peer with ssh's default"
                              % (what, kex), "%.2fx; %s" % (ratio, _versus(mine, default_best)),
                              "(if pegasus chose it)", None))
        return found
    return targets


def lockstep_targets(rows: List[Row]) -> List[Target]:
    medians = _median_rows(rows)
    group = "n-%d-%d" % (LOCKSTEP_HOSTS, LOCKSTEP_COMMANDS)
    mine = medians.get(group + "-pegasus")
    best = _fastest_peer(medians, group)
    if mine is None or best is None or not mine.seconds or not best.seconds:
        return []
    ratio = best.seconds / mine.seconds
    return [("(n) %d cmds on %d hosts: fastest peer run %d times / pegasus"
             % (LOCKSTEP_COMMANDS, LOCKSTEP_HOSTS, LOCKSTEP_COMMANDS),
             "%s; %s" % (ratio_text(ratio, round_ratios(mine, best, invert=True)),
                         _versus(mine, best)),
             ">= %gx" % TARGET_LOCKSTEP, ratio >= TARGET_LOCKSTEP)]


def queue_targets(rows: List[Row]) -> List[Target]:
    medians = _median_rows(rows)
    limit, mine, gnu = (medians.get("o-" + name) for name in ("limit", "pegasus", "parallel"))
    found: List[Target] = []
    if mine is None or not mine.seconds:
        return found
    jobs = round(mine.seconds / (mine.per_job or mine.seconds))
    if limit is not None and limit.seconds:
        ratio = mine.seconds / limit.seconds
        found.append(("(o) %d jobs: pegasus / raw limit" % jobs,
                      "%s; %s" % (ratio_text(ratio, round_ratios(mine, limit)),
                                  _versus(mine, limit)),
                      "<= %gx" % TARGET_QUEUE_LIMIT, ratio <= TARGET_QUEUE_LIMIT))
    if gnu is not None and gnu.seconds:
        ratio = gnu.seconds / mine.seconds
        found.append(("(o) %d jobs: GNU parallel / pegasus" % jobs,
                      "%s; %s" % (ratio_text(ratio, round_ratios(mine, gnu, invert=True)),
                                  _versus(mine, gnu)),
                      ">= %gx" % TARGET_QUEUE_PARALLEL, ratio >= TARGET_QUEUE_PARALLEL))
    for row in (mine, limit):
        if row is None:
            continue
        cpu = row.sampled("client")
        text = "%s per job" % spread([c / jobs for c in cpu], "ms", 1e3)
        opening = [s.opening for s in row.samples if s is not None and s.opening is not None]
        if opening:
            text += " (+ %s per job opening its masters beforehand)" % spread(
                [o / jobs for o in opening], "ms", 1e3)
        elif row is mine:
            text += " (its masters' key exchanges included)"
        found.append(("(o) controller CPU, %s and its ssh processes" % _tool(row), text,
                      "(report)", None))
    return found


# --- the cases ---------------------------------------------------------------------------

@case("l", "cold8", "(l) 1 cmd on %d hosts, cold" % COLD_SMALL,
      targets=cold_targets("l", COLD_SMALL, None))
def case_cold8(bench: Bench) -> List[Union[Timed, Row]]:
    """one command, cold, on 8 aliases: `pegasus b -w ... -- hostname` vs pdsh,
    clush, parallel-ssh and raw ssh; medians, time to the first line, CPU."""
    return Cold(bench, "l", COLD_SMALL, None).items()


@case("m", "cold64", "(m) 1 cmd on %d hosts, cold" % COLD_BIG,
      targets=cold_targets("m", COLD_BIG, None))
def case_cold64(bench: Bench) -> List[Union[Timed, Row]]:
    """(l) on 64 aliases."""
    return Cold(bench, "m", COLD_BIG, None).items()


@case("n", "lockstep10", "(n) %d cmds on %d hosts" % (LOCKSTEP_COMMANDS, LOCKSTEP_HOSTS),
      targets=lockstep_targets)
def case_lockstep10(bench: Bench) -> List[Union[Timed, Row]]:
    """ten lockstep commands on 64 aliases: one `pegasus b` vs each peer run ten
    times; medians."""
    return Lockstep(bench, "n").items()


@case("o", "queue", "(o) pegasus q vs the raw limit and GNU parallel",
      targets=queue_targets)
def case_queue(bench: Bench) -> List[Union[Timed, Row]]:
    """JOBS `true` over N aliases (400 over 8): `pegasus q` vs 8 loops of raw `ssh -S`
    over masters opened beforehand, and GNU parallel -M; medians and CPU per job."""
    return queue_items(bench, "o")


def _both_kex_targets(rows: List[Row]) -> List[Target]:
    return (cold_targets("p", COLD_SMALL, FAST_KEX)(rows)
            + cold_targets("p", COLD_BIG, FAST_KEX)(rows))


@case("p", "coldkex", "(p) (l) and (m) with %s for every tool" % FAST_KEX,
      targets=_both_kex_targets)
def case_cold_kex(bench: Bench) -> List[Union[Timed, Row]]:
    """(l) and (m) with `KexAlgorithms curve25519-sha256` for every tool: does the
    faster key exchange change the ranking?"""
    return (Cold(bench, "p", COLD_SMALL, FAST_KEX).items()
            + Cold(bench, "p", COLD_BIG, FAST_KEX).items())
