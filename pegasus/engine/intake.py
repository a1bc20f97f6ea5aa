"""Taking jobs from the queue source as the policy has room: one take per
loop iteration that asks for one, a retry soon when the source is locked by
someone else, a poll (daemon mode, or while the queue is invalid) for new
entries, crash recovery of dead runners' jobs, and putting jobs back.

A job to be run again (--retries) stays with this runner: it is the same
taken job -- its attempts and the sub-hosts it failed on are its own, not
those of an identical entry -- still in consumed.yaml once and in the
runner's journal, so a crash puts it back like any taken job. It goes
before the queue's head, and back to the top of the queue file if this
run will not run it (cancelled, halted, no sub-host left).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Hashable, List, Optional, Protocol, Tuple

from ..errors import LockError, SpecError
from ..events import notices
from ..events.handler import Handler
from ..fsutil import UnsafePath
from .returns import Returns
from .sources import Busy, Changed, Coming, QueueSource
from .timer import Alarm

if TYPE_CHECKING:
    from ..policy.base import Place, Policy
    from ..spec.jobs import Job
    from .loop import Loop
    from .timer import Timer

POLL_INTERVAL = 0.5        # daemon mode: how often an idle runner looks at the queue
LOCK_RETRY = 0.05          # queue lock busy (someone is editing): try again soon
RECOVERY_INTERVAL = 30.0   # daemon mode: how often to look for dead runners' jobs


class Owner(Protocol):
    """What the intake reports to and asks (the runner)."""

    @property
    def busy(self) -> bool:
        """Whether a run of some job is still going on (or waits to start)."""

    def start(self, job: Job, places: List[Place]) -> None:
        """Run `job`, taken, at each of `places` (the policy gave them)."""

    def nowhere_to_run(self) -> bool:
        """Whether no sub-host may take a job now, nor soon: none usable,
        none being connected."""


class Intake:
    """Feeds the engine from `source`: `owner.start(job, places)` is called
    for every job taken, with the places the policy gave it."""

    def __init__(self, loop: Loop, source: QueueSource, policy: Policy, handler: Handler,
                 daemon: bool, owner: Owner):
        self.loop = loop
        self.source = source
        self.policy = policy
        self.events = handler
        self.daemon = daemon
        self.owner = owner
        self.empty = False            # the last take found no more jobs
        self.told_empty = False       # ... and a daemon said so
        self.waiting = False          # ... but for the last entry, still being written
        self.told_held = False        # said that it waits for its writer
        self.seen: Hashable = None    # the source's marker when last found empty/bad
        self.broken: Optional[str] = None   # the message last warned about
        self.unwritable = False       # ... and it is about writing, not the text
        self.back = Returns(source, handler)   # jobs taken that go back unrun
        self.retries: List[Tuple[int, Job]] = []     # taken jobs to run again, first
        self.recovery_due = True
        self.took_once = False        # the lock has been taken at least once
        self.closed = False
        self._poll_timer: Optional[Timer] = None
        self._lock_retry = Alarm(loop, self.pump)   # the lock was busy
        self._hold = Alarm(loop, self.pump)         # start nothing until it fires
        self._settle = Alarm(loop, self.pump)       # the last entry is being written

    @property
    def exhausted(self) -> bool:
        """Nothing more to take: no job to run again, and the queue is empty
        (and its last entry is not on its way), or (without -d) invalid."""
        return not self.retries and (
            (self.broken is not None and not self.daemon)
            or (not self.waiting and (self.empty or self.source.left() == 0)))

    def pump_soon(self) -> None:
        self.loop.call_soon(self.pump)

    def retry(self, seq: int, job: Job) -> None:
        """`job`, taken by this runner, runs again (before the queue's
        head); `seq`: its run that just ended."""
        self.retries.append((seq, job))

    def hold(self, seconds: float) -> None:
        """Start nothing for `seconds`: pegasus's own machine could not
        start a process (too many open files, processes...)."""
        self._hold.set(seconds)

    def give_back_retries(self) -> None:
        """The jobs waiting to run again will not run in this run: back to
        the top of the queue, in the order of their last runs."""
        jobs = [job for _seq, job in sorted(self.retries, key=lambda item: item[0])]
        for job in jobs:
            self.policy.forget(job)
        self.back.put_back_first(jobs)
        self.retries = []

    def close(self) -> None:
        """The run is ending: nothing more is taken or put back."""
        self.closed = True

    def requeue(self, seq: int, job: Job) -> None:
        """A cancelled `job` (first run `seq`) goes back to the top once no
        job runs: all of them together, in the order they were taken."""
        self.back.requeue(seq, job)

    @property
    def pending(self) -> bool:
        """Jobs still to be put back."""
        return self.back.pending

    def pump(self) -> None:
        """Put back what must go back; then take as many jobs as there is
        room for."""
        if self.closed or not self._give_back():
            return
        if not self.policy.taking or self._hold.waiting:
            return
        if self.recovery_due and not self._visit(self._recover):
            return
        want = self.policy.capacity()
        if self.retries and want:
            want -= self._start_retries(want)
            if self.retries:
                return  # FIFO: the queue's head waits behind a job to run again
        if want == 0:
            return
        if self.seen is not None and self.source.marker() == self.seen:
            self._poll_later()
            return
        self._visit(lambda: self._take(want))

    def _give_back(self) -> bool:
        """Put back what must go back now; False if it must be tried again
        before anything is taken (the lock is busy, or a write failed)."""
        if self.retries and not self.policy.taking:
            self.give_back_retries()
        if self.back.to_put_back and not self._visit(self._put_back):
            return False
        if self.back.to_requeue and not self.owner.busy and not self._visit(self._requeue):
            return False
        if self._stranded():
            # Jobs to run again, and nowhere to run them: back to the queue.
            self.give_back_retries()
            return self._visit(self._put_back)
        return True

    def _stranded(self) -> bool:
        """Whether the jobs waiting to run again have nowhere to run: no
        job runs, nothing waits to go back first, and no sub-host may take
        them now or soon (without -d: a daemon waits for hosts)."""
        return (bool(self.retries) and self.policy.taking and not self.daemon
                and not self.back.to_requeue and not self.owner.busy
                and self.owner.nowhere_to_run())

    def _visit(self, work: Callable[[], None]) -> bool:
        """Run `work` on the source; False if it is locked by someone else
        (tried again soon) or failed (warned)."""
        try:
            work()
        except Busy:
            self._lock_retry.set(LOCK_RETRY)
            return False
        except (LockError, UnsafePath) as exc:
            if not self.took_once:
                raise  # locking does not work here at all: say so and stop
            # A hiccup mid-run, or a file beside the queue swapped for one
            # pegasus may not use (fsutil): warn, take nothing, retry.
            self._broken(str(exc), unwritable=True)
            return False
        finally:
            self._tell()
        self.took_once = True
        return True

    def _tell(self) -> None:
        for notice in self.source.notices():
            self.events.on_notice(notice)

    def _put_back(self) -> None:
        if self.back.put_back():
            self.empty = self.told_empty = False  # what went back is there to take

    def _requeue(self) -> None:
        if self.back.requeue_now():
            self.empty = self.told_empty = False

    def _recover(self) -> None:
        if not self.back.recover():
            return
        self.recovery_due = False
        if self.daemon:
            self.loop.call_later(RECOVERY_INTERVAL, self._recovery_timer)

    def _recovery_timer(self) -> None:
        self.recovery_due = True
        self.pump_soon()

    def _start_retries(self, want: int) -> int:
        """Start the jobs to run again, in order, as far as the policy
        places them; how many started."""
        started = 0
        while self.retries and started < want:
            places = self.policy.accept(self.retries[0][1])
            if places is None:
                break
            self.owner.start(self.retries.pop(0)[1], places)
            started += 1
        return started

    def _take(self, want: int) -> None:
        choice = Choice(self.policy)
        try:
            jobs = self.source.take(want, choice)
        except (Changed, SpecError, OSError, UnsafePath) as exc:
            choice.release()
            self._take_failed(exc)
            return
        except BaseException:
            choice.release()
            raise
        if self.broken is not None:
            self.broken = None
            self.events.on_notice(notices.QueueValidAgain(self.source.name))
        self.empty = choice.offered < want and len(choice.places) == choice.offered
        if not self.empty:
            self.told_empty = False
        coming = self.source.settling() if self.empty else None
        self._being_written(coming)
        self.seen = self.source.marker() if self.empty and not self.waiting else None
        self.events.on_queue_left(self.source.left())
        for job, places in zip(jobs, choice.places):
            self.owner.start(job, places)
        if self.waiting and coming is not None:
            self._settle.set(coming.retry)
        elif self.empty:
            if self.daemon and not self.told_empty:
                # Said once the queue is empty, its last entry settled
                # (a first take that waited for it said nothing yet).
                self.told_empty = True
                self.events.on_notice(notices.QueueEmpty())
            self._poll_later()

    def _being_written(self, coming: Optional[Coming]) -> None:
        """The queue's last entry is still being written (`coming`): wait
        for it -- a run without -d too, as long as it is a matter of the
        settle time, but not for a writer that keeps its last line open."""
        self.waiting = coming is not None and (self.daemon or not coming.held)
        if coming is not None and coming.held and not self.told_held:
            self.told_held = True
            self.events.on_notice(notices.EntryBeingWritten(self.source.name))

    def _take_failed(self, exc: Exception) -> None:
        if isinstance(exc, Changed):
            self.loop.call_later(LOCK_RETRY, self.pump)
        elif isinstance(exc, SpecError):
            self._broken(str(exc))
        elif isinstance(exc, UnsafePath):
            self._broken(str(exc), unwritable=True)
        elif isinstance(exc, OSError) and not isinstance(exc, LockError):
            self._broken("cannot update %s: %s" % (self.source.name, exc.strerror or exc),
                         unwritable=True)
        else:
            raise exc

    def _broken(self, message: str, unwritable: bool = False) -> None:
        if message != self.broken:
            self.broken = message
            self.unwritable = unwritable
            self.events.on_notice(notices.QueueUnwritable(message) if unwritable
                                  else notices.QueueInvalid(message))
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


class Choice:
    """The policy's say in one take (sources.Chooser): of the jobs the source
    offers, the first ones the policy places, and their places; given back
    to the policy if the take fails."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self.offered = 0
        self.places: List[List[Place]] = []

    def choose(self, candidates: List[Job]) -> int:
        self.offered = len(candidates)
        for job in candidates:
            places = self.policy.accept(job)
            if places is None:
                break
            self.places.append(places)
        return len(self.places)

    def release(self) -> None:
        for places in self.places:
            for place in places:
                self.policy.release(place)
