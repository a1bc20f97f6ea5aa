"""The mode policies: which job runs where, and what a run's end means for
the run as a whole. Pure logic; the engine asks them and does the I/O.
This is the only module that knows the modes by name (`for_mode`).

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

from typing import ClassVar, Dict, List, Optional, Sequence, Set, Tuple

from ..events.outcome import Outcome, Reason
from .blackholes import HostHealth
from .halting import HaltCounter, HaltRule
from .placement import Planner
from .slots import SlotAllocator

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

    def __repr__(self):
        return "Place(%r, %r, %r, %r)" % (self.host, self.slots, self.reason, self.detail)


class Tries:
    """The runs so far of one taken job that goes back for another: how
    many, and the sub-hosts they failed on, the latest last. Held from a
    run that is to be retried until the job's last run ends, keyed by the
    taken job itself (never by its text: identical entries are distinct
    jobs, each with its own retries)."""

    __slots__ = ("job", "attempts", "failed_on")

    def __init__(self, job):
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

    def __init__(self, retry=False, requeue=False, job_done=True, aborting=False,
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

    def __init__(self, subhosts: Sequence, settings):
        self.subhosts = subhosts
        self.settings = settings
        self.planner = Planner(subhosts)
        self.ready: Set[int] = set()
        self.down: Dict[int, Tuple[Reason, str]] = {}
        self.stopped = False      # cancelled (or halted now): take nothing, retry nothing
        self.aborted = False      # a failure stopped the run (-e, --halt fail)
        self.halted: Optional[HaltRule] = None
        self.halt = HaltCounter(self._halt_rule())
        self.max_running: Optional[int] = None   # jobs at once, all sub-hosts together

    def _halt_rule(self) -> Optional[HaltRule]:
        return HaltRule.parse(getattr(self.settings, "halt", None))

    @property
    def runs_per_job(self) -> int:
        return len(self.subhosts) if self.fans_out else 1

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

    def forget(self, job) -> None:
        """`job` will not run again in this run (it went back to the queue
        file): drop what was kept about its attempts."""

    def capacity(self) -> int:
        raise NotImplementedError

    def accept(self, job) -> Optional[List[Place]]:
        raise NotImplementedError

    def release(self, place: Place) -> None:
        raise NotImplementedError

    def finished(self, outcome: Outcome, place: Place) -> Verdict:
        raise NotImplementedError


class QueuePolicy(Policy):
    """Queue mode: each job once, on the first usable sub-host (in hosts.yaml
    order) with room for its slots; the head job waits if none has. A job
    that failed runs again, up to --retries (or its `retries`) more times,
    on another sub-host when one can take it; its attempts are counted per
    taken job (`Tries`). A sub-host that fails job after job at once is
    paused while a healthy one can take the jobs (health.py)."""

    def __init__(self, subhosts, settings):
        super().__init__(subhosts, settings)
        self.allocators = [SlotAllocator(host.slots) for host in subhosts]
        self.running = [0] * len(subhosts)
        self.total = 0                              # jobs running on all sub-hosts
        self.tries: Dict[int, Tries] = {}   # id(taken job) -> its runs, while it is retried
        self.health = HostHealth(getattr(settings, "black_hole", None))

    def _halt_rule(self):
        rule = super()._halt_rule()
        if rule is None and self.settings.error_aborts:
            rule = HaltRule("soon", "fail", 1, False)   # -e, in queue mode
        return rule

    @property
    def usable(self):
        return self.ready - self.health.paused

    def _room(self, index: int) -> int:
        free = self.allocators[index].free
        sessions = self.subhosts[index].transport.sessions
        if sessions is not None:
            free = min(free, sessions - self.running[index])
        return max(0, self.health.room(index, free, self.running[index]))

    def _budget(self) -> Optional[int]:
        """Jobs that may start before the cap is reached (-f N and the descriptor
        budget, all sub-hosts together); None: no cap."""
        return None if self.max_running is None else max(0, self.max_running - self.total)

    def capacity(self):
        if not self.taking:
            return 0
        room = sum(self._room(index) for index in self.usable)
        budget = self._budget()
        return room if budget is None else min(room, budget)

    def accept(self, job):
        if self._budget() == 0:
            return None
        plan = self.planner.plan(job)
        nowhere = plan.nowhere
        if nowhere is not None:
            return [Place(None, None, Reason.NO_ROOM, "cannot run anywhere: %s" % nowhere)]
        tries = self.tries.get(id(job))
        attempt = tries.attempts + 1 if tries is not None else 1
        for index in self._candidates(plan, tries.failed_on if tries is not None else []):
            if self._room(index) == 0:
                continue
            slots = self.allocators[index].find(job.slots, job.allocation_policy)
            if slots is None:
                continue
            self.allocators[index].take(slots)
            self.running[index] += 1
            self.total += 1
            return [Place(index, slots, attempt=attempt)]
        return None

    def _candidates(self, plan, failed_on: List[int]) -> List[int]:
        """Where a job may go, in hosts.yaml order. A retry goes where the
        job has not failed yet; failing that, anywhere but where it failed
        last -- waiting, if need be, for such a sub-host to have room or to
        connect; only when no sub-host that may come (not down, not
        paused) is left but the last one it failed on does it go there."""
        fitting = [index for index in sorted(self.usable) if plan.fits(index)]
        if not failed_on:
            return fitting
        may_come = [index for index in range(len(self.subhosts))
                    if plan.fits(index) and index not in self.down
                    and index not in self.health.paused]
        for avoid in (set(failed_on), {failed_on[-1]}):
            if any(index not in avoid for index in may_come):
                return [index for index in fitting if index not in avoid]
        return fitting

    def release(self, place):
        if place.host is not None and place.reason is None:
            self.allocators[place.host].release(place.slots)
            self.running[place.host] -= 1
            self.total -= 1

    def finished(self, outcome, place):
        self.release(place)
        verdict = Verdict()
        if outcome.reason in NOT_THE_JOBS:
            verdict.retry, verdict.job_done = True, False
            verdict.hold = outcome.reason is Reason.LOCAL_LIMIT
            tries = self.tries.setdefault(id(outcome.job), Tries(outcome.job))
            tries.attempts = place.attempt - 1   # this one does not count
            return verdict
        if place.host is not None and place.reason is None:
            verdict.pause = self.health.ended(place.host, _fast_failure(outcome),
                                              outcome.duration, self._healthy_besides(place.host))
            verdict.lifted = self.lift_pauses()
        if self._retry(outcome, place):
            verdict.retry, verdict.job_done = True, False
            job = outcome.job
            self.tries.setdefault(id(job), Tries(job)).failed(place.attempt, place.host)
            return verdict
        self.forget(outcome.job)
        if self._requeue(outcome):
            verdict.requeue, verdict.job_done = True, False
        verdict.halting = self._count_for_halt(outcome)
        return verdict

    def _retry(self, outcome: Outcome, place: Place) -> bool:
        if outcome.ok or outcome.reason not in RETRIABLE or self.stopped:
            return False
        allowed = outcome.job.retries
        if allowed is None:
            allowed = self.settings.retries
        return place.attempt <= allowed

    def forget(self, job) -> None:
        self.tries.pop(id(job), None)

    def resume(self, index: int) -> None:
        """A paused sub-host's pause is over: it gets one job, to see."""
        self.health.resume(index)

    def _healthy_besides(self, index: Optional[int]) -> bool:
        """Whether a sub-host other than `index` that is not down (up, or
        still connecting) runs its jobs without failing fast: what a pause
        protects the queue for."""
        return any(other != index and other not in self.down and self.health.healthy(other)
                   for other in range(len(self.subhosts)))

    def lift_pauses(self):
        if not self.health.paused or self._healthy_besides(None):
            return []
        return self.health.lift()


