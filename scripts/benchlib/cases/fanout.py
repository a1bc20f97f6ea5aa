"""(f) (g) (h) broadcast fan-out: `pegasus b` against pdsh, clush and parallel-ssh,
each command on every one of 64 or 256 aliases of the private sshd.

In (f)-(h) each command is `: > DIR/cK/$$`: like `true` a shell builtin (no fork),
but it leaves one file per host that ran it, so every run is checked to have reached
every alias -- a misconfigured tool cannot look fast. pegasus's peak memory (its own
RSS high-water, and the sum of its ssh children's RSS) is sampled with psutil every
20 ms in one extra, untimed run, so that the sampling does not slow the timed ones.
"""

import importlib.util
import json
import os
import shlex
import subprocess
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from procs import stop_process

from benchlib.core import (
    RUN_TIMEOUT,
    STOP_GRACE,
    Bench,
    CaseError,
    Row,
    Skip,
    Timed,
    tail,
    verify_queue_run,
)
from benchlib.memory import Memory, MemorySampler
from benchlib.registry import Target, case
from benchlib.report import fastest_peers

FANOUT = 64              # pdsh -f, clush -f, parallel-ssh -p
FANOUT_HOSTS = 64        # aliases in (f) and (g)
FANOUT_BIG = 256         # aliases in (h)
LOCKSTEP_COMMANDS = 10   # commands in (g) and (h)
TARGET_FANOUT_VS_PEER = 1.0       # (f) pegasus <= 1 x the fastest peer
TARGET_PEER_VS_LOCKSTEP = 3.0     # (g) the fastest peer >= 3 x pegasus


def step_command(directory: str, step: int) -> str:
    """The command of step k: `: > DIR/ck/$$`. `:` is a builtin, as cheap as
    `true`, and the redirection leaves one file per shell that ran it."""
    return ": > %s/$$" % shlex.quote(os.path.join(directory, "c%d" % step))


def step_dirs(directory: str, commands: int) -> None:
    for step in range(1, commands + 1):
        os.mkdir(os.path.join(directory, "c%d" % step))


def verify_steps(tool: str, directory: str, commands: int, hosts: int) -> None:
    """Raise CaseError unless every step ran on every host."""
    for step in range(1, commands + 1):
        ran = len(os.listdir(os.path.join(directory, "c%d" % step)))
        if ran != hosts:
            raise CaseError("%s: command %d of %d ran on %d of %d hosts"
                            % (tool, step, commands, ran, hosts))


def run_logged(argv: List[str], directory: str, what: str,
               env: Optional[Dict[str, str]] = None,
               sampler: bool = False) -> Tuple[float, Optional[Memory]]:
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
            stop_process(process, STOP_GRACE)
        seconds = time.monotonic() - start
    if status != 0:
        raise CaseError("%s exited with status %d:\n%s" % (what, status, tail(out_path)))
    return seconds, memory


class Fanout:
    """One fan-out comparison: `commands` commands on `hosts` aliases, by
    pegasus (one `pegasus b` run) and by each peer (one invocation per
    command). Builds the Timed of every tool; a tool that is missing gives
    a skipped row instead."""

    def __init__(self, bench: Bench, letter: str, hosts: int, commands: int) -> None:
        self.bench = bench
        self.letter = letter
        self.hosts = hosts
        self.commands = commands
        self.group = "%s-%d-%d" % (letter, hosts, commands)
        self.unit = "host" if commands == 1 else "cmd"
        self.units = hosts if commands == 1 else commands
        self.what = ("1 cmd x %d hosts, cold" % hosts if commands == 1
                     else "%d cmds x %d hosts" % (commands, hosts))

    def key(self, tool: str) -> str:
        return "%s-%s" % (self.group, tool)

    def items(self) -> List[Union[Timed, Row]]:
        items: List[Union[Timed, Row]] = [self.pegasus()]
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

    def pegasus(self) -> Timed:
        label = "(%s) pegasus b, %s" % (self.letter, self.what)
        if self.commands > 1:
            label += ", masters reused"
        def memory_run() -> Optional[Memory]:
            return self.pegasus_once(sampler=True)[1]

        probe: Optional[Callable[[], Any]] = memory_run
        note = ""
        if importlib.util.find_spec("psutil") is None:
            probe, note = None, "psutil not installed (pip install psutil): no memory figures"
        return Timed(self.key("pegasus"), label, lambda: self.pegasus_once()[0],
                     self.units, unit=self.unit, group=self.group, probe=probe, note=note)

    def pegasus_once(self, sampler: bool = False) -> Tuple[float, Optional[Memory]]:
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

    def peer(self, name: str, label: str, version: str,
             argv_of: Callable[[str, str], List[str]], env: Optional[Dict[str, str]] = None,
             files: Optional[Callable[[str], None]] = None) -> Timed:
        """The Timed of a peer. argv_of(directory, command) is its command line."""
        def once() -> float:
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

    def pdsh(self) -> Timed:
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

    def clush(self) -> Timed:
        clush = self.bench.tool("clush", "clustershell")
        names = ",".join(self.bench.aliases(self.hosts))
        # -o: options for every ssh it starts; -S: exit with the largest
        # status (else a failed host still exits 0); --nostdin: nothing to send.
        return self.peer("clush", "clush -f %d" % FANOUT, tool_version([clush, "--version"]),
                         lambda d, command: [clush, "-f", str(FANOUT), "-S", "--nostdin",
                                             "-w", names, "-o", "-F %s -o BatchMode=yes"
                                             % self.bench.config, command])

    def pssh(self) -> Timed:
        pssh = self.bench.tool("parallel-ssh", "pssh")

        def hosts_file(directory: str) -> None:
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


