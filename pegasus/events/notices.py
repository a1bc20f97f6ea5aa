"""The notices of a run: what a person should know about the run as a whole,
as typed values (dataclasses), not sentences: ui/words.py alone turns them
into words. The engine passes them to `Handler.on_notice`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Optional

if TYPE_CHECKING:
    from ..spec.jobs import Job
    from ..spec.hosts import SubHost


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
    could: at most `jobs` of `wanted` do (engine/processes.py)."""

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
