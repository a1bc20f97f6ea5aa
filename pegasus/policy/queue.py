"""Queue mode's policy: each job once, on the first usable sub-host with
room, run again elsewhere on failure up to --retries; a sub-host that
fails job after job at once is paused (blackholes.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Set

from ..events.outcome import Outcome, Reason
from .base import NOT_THE_JOBS, RETRIABLE, Place, Policy, Tries, Verdict
from .blackholes import HostHealth
from .halting import HaltRule
from .slots import SlotAllocator

if TYPE_CHECKING:
    from ..settings import Settings
    from ..spec.hosts import SubHost
    from ..spec.jobs import Job
    from .placement import Plan


class QueuePolicy(Policy):
    """Queue mode: each job once, on the first usable sub-host (in hosts.yaml
    order) with room for its slots; the head job waits if none has. A job
    that failed runs again, up to --retries (or its `retries`) more times,
    on another sub-host when one can take it; its attempts are counted per
    taken job (`Tries`). A sub-host that fails job after job at once is
    paused while a healthy one can take the jobs (blackholes.py)."""

    def __init__(self, subhosts: Sequence[SubHost], settings: Settings,
                 max_running: Optional[int] = None):
        super().__init__(subhosts, settings, max_running)
        self.allocators = [SlotAllocator(host.slots) for host in subhosts]
        self.running = [0] * len(subhosts)
        self.total = 0                              # jobs running on all sub-hosts
        self.tries: Dict[int, Tries] = {}   # id(taken job) -> its runs, while it is retried
        self.health = HostHealth(getattr(settings, "black_hole", None))

    def _halt_rule(self) -> Optional[HaltRule]:
        rule = super()._halt_rule()
        if rule is None and self.settings.error_aborts:
            rule = HaltRule("soon", "fail", 1, False)   # -e, in queue mode
        return rule

    @property
    def usable(self) -> Set[int]:
        return self.ready - self.health.paused

    def _room(self, index: int) -> int:
        free = self.allocators[index].free
        transport = self.subhosts[index].transport
        sessions = transport.sessions if transport is not None else None
        if sessions is not None:
            free = min(free, sessions - self.running[index])
        return max(0, self.health.room(index, free, self.running[index]))

    def _budget(self) -> Optional[int]:
        """Jobs that may start before the cap is reached (-f N and the descriptor
        budget, all sub-hosts together); None: no cap."""
        return None if self.max_running is None else max(0, self.max_running - self.total)

    def capacity(self) -> int:
        if not self.taking:
            return 0
        room = sum(self._room(index) for index in self.usable)
        budget = self._budget()
        return room if budget is None else min(room, budget)

    def accept(self, job: Job) -> Optional[List[Place]]:
        if self._budget() == 0:
            return None
        plan = self.planner.plan(job)
        nowhere = plan.nowhere
        if nowhere is not None:
            return [Place(None, None, Reason.FITS_NOWHERE, "cannot run anywhere: %s" % nowhere)]
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

    def _candidates(self, plan: Plan, failed_on: List[int]) -> List[int]:
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

    def release(self, place: Place) -> None:
        if place.host is not None and place.reason is None:
            assert place.slots is not None   # a place on a sub-host has its slots
            self.allocators[place.host].release(place.slots)
            self.running[place.host] -= 1
            self.total -= 1

    def finished(self, outcome: Outcome, place: Place) -> Verdict:
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

    def forget(self, job: Job) -> None:
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

    def lift_pauses(self) -> List[int]:
        if not self.health.paused or self._healthy_besides(None):
            return []
        return self.health.lift()


def _fast_failure(outcome: Outcome) -> bool:
    """A failure that says more about the sub-host than about the job."""
    if outcome.reason is None:
        return outcome.returncode not in (0, None)
    return outcome.reason is Reason.NOT_STARTED
