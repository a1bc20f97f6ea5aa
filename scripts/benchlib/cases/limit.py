"""(a) the limit: raw `ssh -S` over persistent ControlMasters, the floor that
pegasus's queue mode is measured against."""

import os
import signal
import subprocess
import time
from typing import Dict, List

from procs import exists, stop_process, wait_until

from benchlib.core import RUN_TIMEOUT, STOP_GRACE, Bench, CaseError, Timed, tail
from benchlib.registry import case

MASTER_EXIT_WAIT = 5.0   # seconds for a ControlMaster to go after `-O exit`
MASTER_OPEN_WAIT = 60.0  # seconds for `ssh -M -fN` to authenticate and fork


class Masters:
    """One persistent ControlMaster per alias, opened with -fN, closed with
    `-O exit`; each is then waited for by PID, and terminated if it stays."""

    def __init__(self, bench: Bench, aliases: List[str], directory: str) -> None:
        self.bench = bench
        self.aliases = aliases
        self.sockets = {a: os.path.join(directory, "m%d" % i)
                        for i, a in enumerate(aliases)}
        self.log = os.path.join(directory, "masters.log")
        self.pids: Dict[str, int] = {}

    def _ssh(self, alias: str, *args: str) -> List[str]:
        return ["ssh", "-F", self.bench.config, "-S", self.sockets[alias], *args, alias]

    def open(self) -> None:
        with open(self.log, "ab") as log:
            # -f: each forks into the background once authenticated; its log
            # stays a file, so no pipe is held open by a daemon.
            starts = [subprocess.Popen(self._ssh(a, "-M", "-o", "ControlPersist=yes", "-fN"),
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log)
                      for a in self.aliases]
            failed = []
            for alias, process in zip(self.aliases, starts):
                try:
                    status = process.wait(timeout=MASTER_OPEN_WAIT)
                except subprocess.TimeoutExpired:
                    stop_process(process, STOP_GRACE)
                    status = -1
                if status != 0:
                    failed.append(alias)
        for alias in self.aliases:
            pid = self._master_pid(alias)
            if pid:
                self.pids[alias] = pid
        if failed:
            raise CaseError("ControlMaster failed for %s:\n%s" % (", ".join(failed),
                                                                  tail(self.log)))

    def _master_pid(self, alias: str) -> int:
        """The PID `ssh -O check` reports for the master of alias, or 0."""
        out = subprocess.run(self._ssh(alias, "-O", "check"), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=30, check=False).stdout
        if "pid=" in out:
            return int(out.split("pid=")[1].split(")")[0])
        return 0

    def close(self) -> None:
        for alias in self.pids:
            subprocess.run(self._ssh(alias, "-O", "exit"), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
                           check=False)
        wait_until(lambda: not any(map(exists, self.pids.values())), MASTER_EXIT_WAIT,
                   interval=0.02)
        for alias, pid in self.pids.items():
            if exists(pid):
                self.bench.notes.append("master of %s (pid %d) ignored -O exit; "
                                        "terminated" % (alias, pid))
                os.kill(pid, signal.SIGTERM)
        self.pids = {}


LOOP = ('n=$3; while [ "$n" -gt 0 ]; do ssh -F "$0" -S "$1" "$2" true || exit 1; '
        'n=$((n-1)); done')


def limit_once(bench: Bench) -> float:
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
                    stop_process(loop, STOP_GRACE)
            seconds = time.monotonic() - start
        if any(statuses):
            raise CaseError("an ssh -S loop failed:\n%s" % tail(errors))
        return seconds
    finally:
        masters.close()


@case("a", "limit", "(a) limit")
def case_limit(bench: Bench) -> Timed:
    """N ControlMasters opened first (not timed), then N concurrent shell loops of raw
    `ssh -S sock node-k true`: the floor for running JOBS commands over N
    connections."""
    return Timed("a", "(a) limit: raw ssh -S, %d masters" % bench.hosts,
                 lambda: limit_once(bench), bench.jobs, note="masters not timed")
