"""--gather: nothing is streamed; each job's output is printed when every run
of it has ended, each distinct output once, under the sub-hosts that
produced it (as `dshbak -c` and `clush -b` do)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from ..spec.nodeset import fold_hosts
from . import words
from .printer import Printer
from .terminal import BOLD, DIM, RED, RESET

if TYPE_CHECKING:
    from ..events.outcome import Launch, Outcome


class Gatherer(Printer):
    """When every run of a job has ended (`runs_per_job`: one in queue
    mode, one per sub-host in broadcast mode), each distinct output is
    printed once, under the folded list of the sub-hosts that produced it,
    grouped by how they ended."""

    def __init__(self, runs_per_job: int, **options: Any):
        super().__init__(**options)
        self.runs_per_job = runs_per_job
        self._jobs: Dict[int, List[Outcome]] = {}   # id(job) -> its finished runs
        self._output: Dict[int, List[str]] = {}  # run seq -> its output lines

    def show_started(self, launch: Launch) -> None:
        self._output[launch.seq] = []

    def show_line(self, launch: Launch, stream: str, text: str) -> None:
        self._output.setdefault(launch.seq, []).append(text)

    def show_finished(self, outcome: Outcome) -> None:
        if outcome.retried:
            self._output.pop(outcome.seq, None)
            return
        runs = self._jobs.setdefault(id(outcome.job), [])
        runs.append(outcome)
        if len(runs) >= self.runs_per_job:
            del self._jobs[id(outcome.job)]
            self._print_job(runs)

    def _print_job(self, runs: List[Outcome]) -> None:
        groups: Dict[Tuple[str, Tuple[str, ...]], List[Outcome]] = {}
        for outcome in sorted(runs, key=lambda o: o.host.index if o.host is not None else -1):
            lines = tuple(self._output.pop(outcome.seq, ()))
            how = "exit 0" if outcome.ok else "FAILED: " + words.ending(outcome)
            groups.setdefault((how, lines), []).append(outcome)
        head = "=== %s" % words.first_line(runs[0].job.command)
        if self.runs_per_job > 1:
            head += "   (%d sub-hosts)" % len(runs)
        out = [self._style(head, BOLD) + "\n"]
        for (how, lines), members in groups.items():
            hosts = fold_hosts([(o.host.hostname, o.host.params) if o.host is not None
                                else ("-", {}) for o in members])
            style = DIM if how == "exit 0" else BOLD + RED
            out.append(self._style("--- %s: %s" % (hosts, how), style) + "\n")
            out.extend(line + "\n" for line in lines)
        self._emit(self._out, "".join(out))

    def _style(self, text: str, style: str) -> str:
        return style + text + RESET if self.color else text
