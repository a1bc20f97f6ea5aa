"""The event protocol between the engine and what a person sees.

The engine (runner.py and its parts) never prints: it calls the `on_*`
methods of one `Handler`, usually a `Fanout` of several (the printer, the
summary, the joblog...). Every event is a method of `Handler` below with a
documented no-op body; a handler overrides the ones it cares about. A
subclass that defines an `on_*` method `Handler` does not know is refused
when the class is made, so a misspelt handler cannot silently never fire.

Notices are typed values (the dataclasses below), not sentences: words.py
alone turns them into words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterable, List, Optional

if TYPE_CHECKING:
    from .outcome import Launch, Outcome
    from ..spec.jobs import Job, SubHost


class Handler:
    """Receives the events of a run. Every method is a no-op here."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        unknown = [name for name in vars(cls)
                   if name.startswith("on_") and not hasattr(Handler, name)]
        if unknown:
            raise TypeError("%s defines %s, which no event calls (events: %s)" % (
                cls.__name__, ", ".join(unknown), ", ".join(EVENTS)))

    def on_host_ready(self, host: SubHost, was_down: bool) -> None:
        """`host` is connected and takes jobs; `was_down`: it had been
        unreachable or lost before."""

    def on_host_failed(self, host: SubHost, reason: str) -> None:
        """`host` could not be connected (`reason`: from ssh); it is tried
        again in the background."""

    def on_host_lost(self, host: SubHost, reason: str) -> None:
        """`host` was connected and its connection is gone; its running jobs
        end with reason HOST_LOST."""

    def on_job_started(self, launch: Launch) -> None:
        """A run starts (or, for a run that fails before it can start, is
        about to be reported as finished)."""

    def on_job_line(self, launch: Launch, stream: str, text: str) -> None:
        """One whole line of a run's output; `stream` is "out" or "err"."""

    def on_job_finished(self, outcome: Outcome) -> None:
        """A run ended, however it ended."""

    def on_notice(self, notice: Notice) -> None:
        """Something a person should know about the run as a whole."""

    def on_run_started(self, run: RunInfo) -> None:
        """The run begins: what it is (before any connection)."""

    def on_queue_left(self, count: Optional[int]) -> None:
        """The source holds `count` jobs (expanded) after a visit; None if
        it cannot tell."""

    def on_status_requested(self) -> None:
        """Someone asked what the run is doing (SIGUSR1, SIGINFO)."""

    def on_run_finished(self) -> None:
        """Every job is over and the run ends (also when cancelled)."""


EVENTS = tuple(name for name in vars(Handler) if name.startswith("on_"))


class Fanout(Handler):
    """Passes every event to each handler in turn, in the order given."""

    def __init__(self, handlers: Iterable[Optional[Handler]]):
        self.handlers: List[Handler] = [h for h in handlers if h is not None]

    def on_host_ready(self, host, was_down):
        for handler in self.handlers:
            handler.on_host_ready(host, was_down)

    def on_host_failed(self, host, reason):
        for handler in self.handlers:
            handler.on_host_failed(host, reason)

    def on_host_lost(self, host, reason):
        for handler in self.handlers:
            handler.on_host_lost(host, reason)

    def on_job_started(self, launch):
        for handler in self.handlers:
            handler.on_job_started(launch)

    def on_job_line(self, launch, stream, text):
        for handler in self.handlers:
            handler.on_job_line(launch, stream, text)

    def on_job_finished(self, outcome):
        for handler in self.handlers:
            handler.on_job_finished(outcome)

    def on_notice(self, notice):
        for handler in self.handlers:
            handler.on_notice(notice)

    def on_run_started(self, run):
        for handler in self.handlers:
            handler.on_run_started(run)

    def on_queue_left(self, count):
        for handler in self.handlers:
            handler.on_queue_left(count)

    def on_status_requested(self):
        for handler in self.handlers:
            handler.on_status_requested()

    def on_run_finished(self):
        for handler in self.handlers:
            handler.on_run_finished()


@dataclass(frozen=True)
class RunInfo:
    """What a run is: its mode (by name, for people), whether each job runs
    on every sub-host, how many sub-hosts, daemon mode, where the jobs come
    from, when it started, and how many jobs may run at once (-f; None: as
    many as the sub-hosts take)."""

    mode: str
    fans_out: bool
    subhosts: int
    daemon: bool
    source: str
    started: float
    fanout: Optional[int] = None


# --- notices ------------------------------------------------------------------

@dataclass(frozen=True)
class Notice:
    """Base of the notices; `warning` ones are shown as such."""

    warning: ClassVar[bool] = False


@dataclass(frozen=True)
class QueueInvalid(Notice):
    """The queue cannot be taken from (bad YAML, a bad entry, a failed
    write); nothing is taken until it changes."""

    warning: ClassVar[bool] = True
    message: str