def _fast_failure(outcome: Outcome) -> bool:
    """A failure that says more about the sub-host than about the job."""
    if outcome.reason is None:
        return outcome.returncode not in (0, None)
    return outcome.reason is Reason.NOT_STARTED


class BroadcastPolicy(Policy):
    """Broadcast mode: each job on every sub-host, in lockstep. A job is
    taken when every sub-host is done with the previous one and some
    sub-host is connected. Unreachable sub-hosts fail it; those still
    connecting get their place all the same and run it once they are up
    (the engine holds it), so a cold start overlaps connecting and running.
    With -e, a job that failed anywhere stops the run before the next. A
    cancelled job, or one cut off by the end of its Slurm allocation,
    goes back to the queue once, to run everywhere again."""

    fans_out = True

    def __init__(self, subhosts, settings):
        super().__init__(subhosts, settings)
        self.outstanding = 0
        self.failed = False       # some run of the current job failed
        self.cancelled = False    # some run of the current job was cancelled
        self.cut_off = False      # ... or cut off by the end of its allocation

    def capacity(self):
        if self.outstanding or not self.ready or not self.taking:
            return 0
        return 1

    def accept(self, job):
        if self.outstanding:
            return None
        plan = self.planner.plan(job)
        places = []
        for index in range(len(self.subhosts)):
            misfit = plan.misfits[index]
            if misfit is not None:
                places.append(Place(index, None, Reason.NO_ROOM, str(misfit)))
            elif index in self.down:
                reason, detail = self.down[index]
                places.append(Place(index, None, reason, detail))
            else:
                places.append(Place(index, list(plan.first_slots)))
        self.outstanding = len(places)
        self.failed = self.cancelled = self.cut_off = False
        return places

    def release(self, place):
        self.outstanding -= 1

    def finished(self, outcome, place):
        self.release(place)
        self.failed = self.failed or outcome.counts_as_failed
        self.cancelled = self.cancelled or outcome.reason is Reason.CANCELLED
        self.cut_off = self.cut_off or outcome.reason is Reason.ENDED
        verdict = Verdict(job_done=False)
        if outcome.reason not in (Reason.CANCELLED, Reason.ENDED):
            verdict.halting = self._count_for_halt(outcome)
        if self.outstanding:
            return verdict
        verdict.job_done = True
        if self.cut_off or (self.cancelled and self.settings.on_cancel == "requeue"):
            verdict.requeue, verdict.job_done = True, False
        verdict.aborting = self.failed and self.settings.error_aborts and not self.aborted
        self.aborted = self.aborted or verdict.aborting
        return verdict


POLICIES = {"queue": QueuePolicy, "broadcast": BroadcastPolicy}


def for_mode(mode: str, subhosts: Sequence, settings) -> Policy:
    """The policy of `mode` ("queue" or "broadcast")."""
    return POLICIES[mode](subhosts, settings)


def fans_out(mode: str) -> bool:
    return POLICIES[mode].fans_out
