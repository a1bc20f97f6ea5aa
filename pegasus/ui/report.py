"""What remains of a run: the summary of failures, the joblog, the per-job
log files. Each is an event handler, like the printer."""

from __future__ import annotations

import sys
from collections import Counter
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Set, TextIO, Tuple

from ..events.handler import Handler, RunInfo
from ..events.outcome import Outcome, Reason
from . import words
from .terminal import cut, display_width

if TYPE_CHECKING:
    from ..spec.hosts import SubHost


def fold_hosts(hosts: Iterable[Optional[SubHost]]) -> str:
    """Sub-hosts in range notation (see nodeset.fold_hosts)."""
    from ..spec.nodeset import fold_hosts as fold
    return fold([(h.hostname, h.params) if h is not None else ("-", {}) for h in hosts])


FOLD_AFTER = 5     # members of a failure group listed one per line; the rest by #seq
SEQS_SHOWN = 30    # ... at most this many of their #seq
TABLE_ROWS = 20    # sub-hosts in the table; beyond, those with failures first
# Endings that never started the command: no time to count for the sub-host.
UNSTARTED = frozenset([Reason.UNREACHABLE, Reason.FITS_NOWHERE, Reason.TEMPLATE, Reason.TOO_LONG,
                       Reason.NOT_STARTED])


class HostTally:
    """What one sub-host did in a run, for the table at the end: every
    attempt counts (a retried failure tells about its sub-host too)."""

    __slots__ = ("host", "done", "failed", "time", "timed")

    def __init__(self, host: SubHost):
        self.host = host
        self.done = self.failed = self.timed = 0
        self.time = 0.0

    def add(self, outcome: Outcome) -> None:
        if outcome.ok:
            self.done += 1
        elif outcome.reason is not Reason.CANCELLED:
            self.failed += 1
        if outcome.reason not in UNSTARTED and outcome.reason is not Reason.CANCELLED:
            self.time += outcome.duration
            self.timed += 1

    @property
    def mean(self) -> Optional[float]:
        return self.time / self.timed if self.timed else None