@dataclass(frozen=True)
class QueueUnwritable(Notice):
    """The queue cannot be written (full disk, read-only, a lock error);
    nothing is taken until it can."""

    warning: ClassVar[bool] = True
    message: str


@dataclass(frozen=True)
class QueueWarning(Notice):
    """Something in the queue is worth a second look (not an error)."""

    warning: ClassVar[bool] = True
    message: str


@dataclass(frozen=True)
class QueueRewritten(Notice):
    """A replaced queue file was rewritten, not appended to, by a program
    that does not take the lock; its text was saved apart, never merged."""

    warning: ClassVar[bool] = True
    path: str
    saved: str


@dataclass(frozen=True)
class QueueEmpty(Notice):
    """Daemon mode: the queue has no job left; the run waits for more."""


@dataclass(frozen=True)
class EntryBeingWritten(Notice):
    """The last entry of the queue is still being written and waits for its
    writer: its last line has no newline yet, and someone has the file
    open for writing (queuefile/settle.py). A run without -d may end
    before it is complete; it stays in the queue."""

    path: str


@dataclass(frozen=True)
class QueueValidAgain(Notice):
    path: str


@dataclass(frozen=True)
class JobPutBack(Notice):
    """A job taken by this run went back to the top of the queue: one to
    run again that this run will not run (cancelled, halted, no sub-host
    left)."""

    path: str
    job: Job


@dataclass(frozen=True)
class JobsRequeued(Notice):
    """Cancelled jobs went back to the top of the queue, in their order."""

    path: str
    count: int


@dataclass(frozen=True)
class Halting(Notice):
    """A --halt rule (or -e in queue mode) is met: no further job is taken;
    `now`: the running ones are stopped too."""

    warning: ClassVar[bool] = True
    rule: str
    now: bool
    failures: int
    finished: int


@dataclass(frozen=True)
class HostPaused(Notice):
    """A sub-host failed job after job soon after they started: it takes no
    job for `seconds`, then one, to see."""

    warning: ClassVar[bool] = True
    host: SubHost
    failures: int
    within: float
    seconds: float


@dataclass(frozen=True)
class HostResumed(Notice):
    host: SubHost


@dataclass(frozen=True)
class PausesLifted(Notice):
    """No healthy sub-host is left for a pause to protect (every one left
    fails fast, or the healthy ones are gone): these paused sub-hosts take
    jobs again at once, and no sub-host is paused while that lasts."""

    warning: ClassVar[bool] = True
    hosts: tuple


@dataclass(frozen=True)
class PutBackFailed(Notice):
    warning: ClassVar[bool] = True
    path: str
    error: str


@dataclass(frozen=True)
class JobsRecovered(Notice):
    """A dead runner's unfinished jobs went back to the top of the queue."""

    warning: ClassVar[bool] = True
    owner: str
    count: int
    path: str


@dataclass(frozen=True)
class JobGivenUp(Notice):
    """A job whose runners kept dying while it ran is not put back again."""

    warning: ClassVar[bool] = True
    path: str
    job: str
    times: int


@dataclass(frozen=True)
class RecoveryFailed(Notice):
    warning: ClassVar[bool] = True
    error: str


@dataclass(frozen=True)
class DescriptorsShort(Notice):
    """The open-file limit lets fewer jobs run at once than the sub-hosts
    could: at most `jobs` of `wanted` do (sweep.py)."""

    warning: ClassVar[bool] = True
    limit: int
    hard: Optional[int]
    jobs: int
    wanted: int


@dataclass(frozen=True)
class HostsStillConnecting(Notice):
    """The run ended while these sub-hosts were still being connected for
    the first time: they ran nothing."""

    hosts: tuple


@dataclass(frozen=True)
class Cancelling(Notice):
    """The first Ctrl-C (or SIGTERM, SIGHUP): `running` jobs are stopped,
    SIGTERM then SIGKILL after `grace` seconds."""

    warning: ClassVar[bool] = True
    signal_name: str
    running: int
    grace: float


@dataclass(frozen=True)
class OutputLost(Notice):
    """pegasus's `stream` ("stdout", "stderr") cannot be written any more
    (`error`; `reader_left`: its pipe's reader left): the run stops as on a
    first Ctrl-C, `running` jobs stopped, SIGTERM then SIGKILL after `grace`."""

    warning: ClassVar[bool] = True
    stream: str
    error: str
    reader_left: bool
    running: int
    grace: float


@dataclass(frozen=True)
class KillingNow(Notice):
    """A second cancel signal: every job is killed at once."""

    warning: ClassVar[bool] = True
    signal_name: str


@dataclass(frozen=True)
class Aborting(Notice):
    """A job failed and the run takes no further job (`-e`)."""

    warning: ClassVar[bool] = True
