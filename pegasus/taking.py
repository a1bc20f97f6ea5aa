"""Taking jobs from the queue source as the policy has room: one take per
loop iteration that asks for one, a retry soon when the source is locked by
someone else, a poll (daemon mode, or while the queue is invalid) for new
entries, crash recovery of dead runners' jobs, and putting jobs back.
"""

from __future__ import annotations

from typing import Callable, Hashable, List, Optional

from . import events
from .errors import LockError, PegasusError, SpecError
from .sources import Busy, QueueSource

POLL_INTERVAL = 0.5        # daemon mode: how often an idle runner looks at the queue
LOCK_RETRY = 0.05          # queue lock busy (someone is editing): try again soon
RECOVERY_INTERVAL = 30.0   # daemon mode: how often to look for dead runners' jobs


class Taker:
    """Feeds the engine from `source`: `start(job, places)` is called for
    every job taken, with the places the policy gave it."""

    def __init__(self, loop, source: QueueSource, policy, handler: events.Handler,
                 daemon: bool, start: Callable, busy: Callable[[], bool]):
        from .queuefile import QueueChanged  # the live file's own signal
        self._changed = QueueChanged
        self.loop = loop
        self.source = source
        self.policy = policy
        self.events = handler
        self.daemon = daemon
        self.start = start
        self.busy = busy              # whether any job still runs
        self.empty = False            # the last take found no more jobs
        self.waiting = False          # ... but for the last entry, still being written
        self.told_held = False        # said that it waits for its writer
        self.seen: Hashable = None    # the source's marker when last found empty/bad
        self.broken: Optional[str] = None   # the message last warned about
        self.unwritable = False       # ... and it is about writing, not the text
        self.to_put_back: List = []   # jobs waiting for the lock to go back
        self.to_requeue: List = []    # (seq, job) cancelled, back once nothing runs
        self.recovery_due = True
        self.took_once = False        # the lock has been taken at least once
        self.closed = False
        self._poll_timer = None
        self._lock_timer = None
        self._settle_timer = None

    @property
    def exhausted(self) -> bool:
        """Nothing more to take: the queue is empty (and its last entry is
        not on its way), or (without -d) invalid."""
        return ((self.broken is not None and not self.daemon)
                or (not self.waiting and (self.empty or self.source.left() == 0)))

    def pump_soon(self) -> None:
        self.loop.call_soon(self.pump)

    def put_back(self, job) -> None:
        """`job` goes back to the top of the queue at the next visit."""
        self.to_put_back.append(job)

    def requeue(self, seq: int, job) -> None:
        """A cancelled `job` (first run `seq`) goes back to the top once no
        job runs: all of them together, in the order they were taken."""
        self.to_requeue.append((seq, job))

    @property
    def pending(self) -> bool:
        """Jobs still to be put back."""
        return bool(self.to_put_back or self.to_requeue)

    def pump(self) -> None:
        """Put back what must go back; then take as many jobs as there is
        room for."""
        if self.closed:
            return
        if self.to_put_back and not self._visit(self._put_back):
            return
        if self.to_requeue and not self.busy() and not self._visit(self._requeue):
            return
        if not self.policy.taking:
            return
        if self.recovery_due and not self._visit(self._recover):
            return
        want = self.policy.capacity()
        if want == 0:
            return
        if self.seen is not None and self.source.marker() == self.seen:
            self._poll_later()
            return
        self._visit(lambda: self._take(want))

    def _visit(self, work: Callable[[], None]) -> bool:
        """Run `work` on the source; False if it is locked by someone else
        (tried again soon) or failed (warned)."""
        try:
            work()
        except Busy:
            if self._lock_timer is None:
                self._lock_timer = self.loop.call_later(LOCK_RETRY, self._lock_retry)
            return False
        except LockError as exc:
            if not self.took_once:
                raise  # locking does not work here at all: say so and stop
            self._broken(str(exc), unwritable=True)  # a hiccup mid-run: warn, retry
            return False
        finally:
            self._tell()
        self.took_once = True
        return True

    def _tell(self) -> None:
        for notice in self.source.notices():
            self.events.on_notice(notice)

    def _lock_retry(self) -> None:
        self._lock_timer = None
        self.pump()

    def _put_back(self) -> None:
        jobs, self.to_put_back = self.to_put_back, []
        try:
            self.source.put_back(jobs)
        except (SpecError, OSError) as exc:
            self.events.on_notice(events.PutBackFailed(self.source.name, str(exc)))
        except Busy:
            self.to_put_back[:0] = jobs
            raise
        else:
            self.empty = False  # what went back is there to take
            for job in jobs:
                self.events.on_notice(events.JobPutBack(self.source.name, job))
        for job in jobs:
            self.source.finished(job)

    def _requeue(self) -> None:
        batch = [job for _seq, job in sorted(self.to_requeue, key=lambda item: item[0])]
        try:
            self.source.put_back(batch)
        except (SpecError, OSError) as exc:
            self.events.on_notice(events.PutBackFailed(self.source.name, str(exc)))
        else:
            self.empty = False
            self.events.on_notice(events.JobsRequeued(self.source.name, len(batch)))
        self.to_requeue = []
        for job in batch:
            self.source.finished(job)

    def _recover(self) -> None:
        try:
            recovered = self.source.recover()
        except (SpecError, OSError, PegasusError) as exc:
            if isinstance(exc, LockError):
                raise
            self.events.on_notice(events.RecoveryFailed(str(exc)))
            return
        for owner, count in recovered:
            self.events.on_notice(events.JobsRecovered(owner, count, self.source.name))
        self.recovery_due = False
        if self.daemon:
            self.loop.call_later(RECOVERY_INTERVAL, self._recovery_timer)

    def _recovery_timer(self) -> None:
        self.recovery_due = True
        self.pump_soon()

    def _take(self, want: int) -> None:
        chosen: List[List] = []
        offered = [0]

        def choose(candidates):
            offered[0] = len(candidates)
            for job in candidates:
                places = self.policy.accept(job)
                if places is None:
                    break
                chosen.append(places)
            return len(chosen)

        try:
            jobs = self.source.take(want, choose)
        except (self._changed, SpecError, OSError) as exc:
            self._release(chosen)
            self._take_failed(exc)
            return
        except BaseException:
            self._release(chosen)
            raise
        if self.broken is not None:
            self.broken = None
            self.events.on_notice(events.QueueValidAgain(self.source.name))
        was_empty = self.empty
        self.empty = offered[0] < want and len(chosen) == offered[0]
        coming = self.source.settling() if self.empty else None
        self._being_written(coming)
        self.seen = self.source.marker() if self.empty and not self.waiting else None
        self.events.on_queue_left(self.source.left())
        for job, places in zip(jobs, chosen):
            self.start(job, places)
        if self.waiting and coming is not None:
            if self._settle_timer is None:
                self._settle_timer = self.loop.call_later(coming.retry, self._settled)
        elif self.empty:
            if self.daemon and not was_empty:
                self.events.on_notice(events.QueueEmpty())
            self._poll_later()

    def _being_written(self, coming) -> None:
        """The queue's last entry is still being written (`coming`): wait
        for it -- a run without -d too, as long as it is a matter of the
        settle time, but not for a writer that keeps its last line open."""
        self.waiting = coming is not None and (self.daemon or not coming.held)
        if coming is not None and coming.held and not self.told_held:
            self.told_held = True
            self.events.on_notice(events.EntryBeingWritten(self.source.name))

    def _settled(self) -> None:
        self._settle_timer = None
        self.pump()

    def _release(self, chosen: List[List]) -> None:
        for places in chosen:
            for place in places:
                self.policy.release(place)

    def _take_failed(self, exc: Exception) -> None:
        if isinstance(exc, self._changed):
            self.loop.call_later(LOCK_RETRY, self.pump)
        elif isinstance(exc, SpecError):
            self._broken(str(exc))
        elif isinstance(exc, OSError) and not isinstance(exc, LockError):
            self._broken("cannot update %s: %s" % (self.source.name, exc.strerror or exc),
                         unwritable=True)
        else:
            raise exc

    def _broken(self, message: str, unwritable: bool = False) -> None:
        if message != self.broken:
            self.broken = message
            self.unwritable = unwritable
            self.events.on_notice(events.QueueUnwritable(message) if unwritable
                                  else events.QueueInvalid(message))
        self.seen = self.source.marker()
        self._poll_later()

    def _poll_later(self) -> None:
        if self._poll_timer is None and (self.daemon or self.broken):
            self._poll_timer = self.loop.call_later(POLL_INTERVAL, self._poll)

    def _poll(self) -> None:
        self._poll_timer = None
        if self.source.marker() != self.seen:
            self.seen = None
            self.pump()
        else:
            self._poll_later()
