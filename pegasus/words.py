"""Every sentence pegasus says about what happened in a run: how a run
ended, and each notice. The engine hands over typed values (outcome.py,
events.py); output.py and report.py show what this module says of them."""

from __future__ import annotations

from typing import Callable, Dict

from . import events
from .outcome import Outcome, Reason
from .validate import canonical_command

_WITH_DETAIL = {
    Reason.UNREACHABLE: "unreachable: %s",
    Reason.TEMPLATE: "template error: %s",
    Reason.NOT_STARTED: "could not start: %s",
    Reason.NO_ROOM: "%s",
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


def first_line(command: str, limit: int = 200) -> str:
    """The first line of a command, cut at `limit` characters."""
    line, _, rest = command.partition("\n")
    if rest or len(line) > limit:
        line = line[:limit] + " ..."
    return line


def seconds(duration: float) -> str:
    if duration < 600:
        return "%.1f s" % duration
    return "%d min %02d s" % divmod(int(duration), 60)


# --- notices ------------------------------------------------------------------

def _queue_invalid(notice: events.QueueInvalid) -> str:
    return "%s\n  nothing is taken until the file is fixed" % notice.message


def _put_back(notice: events.JobPutBack) -> str:
    return "put back at the top of %s: %s" % (notice.path, notice.job.command.split("\n")[0])


def _recovered(notice: events.JobsRecovered) -> str:
    return ("runner %s died with %s it had taken and not finished: put back at the top "
            "of %s" % (notice.owner, plural(notice.count, "job"), notice.path))


def _cancelling(notice: events.Cancelling) -> str:
    if not notice.running:
        return "%s: stopping (no job was running)" % notice.signal_name
    return ("%s: cancelling %s running job%s (SIGTERM, then SIGKILL after %g s); again to "
            "kill at once" % (notice.signal_name, notice.running,
                              "" if notice.running == 1 else "s", notice.grace))


def _requeued(notice: events.JobsRequeued) -> str:
    return ("put back %s at the top of %s, in their order; run pegasus again to resume "
            "(--on-cancel drop discards them)" % (plural(notice.count, "cancelled job"),
                                                 notice.path))


def _halting(notice: events.Halting) -> str:
    succeeded = ",success=" in notice.rule
    return ("--halt %s is met (%d of %d finished jobs %s): no further job is taken%s" % (
        notice.rule, notice.finished - notice.failures if succeeded else notice.failures,
        notice.finished, "succeeded" if succeeded else "failed",
        "; stopping the running ones" if notice.now else "; the running ones finish"))


def _paused(notice: events.HostPaused) -> str:
    return ("[%s] paused for %s: its last %s failed within %g s of starting (a full disk, a "
            "missing environment?); it gets one job again after the pause"
            % (notice.host.label, seconds(notice.seconds), plural(notice.failures, "job"),
               notice.within))


_NOTICES: Dict[type, Callable] = {
    events.JobsRequeued: _requeued,
    events.Halting: _halting,
    events.HostPaused: _paused,
    events.HostResumed: lambda n: "[%s] pause over: giving it one job" % n.host.label,
    events.QueueInvalid: _queue_invalid,
    events.QueueRewritten: lambda n: (
        "%s was rewritten by another program while pegasus replaced it; that version "
        "is saved as %s (its jobs are not in the queue: put back what you need with "
        "`pegasus l`)" % (n.path, n.saved)),
    events.QueueWarning: lambda n: n.message,
    events.QueueUnwritable: lambda n: (
        "%s\n  nothing is taken until it can be written; pegasus tries again" % n.message),
    events.QueueEmpty: lambda n: "queue empty: waiting for new entries; Ctrl-C to stop",
    events.QueueValidAgain: lambda n: "%s is valid again; taking jobs" % n.path,
    events.JobPutBack: _put_back,
    events.PutBackFailed: lambda n: "could not put jobs back in %s: %s" % (n.path, n.error),
    events.JobsRecovered: _recovered,
    events.JobGivenUp: lambda n: (
        "not put back in %s: the runners of this job died %d times while it ran (recorded "
        "as lost; `pegasus l --requeue lost` puts it back): %s" % (
            n.path, n.times, first_line(canonical_command(n.job)))),
    events.RecoveryFailed: lambda n: "could not recover the jobs of a dead runner: %s" % n.error,
    events.Cancelling: _cancelling,
    events.HostsStillConnecting: lambda n: "the run ended before %s connected: %s ran "
    "nothing" % (", ".join(h.label for h in n.hosts), "it" if len(n.hosts) == 1 else "they"),
    events.KillingNow: lambda n: "%s again: killing every job now" % n.signal_name,
    events.Aborting: lambda n: "a job failed and -e is set: no further job is taken",
}


def notice(event: events.Notice) -> str:
    """What pegasus says of `event`."""
    return _NOTICES[type(event)](event)