class Summary(Handler):
    """Counts every run and keeps the failed and the cancelled ones for the
    end-of-run report: failures grouped by how they ended, with the
    parameter values each group shares, each run by #seq, sub-host,
    parameters and last stderr line; then, when something failed and the
    run has several sub-hosts, a table per sub-host. When every job runs on
    every sub-host (`per_job`: broadcast), failures are told per job: which
    sub-hosts failed it (or had it cancelled), and how.

    `width`: cut lines to it (a terminal's), 0: never; `record`: the runs
    are in an outcome record (`pegasus status --job SEQ` shows them)."""

    def __init__(self, per_job: bool = False, width: int = 0, record: bool = False):
        self.per_job = per_job
        self.width = width
        self.record = record
        self.runs = 0
        self.failed: List[Outcome] = []
        self.cancelled: List[Outcome] = []
        self.unreachable: List[Tuple[SubHost, str]] = []
        self.jobs: Set[int] = set()   # per job (broadcast): the jobs seen; queue mode keeps none
        self.subhosts = 0
        self.tallies: Dict[int, HostTally] = {}
        self.values: Counter[Tuple[str, str]] = Counter()   # (key, value) -> finished jobs with it

    def on_run_started(self, run: RunInfo) -> None:
        self.subhosts = run.subhosts

    def on_host_ready(self, host: SubHost, was_down: bool) -> None:
        if was_down:  # it came back: no longer worth a line in the summary
            self.unreachable = [(h, r) for h, r in self.unreachable if h is not host]

    def on_host_failed(self, host: SubHost, reason: str) -> None:
        self.unreachable.append((host, reason))

    def on_job_finished(self, outcome: Outcome) -> None:
        if outcome.host is not None:
            tally = self.tallies.get(outcome.host.index)
            if tally is None:
                tally = self.tallies[outcome.host.index] = HostTally(outcome.host)
            tally.add(outcome)
        if outcome.retried:
            return  # counted by its last attempt
        self.runs += 1
        if self.per_job:
            self.jobs.add(id(outcome.job))
        self.values.update(outcome.job.params.items())
        if outcome.counts_as_failed:
            self.failed.append(outcome)
        elif outcome.reason is Reason.CANCELLED:
            self.cancelled.append(outcome)

    def lines(self) -> List[str]:
        """The summary printed on stderr at the end (empty if all went well)."""
        out: List[str] = []
        for host, reason in self.unreachable:
            out.append("could not connect to %s: %s" % (host.label, reason))
        if self.failed:
            out.extend(self._per_job(self.failed, "failed") if self.per_job else
                       self._groups(self.failed))
        if self.cancelled:
            out.extend(self._per_job(self.cancelled, "were cancelled") if self.per_job else
                       self._per_run(self.cancelled, "were cancelled"))
        if self.failed and self.subhosts > 1 and self.tallies:
            out.extend(self._table())
        if self.failed and self.record:
            out.append("`pegasus status --job SEQ` shows the last lines of a run")
        return out

    # --- failures, grouped ------------------------------------------------------

    def _groups(self, runs: List[Outcome]) -> List[str]:
        out = [words.failed_head(len(runs), self.runs)]
        groups: Dict[str, List[Outcome]] = {}
        for run in runs:
            groups.setdefault(words.ending(run), []).append(run)
        for ending, members in sorted(groups.items(), key=lambda item: -len(item[1])):
            shared, most = self._shared(members)
            hosts = {run.host.index for run in members if run.host is not None}
            on = (words.run_label(members[0]) if len(hosts) == 1 and len(members) > 1
                  and self.subhosts > 1 else None)
            out.append("  " + words.failure_group(len(members), ending, shared, most, on))
            out.extend(self._rows(members, params=True))
        return out

    def _shared(self, runs: List[Outcome]) -> Tuple[List[str], Optional[Tuple[int, str]]]:
        """The `k=v` every run of a group has and some finished job has not
        (what sets the group apart); else the one most of them have (two
        thirds at least), with how many."""
        if len(runs) < 2:
            return [], None
        counts: Counter[Tuple[str, str]] = Counter()
        for run in runs:
            counts.update(run.job.params.items())
        telling = [(pair, count) for pair, count in counts.items()
                   if self.values[pair] < self.runs]
        shared = ["%s=%s" % pair for pair, count in telling if count == len(runs)]
        if shared:
            return shared, None
        best = max(telling, key=lambda item: item[1], default=None)
        if best is not None and best[1] * 3 >= len(runs) * 2:
            return [], (best[1], "%s=%s" % best[0])
        return [], None

    def _rows(self, runs: List[Outcome], params: bool) -> List[str]:
        """One line per run, `#seq  sub-host  parameters  last stderr line`;
        past FOLD_AFTER, the others by #seq."""
        shown = sorted(runs, key=lambda run: run.seq)
        rest = shown[FOLD_AFTER:] if len(shown) > FOLD_AFTER + 1 else []
        shown = shown[:len(shown) - len(rest)]
        cells = [("#%d" % run.seq, words.run_label(run), _params(run) if params else "",
                  run.last_error_line) for run in shown]
        widths = [max(display_width(cell[column]) for cell in cells) for column in range(3)]
        out = []
        for cell in cells:
            text = "    " + "  ".join(_pad(cell[column], widths[column])
                                      for column in range(3) if widths[column])
            out.append(self._cut((text + "  " + cell[3]).rstrip()))
        if rest:
            seqs = ["#%d" % run.seq for run in rest[:SEQS_SHOWN]]
            more = " ..." if len(rest) > SEQS_SHOWN else ""
            out.append(self._cut("    ... and %d more: %s%s" % (len(rest), " ".join(seqs), more)))
        return out

    def _cut(self, text: str) -> str:
        room = self.width - len("pegasus: ") - 1
        return cut(text, room) if self.width and room > 20 else text

    def _per_run(self, runs: List[Outcome], verb: str) -> List[str]:
        out = ["%d of %d job%s %s:" % (len(runs), self.runs, "" if self.runs == 1 else "s",
                                        verb if len(runs) > 1 else verb.replace("were", "was"))]
        width = max(len(words.run_label(run)) for run in runs)
        for run in runs:
            out.append("  %-*s  %-12s %s" % (width, words.run_label(run), words.ending(run),
                                             _short(run.command)))
        return out

    def _per_job(self, runs: List[Outcome], verb: str) -> List[str]:
        jobs: Dict[int, List[Outcome]] = {}
        for run in runs:
            jobs.setdefault(id(run.job), []).append(run)
        out = ["%d of %d job%s %s on some sub-hosts:" % (
            len(jobs), len(self.jobs), "" if len(self.jobs) == 1 else "s",
            verb if len(jobs) > 1 else verb.replace("were", "was"))]
        for same in jobs.values():
            out.append("  %s" % _short(same[0].job.command))
            reasons: Dict[str, List[Outcome]] = {}
            for run in same:
                reasons.setdefault(words.ending(run), []).append(run)
            for reason, members in reasons.items():
                hosts = sorted((run.host for run in members),   # each has one: broadcast
                               key=lambda host: host.index if host is not None else -1)
                out.append("    %s: %s" % (reason, fold_hosts(hosts)))  # hosts.yaml order
                said = {run.last_error_line for run in members}
                if len(said) == 1 and len(members) > 1 and "" not in said:
                    out.append(self._cut("      the last stderr line of each: %s" % said.pop()))
                elif said != {""}:
                    out.extend("  " + row for row in self._rows(members, params=False))
        return out

    # --- per sub-host -------------------------------------------------------------

    def _table(self) -> List[str]:
        tallies = sorted(self.tallies.values(), key=lambda tally: tally.host.index)
        rest: List[HostTally] = []
        if len(tallies) > TABLE_ROWS:
            worst = sorted(tallies, key=lambda tally: (-tally.failed, tally.host.index))
            shown = set(id(tally) for tally in worst[:TABLE_ROWS])
            rest = [tally for tally in tallies if id(tally) not in shown]
            tallies = [tally for tally in tallies if id(tally) in shown]
        rows = [("sub-host", "done", "failed", "mean time")]
        rows += [(tally.host.label, str(tally.done), str(tally.failed),
                  words.mean_time(tally.mean) if tally.mean is not None else "-")
                 for tally in tallies]
        widths = [max(display_width(row[column]) for row in rows) for column in range(4)]
        out = ["per sub-host:"]
        for row in rows:
            out.append(self._cut("  %s  %s  %s  %s" % (
                _pad(row[0], widths[0]), row[1].rjust(widths[1]), row[2].rjust(widths[2]),
                row[3].rjust(widths[3]))))
        if rest:
            out.append("  ... and %s: %d done, %d failed" % (
                words.plural(len(rest), "more sub-host"), sum(t.done for t in rest),
                sum(t.failed for t in rest)))
        return out


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def _params(outcome: Outcome) -> str:
    """A run's job parameters, `k=v k=v`; a job without any: its command."""
    params = outcome.job.params
    if params:
        return " ".join("%s=%s" % pair for pair in params.items())
    return words.first_line(outcome.command)


def _short(command: str, limit: int = 120) -> str:
    command = command.replace("\n", " ")
    return command if len(command) <= limit else command[:limit - 3] + "..."


def print_summary(summary: Summary, stream: Optional[TextIO] = None) -> None:
    stream = stream or sys.stderr
    for line in summary.lines():
        stream.write("pegasus: %s\n" % line)
    stream.flush()


