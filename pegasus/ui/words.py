"""Every sentence pegasus says about what happened in a run: how a run
ended, and each notice. The engine hands over typed values (events/outcome.py,
events/notices.py); ui/printer.py and ui/report.py show what this module says of them."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Union

from ..events import notices
from ..events.outcome import NEVER_RAN, Launch, Outcome, Reason
from ..spec.jobs import canonical_command, first_line
from .terminal import cut, display_width

if TYPE_CHECKING:
    from ..spec.hosts import SubHost
    from .statusline import Snapshot

_WITH_DETAIL = {
    Reason.UNREACHABLE: "unreachable: %s",
    Reason.TEMPLATE: "template error: %s",
    Reason.NOT_STARTED: "could not start: %s",
    Reason.LOCAL_LIMIT: "could not start here: %s",
    Reason.ENDED: "allocation ended: %s",
    Reason.FITS_NOWHERE: "%s",
    Reason.TOO_LONG: "%s",
}


def plural(count: int, word: str, many: str = "") -> str:
    """`1 job`, `2 jobs` (or the given plural)."""
    return "%d %s" % (count, word if count == 1 else (many or word + "s"))


def ending(outcome: Outcome) -> str:
    """How a run ended, in a few words: 'exit 3', 'timeout', 'host lost'."""
    reason = outcome.reason
    if reason is None:
        if outcome.returncode is not None and outcome.returncode < 0:
            return "killed by signal %d" % -outcome.returncode
        return "exit %s" % outcome.returncode
    template = _WITH_DETAIL.get(reason)
    if template is not None:
        return template % outcome.detail
    return reason.value


def hosts(subhosts: Sequence[SubHost]) -> str:
    """Sub-hosts named in a sentence: `[node-1]` for one; for more, their
    count and their host names folded into ranges (`3 sub-hosts
    (node[1-3])`; sub-hosts of one host by their parameters: `8 sub-hosts
    (node-1)`), so that a hundred of them stay one short line."""
    if len(subhosts) == 1:
        return "[%s]" % subhosts[0].label
    from ..spec.nodeset import fold
    folded = fold(dict.fromkeys(host.hostname for host in subhosts))
    if len(folded) > FOLDED_WIDTH:
        folded = cut(folded, FOLDED_WIDTH - 4) + " ..."
    return "%d sub-hosts (%s)" % (len(subhosts), folded)


FOLDED_WIDTH = 300   # characters of a folded host list in one sentence, at most


def seconds(duration: float) -> str:
    if duration < 600:
        return "%.1f s" % duration
    return "%d min %02d s" % divmod(int(duration), 60)


def mean_time(duration: float) -> str:
    """A mean duration, finer below a second: `0.04 s`, `3.2 s`."""
    return "%.2f s" % duration if duration < 1 else seconds(duration)


def span(duration: float) -> str:
    """A coarse duration, for elapsed times and ETAs: `8 s`, `1 min 10 s`,
    `2 h 05 min`."""
    whole = int(duration + 0.5)
    if whole < 60:
        return "%d s" % whole
    if whole < 3600:
        return "%d min %02d s" % divmod(whole, 60)
    return "%d h %02d min" % (whole // 3600, whole % 3600 // 60)


# --- a run's start and end lines ----------------------------------------------

def run_started(launch: Launch) -> str:
    """`#12 $ command` (with the slots it has, on a host with several)."""
    text = "#%d $ %s" % (launch.seq, first_line(launch.command))
    if launch.host is not None and launch.host.slots > 1 and launch.slots is not None:
        text += "   (slots %s)" % launch.slots_text
    return text


def run_ended(outcome: Outcome) -> str:
    """`#12 done: exit 0 after 1.2 s`, `#12 FAILED: exit 3 after 0.4 s`..."""
    took = seconds(outcome.duration)
    if outcome.retried and outcome.reason is Reason.LOCAL_LIMIT:
        return "#%d NOT STARTED: %s; it runs again once pegasus can start it" % (
            outcome.seq, ending(outcome))
    if outcome.retried and outcome.reason is Reason.ENDED:
        return ("#%d CUT OFF: %s after %s; not the job's failure: it runs again on another "
                "sub-host, or goes back to the queue if none is left" % (
                    outcome.seq, ending(outcome), took))
    if outcome.retried:
        return "#%d %s: %s after %s; it runs again, for attempt %d, on another sub-host " \
               "when one can take it" % (
                   outcome.seq, "LOST" if outcome.reason is Reason.HOST_LOST else "RETRY",
                   ending(outcome), took, outcome.launch.attempt + 1)
    if outcome.ok:
        return "#%d done: exit 0 after %s" % (outcome.seq, took)
    if outcome.reason is Reason.CANCELLED:
        return "#%d cancelled after %s" % (outcome.seq, took)
    if outcome.host is None or outcome.reason in NEVER_RAN:
        # Nothing ran: "after 0.0 s" would read as how long the reason took.
        return "#%d FAILED: %s" % (outcome.seq, ending(outcome))
    return "#%d FAILED: %s after %s" % (outcome.seq, ending(outcome), took)


# --- the report at the end -----------------------------------------------------

def failed_head(failed: int, runs: int) -> str:
    """`3 of 40 jobs failed:`"""
    return "%d of %s failed:" % (failed, plural(runs, "job"))


def failure_group(count: int, how: str, shared: List[str], most: Optional[tuple],
                  on: Optional[str]) -> str:
    """A group of failures that ended alike: `10 failed with exit 3, all
    seed=7:`; `4 failed with timeout, 3 of them size=big:`; `2 failed with
    exit 1, all on node-3:`."""
    text = "%d failed with %s" % (count, how)
    if shared:
        text += ", all " + " ".join(shared)
    elif most is not None:
        text += ", %d of them %s" % most
    if on is not None:
        text += ", all on %s" % on
    return text + ":"


# --- where the run stands -----------------------------------------------------

def _counts(snapshot: Snapshot, running: bool = True) -> List[str]:
    parts = ["%d running" % len(snapshot.running)] if running else []
    parts += ["%d done" % snapshot.done, "%d failed" % snapshot.failed]
    if snapshot.cancelled:
        parts.append("%d cancelled" % snapshot.cancelled)
    if snapshot.retried:
        parts.append("%d retried" % snapshot.retried)
    return parts


def _left(snapshot: Snapshot) -> Optional[str]:
    if snapshot.left is None:
        return None
    if snapshot.daemon and not snapshot.left:
        return "queue empty"
    return "%d left" % snapshot.left


def _rate(snapshot: Snapshot) -> Optional[str]:
    if snapshot.rate is None:
        return None
    return ("%.1f jobs/min" if snapshot.rate < 10 else "%.0f jobs/min") % snapshot.rate


def _eta(snapshot: Snapshot) -> Optional[str]:
    if snapshot.eta is None:
        return None
    return "ETA %s" % span(math.ceil(snapshot.eta))


def status(snapshot: Snapshot, width: int = 0) -> str:
    """The status line: `4 running, 7 done, 1 failed, 12 left; 10.5 jobs/min,
    ETA 1 min 10 s`; a daemon waiting: `queue empty: waiting; 12 done, 0
    failed`. With `width`, what does not fit is left out (the rate first,
    then the ETA), then the line is cut."""
    if snapshot.idle:
        text = "queue empty: waiting; " + ", ".join(_counts(snapshot, running=False))
        return cut(text, width) if width else text
    counts = _counts(snapshot) + [part for part in (_left(snapshot),) if part]
    extras = [part for part in (_eta(snapshot), _rate(snapshot)) if part]
    while True:
        text = ", ".join(counts) + ("; " + ", ".join(reversed(extras)) if extras else "")
        if not width or display_width(text) <= width or not extras:
            return cut(text, width) if width else text
        extras.pop()


def final(snapshot: Snapshot, cancelled: bool) -> str:
    """The last line of a run: `finished in 14.2 s: 12 done, 0 failed; 51
    jobs/min`."""
    counts = _counts(snapshot, running=False)
    if snapshot.left:
        counts.append("%d left" % snapshot.left)
    text = "%s %s: %s" % ("cancelled after" if cancelled else "finished in",
                          seconds(snapshot.elapsed), ", ".join(counts))
    rate = _rate(snapshot)
    return text + ("; " + rate if rate and snapshot.finished > 1 else "")


def _host(launch: Launch) -> str:
    if launch.host is None:
        return "-"
    if launch.host.slots > 1 and launch.slots:
        return "%s slots=%s" % (launch.host.label, launch.slots_text)
    return launch.host.label


def status_block(snapshot: Snapshot) -> List[str]:
    """What SIGUSR1 prints: the status line, then each running job (its
    sequence number, sub-host, time so far and command)."""
    where = " of %s" % snapshot.source if snapshot.source else ""
    lines = ["status%s after %s:" % (where, span(snapshot.elapsed)), "  " + status(snapshot)]
    if not snapshot.running:
        lines.append("  no job running")
    hosts = [_host(launch) for launch in snapshot.running]
    width = max((display_width(host) for host in hosts), default=0)
    seqs = max((len(str(launch.seq)) for launch in snapshot.running), default=0)
    for launch, host in zip(snapshot.running, hosts):
        lines.append("  #%-*d  %s%s  %8s  %s" % (
            seqs, launch.seq, host, " " * (width - display_width(host)),
            seconds(max(0.0, snapshot.now - launch.started)),
            first_line(launch.command, 100)))
    return lines


# --- notices ------------------------------------------------------------------

def _queue_invalid(notice: notices.QueueInvalid) -> str:
    return "%s\n  nothing is taken until the file is fixed" % notice.message


def _put_back(notice: notices.JobPutBack) -> str:
    return "put back at the top of %s: %s" % (notice.path, notice.job.command.split("\n")[0])


def _recovered(notice: notices.JobsRecovered) -> str:
    return ("runner %s died with %s it had taken and not finished: put back at the top "
            "of %s" % (notice.owner, plural(notice.count, "job"), notice.path))


def _cancelling(notice: notices.Cancelling) -> str:
    if not notice.running:
        return "%s: stopping (no job was running)" % notice.signal_name
    return ("%s: cancelling %s running job%s (SIGTERM, then SIGKILL after %g s); again to "
            "kill at once" % (notice.signal_name, notice.running,
                              "" if notice.running == 1 else "s", notice.grace))


def _output_lost(notice: notices.OutputLost) -> str:
    why = ("its reader left (broken pipe)" if notice.reader_left
           else "cannot write: %s" % notice.error)
    if not notice.running:
        return "%s: %s: stopping (no job was running)" % (notice.stream, why)
    return ("%s: %s: stopping; cancelling %s running job%s (SIGTERM, then SIGKILL after %g s)"
            % (notice.stream, why, notice.running, "" if notice.running == 1 else "s",
               notice.grace))


def _requeued(notice: notices.JobsRequeued) -> str:
    return ("put back %s at the top of %s, in their order; run pegasus again to resume "
            "(--on-cancel drop discards them)" % (plural(notice.count, "cancelled job"),
                                                 notice.path))


def _halting(notice: notices.Halting) -> str:
    succeeded = ",success=" in notice.rule
    return ("--halt %s is met (%d of %d finished jobs %s): no further job is taken%s" % (
        notice.rule, notice.finished - notice.failures if succeeded else notice.failures,
        notice.finished, "succeeded" if succeeded else "failed",
        "; stopping the running ones" if notice.now else "; the running ones finish"))


def _paused(notice: notices.HostPaused) -> str:
    return ("[%s] paused for %s: its last %s failed within %g s of starting (a full disk, a "
            "missing environment?); it gets one job again after the pause"
            % (notice.host.label, seconds(notice.seconds), plural(notice.failures, "job"),
               notice.within))


_NOTICES: Dict[type, Callable] = {
    notices.JobsRequeued: _requeued,
    notices.Halting: _halting,
    notices.HostPaused: _paused,
    notices.HostResumed: lambda n: "[%s] pause over: giving it one job" % n.host.label,
    notices.PausesLifted: lambda n: (
        "%s take%s jobs again: no healthy sub-host is left for a pause to protect, so no "
        "sub-host is paused; the jobs run (and may fail fast, recorded)" % (
            hosts(n.hosts), "s" if len(n.hosts) == 1 else "")),
    notices.QueueInvalid: _queue_invalid,
    notices.QueueRewritten: lambda n: (
        "%s was rewritten by another program while pegasus replaced it; that version "
        "is saved as %s (its jobs are not in the queue: put back what you need with "
        "`pegasus l`)" % (n.path, n.saved)),
    notices.QueueWarning: lambda n: n.message,
    notices.QueueUnwritable: lambda n: (
        "%s\n  nothing is taken until it can be written; pegasus tries again" % n.message),
    notices.QueueEmpty: lambda n: "queue empty: waiting for new entries; Ctrl-C to stop",
    notices.QueueValidAgain: lambda n: "%s is valid again; taking jobs" % n.path,
    notices.EntryBeingWritten: lambda n: (
        "%s: its last entry is still being written (its last line has no newline yet, and "
        "a writer has the file open): it is not taken until it is complete" % n.path),
    notices.JobPutBack: _put_back,
    notices.PutBackFailed: lambda n: "could not put jobs back in %s: %s" % (n.path, n.error),
    notices.JobsRecovered: _recovered,
    notices.JobGivenUp: lambda n: (
        "not put back in %s: the runners of this job died %d times while it ran (recorded "
        "as lost; `pegasus l --requeue lost` puts it back): %s" % (
            n.path, n.times, first_line(canonical_command(n.job)))),
    notices.RecoveryFailed: lambda n: "could not look for jobs left by dead runners: %s"
    % n.error,
    notices.DescriptorsShort: lambda n: (
        "at most %d jobs run at once, not %d: pegasus may open %d files (ulimit -n%s) and "
        "each running job holds a few; raise the limit to run more at once" % (
            n.jobs, n.wanted, n.limit, "" if n.hard is None else ", hard limit %d" % n.hard)),
    notices.Cancelling: _cancelling,
    notices.OutputLost: _output_lost,
    notices.HostsStillConnecting: lambda n: "the run ended before %s connected: %s ran "
    "nothing" % (hosts(n.hosts), "it" if len(n.hosts) == 1 else "they"),
    notices.KillingNow: lambda n: "%s again: killing every job now" % n.signal_name,
    notices.Aborting: lambda n: "a job failed and -e is set: no further job is taken",
}


def notice(event: notices.Notice) -> str:
    """What pegasus says of `event`."""
    return _NOTICES[type(event)](event)


def run_label(run: Union[Launch, Outcome]) -> str:
    """Where a run (a Launch, or its Outcome) ran: its sub-host, with its
    slots on a sub-host of several; `-` for a run that fitted nowhere."""
    launch = run.launch if isinstance(run, Outcome) else run
    if launch.host is None:
        return "-"
    if launch.host.slots > 1 and launch.slots:
        return "%s slots=%s" % (launch.host.label, launch.slots_text)
    return launch.host.label


def status_line(snapshot: Snapshot, width: Optional[int] = None) -> str:
    """The status line: `pegasus: ...`, cut to a terminal `width` wide (one
    column short: a full row would wrap on some terminals); whole without."""
    if width is None:
        return "pegasus: " + status(snapshot)
    width = max(1, width - 1)
    return cut("pegasus: " + status(snapshot, max(1, width - len("pegasus: "))), width)
