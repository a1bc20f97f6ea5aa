"""What the mode policies share: which job runs where, and what a run's end
means for the run as a whole. Pure logic; the engine asks them and does the
I/O. queue.py and broadcast.py are the two policies; modes.py knows them by
name.

Both answer the same questions:
- capacity(): how many jobs could start now (an upper bound for a take);
- accept(job): its places (one per run), or None to refuse it for now
  (FIFO: taking stops at the first refused job);
- finished(outcome, place): a run ended; its room is free again. The
  Verdict says whether the job goes back to run again (a retry, or a
  cancelled job going back to the queue), whether the job is over, whether
  the run stops taking jobs (-e, --halt) or cancels what runs (--halt now),
  and whether a sub-host is paused (a black hole, queue mode).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Dict, List, Optional, Sequence, Set, Tuple

from ..events.outcome import Outcome, Reason
from .halting import HaltCounter, HaltRule
from .placement import Planner

if TYPE_CHECKING:
    from ..settings import Settings
    from ..spec.hosts import SubHost
    from ..spec.jobs import Job

# Endings that may be tried again with --retries; never a cancel.
RETRIABLE = frozenset([None, Reason.TIMEOUT, Reason.HOST_LOST, Reason.NOT_STARTED])
# Endings that are not the job's doing (it did not run, or was cut off by
# something outside it and its host): it runs again, whatever --retries
# says, and the attempt does not count.
NOT_THE_JOBS = frozenset([Reason.LOCAL_LIMIT, Reason.ENDED])


class Place:
    """Where one run of a job goes: a sub-host index and its slots, or a
    failure decided before anything ran (`reason`, `detail`); `attempt` 2
    and more for a retry."""

    __slots__ = ("host", "slots", "reason", "detail", "attempt")

    def __init__(self, host: Optional[int], slots: Optional[List[int]] = None,
                 reason: Optional[Reason] = None, detail: str = "", attempt: int = 1):
        self.host = host
        self.slots = slots
        self.reason = reason
        self.detail = detail
        self.attempt = attempt

    def __repr__(self) -> str:
        return "Place(%r, %r, %r, %r)" % (self.host, self.slots, self.reason, self.detail)


class Tries:
    """The runs so far of one taken job that goes back for another: how
    many, and the sub-hosts they failed on, the latest last. Held from a
    run that is to be retried until the job's last run ends, keyed by the
    taken job itself (never by its text: identical entries are distinct
    jobs, each with its own retries)."""

    __slots__ = ("job", "attempts", "failed_on")

    def __init__(self, job: Job):
        self.job = job              # keeps the key (the job's id) from being reused
        self.attempts = 0
        self.failed_on: List[int] = []

    def failed(self, attempt: int, host: Optional[int]) -> None:
        self.attempts = attempt
        if host is not None:
            if host in self.failed_on:
                self.failed_on.remove(host)
            self.failed_on.append(host)


class Verdict:
    """What the end of one run means (see the module's docstring)."""

    __slots__ = ("retry", "requeue", "job_done", "aborting", "halting", "pause", "lifted",
                 "hold")

    def __init__(self, retry: bool = False, requeue: bool = False, job_done: bool = True,
                 aborting: bool = False,
                 halting: Optional[HaltRule] = None, pause: Optional[float] = None):
        self.retry = retry          # run it again, elsewhere if possible
        self.requeue = requeue      # cancelled: back to the queue when the run ends
        self.job_done = job_done
        self.aborting = aborting    # -e: no further job (broadcast)
        self.halting = halting      # --halt (or -e in queue mode) was met
        self.pause = pause          # seconds to pause the run's sub-host
        self.lifted: List[int] = []  # paused sub-hosts that take jobs again now
        self.hold = False           # start nothing for a moment (pegasus's machine is short)


class Policy:
    """What the modes share: which sub-hosts are up, stopping, halting."""

    # Whether every job runs on every sub-host (else: once, somewhere).
    fans_out: ClassVar[bool] = False

    def __init__(self, subhosts: Sequence[SubHost], settings: Settings,
                 max_running: Optional[int] = None):
        self.subhosts = subhosts
        self.settings = settings
        self.planner = Planner(subhosts)
        self.ready: Set[int] = set()
        self.down: Dict[int, Tuple[Reason, str]] = {}
        self.stopped = False      # cancelled (or halted now): take nothing, retry nothing
        self.aborted = False      # a failure stopped the run (-e, --halt fail)
        self.halted: Optional[HaltRule] = None
        self.halt = HaltCounter(self._halt_rule())
        self.max_running = max_running   # jobs at once, all sub-hosts together (-f, descriptors)

    def _halt_rule(self) -> Optional[HaltRule]:
        return HaltRule.parse(getattr(self.settings, "halt", None))

    @property
    def usable(self) -> Set[int]:
        """The sub-hosts that may be given jobs now."""
        return self.ready

    def host_up(self, index: int) -> None:
        self.ready.add(index)
        self.down.pop(index, None)

    def host_down(self, index: int, reason: Reason, detail: str = "") -> None:
        self.ready.discard(index)
        self.down[index] = (reason, detail)

    def stop(self) -> None:
        self.stopped = True

    @property
    def taking(self) -> bool:
        return not (self.stopped or self.aborted or self.halted)

    def _requeue(self, outcome: Outcome) -> bool:
        return outcome.reason is Reason.CANCELLED and self.settings.on_cancel == "requeue"

    def _count_for_halt(self, outcome: Outcome) -> Optional[HaltRule]:
        """A job's last attempt ended: is the halt rule met now?"""
        if outcome.reason is Reason.CANCELLED or not self.halt.count(outcome.ok):
            return None
        rule = self.halt.rule
        assert rule is not None
        self.halted = rule
        self.aborted = rule.what == "fail"
        if rule.when == "now":
            self.stopped = True
        return rule

    def resume(self, index: int) -> None:
        """A paused sub-host may take jobs again (queue mode pauses)."""

    def lift_pauses(self) -> List[int]:
        """If no healthy sub-host is left for a pause to protect, the paused
        ones take jobs again: which (queue mode pauses)."""
        return []

    def forget(self, job: Job) -> None:
        """`job` will not run again in this run (it went back to the queue
        file): drop what was kept about its attempts."""

    def capacity(self) -> int:
        raise NotImplementedError

    def accept(self, job: Job) -> Optional[List[Place]]:
        raise NotImplementedError

    def release(self, place: Place) -> None:
        raise NotImplementedError

    def finished(self, outcome: Outcome, place: Place) -> Verdict:
        raise NotImplementedError


