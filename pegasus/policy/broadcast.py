"""Broadcast mode's policy: each job on every sub-host, in lockstep."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Sequence

from ..events.outcome import Outcome, Reason
from .base import Place, Policy, Verdict

if TYPE_CHECKING:
    from ..settings import Settings
    from ..spec.hosts import SubHost
    from ..spec.jobs import Job


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

    def __init__(self, subhosts: Sequence[SubHost], settings: Settings,
                 max_running: Optional[int] = None):
        super().__init__(subhosts, settings, max_running)
        self.outstanding = 0
        self.failed = False       # some run of the current job failed
        self.cancelled = False    # some run of the current job was cancelled
        self.cut_off = False      # ... or cut off by the end of its allocation

    def capacity(self) -> int:
        if self.outstanding or not self.ready or not self.taking:
            return 0
        return 1

    def accept(self, job: Job) -> Optional[List[Place]]:
        if self.outstanding:
            return None
        plan = self.planner.plan(job)
        places = []
        for index in range(len(self.subhosts)):
            misfit = plan.misfits[index]
            if misfit is not None:
                places.append(Place(index, None, Reason.FITS_NOWHERE, str(misfit)))
            elif index in self.down:
                reason, detail = self.down[index]
                places.append(Place(index, None, reason, detail))
            else:
                places.append(Place(index, list(plan.first_slots)))
        self.outstanding = len(places)
        self.failed = self.cancelled = self.cut_off = False
        return places

    def release(self, place: Place) -> None:
        self.outstanding -= 1

    def finished(self, outcome: Outcome, place: Place) -> Verdict:
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
