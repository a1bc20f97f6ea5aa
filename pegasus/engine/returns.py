"""Jobs that go back to the top of the source, unrun: jobs to run again
that this run will not run (cancelled, halted, no sub-host left), put back
at the next visit; cancelled jobs (--on-cancel requeue), put back together,
in the order they were taken, once no job runs; and the jobs of dead
runners (crash recovery). The intake (intake.py) says when; this says
what, and tells the handlers."""

from __future__ import annotations

from typing import List, Tuple

from ..errors import LockError, PegasusError, SpecError
from ..events import notices
from ..events.handler import Handler
from ..spec.jobs import Job
from .sources import Busy, QueueSource


class Returns:
    """What waits to go back to `source`."""

    def __init__(self, source: QueueSource, handler: Handler):
        self.source = source
        self.events = handler
        self.to_put_back: List[Job] = []             # jobs waiting for the lock to go back
        self.to_requeue: List[Tuple[int, Job]] = []  # cancelled, back once nothing runs

    @property
    def pending(self) -> bool:
        """Jobs still to be put back."""
        return bool(self.to_put_back or self.to_requeue)

    def put_back_first(self, jobs: List[Job]) -> None:
        """`jobs` go back at the next visit, before what already waits."""
        self.to_put_back[:0] = jobs

    def requeue(self, seq: int, job: Job) -> None:
        """A cancelled `job` (first run `seq`) goes back once no job runs."""
        self.to_requeue.append((seq, job))

    def put_back(self) -> bool:
        """Put back the jobs waiting to go back; whether they are in the
        source again. Raises Busy (they wait for the next visit)."""
        jobs, self.to_put_back = self.to_put_back, []
        back = False
        try:
            self.source.put_back(jobs)
        except (SpecError, OSError) as exc:
            self.events.on_notice(notices.PutBackFailed(self.source.name, str(exc)))
        except Busy:
            self.to_put_back[:0] = jobs
            raise
        else:
            back = True
            for job in jobs:
                self.events.on_notice(notices.JobPutBack(self.source.name, job))
        for job in jobs:
            self.source.finished(job)
        return back

    def requeue_now(self) -> bool:
        """Put back the cancelled jobs, in the order they were taken;
        whether they are in the source again."""
        batch = [job for _seq, job in sorted(self.to_requeue, key=lambda item: item[0])]
        back = False
        try:
            self.source.put_back(batch)
        except (SpecError, OSError) as exc:
            self.events.on_notice(notices.PutBackFailed(self.source.name, str(exc)))
        else:
            back = True
            self.events.on_notice(notices.JobsRequeued(self.source.name, len(batch)))
        self.to_requeue = []
        for job in batch:
            self.source.finished(job)
        return back

    def recover(self) -> bool:
        """Put back the jobs of dead runners; whether that was done (else it
        is tried again). A lock that does not work at all is raised."""
        try:
            recovered = self.source.recover()
        except (SpecError, OSError, PegasusError) as exc:
            if isinstance(exc, LockError):
                raise
            self.events.on_notice(notices.RecoveryFailed(str(exc)))
            return False
        for owner, count in recovered:
            self.events.on_notice(notices.JobsRecovered(owner, count, self.source.name))
        return True
