"""The mode policies: which job runs where, and what a run's end means for
the run as a whole. Pure logic; the engine asks them and does the I/O.
This is the only module that knows the modes by name (`for_mode`).

Both answer the same questions:
- capacity(): how many jobs could start now (an upper bound for a take);
- accept(job): its places (one per run), or None to refuse it for now
  (FIFO: taking stops at the first refused job);
- finished(outcome, place): a run ended; its room is free again; does the
  job go back to the queue (retry), is the job over, does the run stop
  taking jobs (abort)?
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar, Dict, List, Optional, Sequence, Tuple

from .outcome import Outcome, Reason
from .placement import Planner
from .slots import SlotAllocator


class Place:
    """Where one run of a job goes: a sub-host index and its slots, or a
    failure decided before anything ran (`reason`, `detail`)."""

    __slots__ = ("host", "slots", "reason", "detail")

    def __init__(self, host: Optional[int], slots: Optional[List[int]] = None,
                 reason: Optional[Reason] = None, detail: str = ""):
        self.host = host
        self.slots = slots
        self.reason = reason
        self.detail = detail

    def __repr__(self):
        return "Place(%r, %r, %r, %r)" % (self.host, self.slots, self.reason, self.detail)


class Verdict:
    """What the end of one run means: `retry` the job elsewhere (it goes back
    to the queue), the `job_done` (every run of it is over), or `aborting`
    the whole run (no further job is taken)."""

    __slots__ = ("retry", "job_done", "aborting")

    def __init__(self, retry: bool = False, job_done: bool = True, aborting: bool = False):
        self.retry = retry
        self.job_done = job_done
        self.aborting = aborting


class Policy:
    """What the modes share: which sub-hosts are up, and stopping."""

    # Whether every job runs on every sub-host (else: once, somewhere).
    fans_out: ClassVar[bool] = False

    def __init__(self, subhosts: Sequence, settings):
        self.subhosts = subhosts
        self.settings = settings
        self.planner = Planner(subhosts)
        self.ready: set = set()
        self.down: Dict[int, Tuple[Reason, str]] = {}
        self.stopped = False      # cancelled: take nothing more, retry nothing
        self.aborted = False      # a failure stopped the run (-e)

    @property
    def runs_per_job(self) -> int:
        return len(self.subhosts) if self.fans_out else 1

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
        return not (self.stopped or self.aborted)

    def capacity(self) -> int:
        raise NotImplementedError

    def accept(self, job) -> Optional[List[Place]]:
        raise NotImplementedError

    def release(self, place: Place) -> None:
        raise NotImplementedError

    def finished(self, outcome: Outcome, place: Place) -> Verdict:
        raise NotImplementedError


class QueuePolicy(Policy):
    """Queue mode: each job once, on the first ready sub-host (in hosts.yaml
    order) with room for its slots; the head job waits if none has. A job
    whose host was lost goes back to the queue, up to --retries times."""

    def __init__(self, subhosts, settings):
        super().__init__(subhosts, settings)
        self.allocators = [SlotAllocator(host.slots) for host in subhosts]
        self.running = [0] * len(subhosts)
        self.retried: Counter = Counter()   # canonical job -> times put back

    def _room(self, index: int) -> int:
        free = self.allocators[index].free
        sessions = self.subhosts[index].transport.sessions
        if sessions is not None:
            free = min(free, sessions - self.running[index])
        return max(0, free)

    def capacity(self):
        if not self.taking:
            return 0
        return sum(self._room(index) for index in self.ready)

    def accept(self, job):
        plan = self.planner.plan(job)
        nowhere = plan.nowhere
        if nowhere is not None:
            return [Place(None, None, Reason.NO_ROOM, "cannot run anywhere: %s" % nowhere)]
        for index in sorted(self.ready):
            if not plan.fits(index) or self._room(index) == 0:
                continue
            slots = self.allocators[index].find(job.slots, job.allocation_policy)
            if slots is None:
                continue
            self.allocators[index].take(slots)
            self.running[index] += 1
            return [Place(index, slots)]
        return None

    def release(self, place):
        if place.host is not None and place.reason is None:
            self.allocators[place.host].release(place.slots)
            self.running[place.host] -= 1

    def finished(self, outcome, place):
        self.release(place)
        retry = self._retry(outcome)
        return Verdict(retry=retry, job_done=not retry)

    def _retry(self, outcome: Outcome) -> bool:
        if outcome.reason is not Reason.HOST_LOST or self.stopped:
            return False
        key = outcome.job.canonical()
        if self.retried[key] >= self.settings.retries:
            return False
        self.retried[key] += 1
        return True


class BroadcastPolicy(Policy):
    """Broadcast mode: each job on every sub-host, in lockstep. A job is
    taken when every sub-host is done with the previous one and some
    sub-host is connected. Unreachable sub-hosts fail it; those still
    connecting get their place all the same and run it once they are up
    (the engine holds it), so a cold start overlaps connecting and running.
    With -e, a job that failed anywhere stops the run before the next."""

    fans_out = True

    def __init__(self, subhosts, settings):
        super().__init__(subhosts, settings)
        self.outstanding = 0
        self.failed = False   # some run of the current job failed

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
        self.failed = False
        return places

    def release(self, place):
        self.outstanding -= 1

    def finished(self, outcome, place):
        self.release(place)
        self.failed = self.failed or outcome.counts_as_failed
        if self.outstanding:
            return Verdict(job_done=False)
        aborting = self.failed and self.settings.error_aborts and not self.aborted
        self.aborted = self.aborted or aborting
        return Verdict(job_done=True, aborting=aborting)


POLICIES = {"queue": QueuePolicy, "broadcast": BroadcastPolicy}


def for_mode(mode: str, subhosts: Sequence, settings) -> Policy:
    """The policy of `mode` ("queue" or "broadcast")."""
    return POLICIES[mode](subhosts, settings)


def fans_out(mode: str) -> bool:
    return POLICIES[mode].fans_out