def check_pdsh(path: str) -> None:
    if "ssh" not in tool_version([path, "-V"], line=None):
        raise Skip("%s has no ssh rcmd module (pdsh -V)" % path)


def tool_version(argv: List[str], line: Optional[int] = 0) -> str:
    out = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True,
                         check=False).stdout.strip()
    return out if line is None else (out.splitlines() or ["?"])[line]


def fanout_targets(letter: str) -> Callable[[List[Row]], List[Target]]:
    """The targets of the fan-out case `letter`: pegasus vs the fastest peer of each
    of its groups, (f) no slower, (g) at least 3x faster, (h) reported without a
    target."""
    def targets(rows: List[Row]) -> List[Target]:
        fastest = fastest_peers(rows)
        found: List[Target] = []
        for row in rows:
            if (row.group is None or row.peer or row.seconds is None
                    or row.group not in fastest or row.group.split("-")[0] != letter):
                continue
            best = fastest[row.group]
            assert best.seconds is not None     # fastest_peers() keeps timed rows only
            _, hosts, commands = row.group.split("-")
            what = "%s, %s cmd%s on %s hosts" % (letter, commands,
                                                 "" if commands == "1" else "s", hosts)
            versus = "%.2f s vs %s %.2f s" % (row.seconds, best.key.rsplit("-", 1)[1],
                                              best.seconds)
            if letter == "f":
                ratio = row.seconds / best.seconds
                found.append(("(%s) pegasus / fastest peer" % what,
                              "%.2fx (%s)" % (ratio, versus),
                              "<= %gx (no slower than pdsh, clush, pssh)"
                              % TARGET_FANOUT_VS_PEER, ratio <= TARGET_FANOUT_VS_PEER))
            elif letter == "g":
                ratio = best.seconds / row.seconds
                found.append(("(%s) fastest peer / pegasus" % what,
                              "%.2fx (%s)" % (ratio, versus),
                              ">= %gx (pegasus 3x faster than the fastest peer)"
                              % TARGET_PEER_VS_LOCKSTEP, ratio >= TARGET_PEER_VS_LOCKSTEP))
            else:
                found.append(("(%s) fastest peer / pegasus" % what,
                              "%.2fx (%s)" % (best.seconds / row.seconds, versus),
                              "(none)", None))
        return found
    return targets


@case("f", "fanout", "(f) broadcast, 1 cmd on %d hosts" % FANOUT_HOSTS,
      targets=fanout_targets("f"))
def case_fanout(bench: Bench) -> List[Union[Timed, Row]]:
    """broadcast, cold: one command on 64 aliases, connections included: `pegasus b`
    vs pdsh -f 64, clush -f 64, parallel-ssh -p 64."""
    return Fanout(bench, "f", FANOUT_HOSTS, 1).items()


@case("g", "lockstep",
      "(g) broadcast, %d cmds on %d hosts" % (LOCKSTEP_COMMANDS, FANOUT_HOSTS),
      targets=fanout_targets("g"))
def case_lockstep(bench: Bench) -> List[Union[Timed, Row]]:
    """ten commands on 64 aliases: one `pegasus b` (masters opened once, reused) vs
    ten invocations of each of those peers."""
    return Fanout(bench, "g", FANOUT_HOSTS, LOCKSTEP_COMMANDS).items()


@case("h", "fanout256", "(h) broadcast on %d hosts" % FANOUT_BIG,
      targets=fanout_targets("h"))
def case_fanout256(bench: Bench) -> List[Union[Timed, Row]]:
    """(f) and (g) on 256 aliases (256 sub-hosts on the one sshd)."""
    return (Fanout(bench, "h", FANOUT_BIG, 1).items()
            + Fanout(bench, "h", FANOUT_BIG, LOCKSTEP_COMMANDS).items())
