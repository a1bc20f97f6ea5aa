"""What the engine tells its handlers about one run of a job: where and what
it started (`Launch`), and how it ended (`Outcome`), as immutable values
with a typed reason. Words for them live in words.py."""

from __future__ import annotations

import enum
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional, Tuple

if TYPE_CHECKING:
    from ..spec.jobs import Job
    from ..spec.hosts import SubHost


class Reason(enum.Enum):
    """Why a run ended other than by its command exiting by itself."""

    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    HALTED = "stopped by --halt"     # a failure, not a cancel
    HOST_LOST = "host lost"
    UNREACHABLE = "unreachable"      # its sub-host could not be connected
    FITS_NOWHERE = "fits nowhere"    # its slots fit no sub-host (detail: the misfit)
    TEMPLATE = "template error"
    TOO_LONG = "command too long"
    NOT_STARTED = "could not start"  # spawning the command failed
    # pegasus's own machine lacked what starting it takes (file descriptors,
    # processes, memory): not the job's failure; it runs again.
    LOCAL_LIMIT = "could not start here"
    # The Slurm allocation the job ran in is over (its time limit, a cancel,
    # a node failure that ended it; detail: which): not the job's failure.
    ENDED = "allocation ended"


# Stopped by pegasus itself: the joblog shows the signal pegasus sent.
STOPPED_BY_PEGASUS = frozenset([Reason.TIMEOUT, Reason.CANCELLED, Reason.HALTED])
# Never started: nothing ran, for no time worth telling.
NEVER_RAN = frozenset([Reason.UNREACHABLE, Reason.FITS_NOWHERE, Reason.TEMPLATE, Reason.TOO_LONG,
                       Reason.LOCAL_LIMIT])


# What is kept of each stream of a run, for the report at the end and the
# outcome record (`pegasus status --job SEQ`): its last lines, a few KiB.
TAIL_LINES = 10
TAIL_CHARS = 1536      # per stream; a line longer than LINE_CHARS is cut
LINE_CHARS = 512


class Tail:
    """The last lines of one stream of a run, bounded: at most TAIL_LINES
    lines and TAIL_CHARS characters, each line cut at LINE_CHARS (its start
    is kept: that is where an error message says what it is)."""

    __slots__ = ("lines", "chars")

    def __init__(self) -> None:
        self.lines: List[str] = []
        self.chars = 0

    def add(self, text: str) -> None:
        if len(text) > LINE_CHARS:
            text = text[:LINE_CHARS - 4] + " ..."
        self.lines.append(text)
        self.chars += len(text)
        while len(self.lines) > TAIL_LINES or self.chars > TAIL_CHARS:
            self.chars -= len(self.lines.pop(0))

    def kept(self) -> Tuple[str, ...]:
        return tuple(self.lines)


@dataclass(frozen=True)
class Launch:
    """One run of a job on one sub-host, as it starts.

    `seq` numbers runs in the order they start (the joblog's Seq); `job` is
    shared by every run of one taken job (a broadcast job has one run per
    sub-host); `host` is None for a job that fits no sub-host.
    """

    seq: int
    job: Job
    host: Optional[SubHost]
    slots: Optional[tuple]
    command: str
    started: float            # wall-clock time (time.time())
    attempt: int = 1          # 2 and more: a retry of the job

    @property
    def slots_text(self) -> str:
        """`{{ slots }}`: the indices, comma-separated; `0` without slots."""
        return ",".join(str(i) for i in self.slots) if self.slots else "0"


@dataclass(frozen=True)
class Outcome:
    """How one run ended: the command's exit status (as in subprocess: -N
    for signal N; None if it never ran or its end is unknown), or a typed
    reason with a detail; whether pegasus sent it SIGTERM or SIGKILL; what
    it printed (bytes and lines, and the last lines of each stream: `Tail`);
    whether the job runs again (another try, or back to the queue)."""

    launch: Launch
    duration: float
    returncode: Optional[int] = None
    reason: Optional[Reason] = None
    detail: str = ""
    stop_signal: int = 0     # the signal pegasus sent to stop it, 0 if none
    received: int = 0        # bytes of output
    lines: int = 0
    retried: bool = False    # the job runs again: not a failure (yet)
    stdout_tail: Tuple[str, ...] = ()
    stderr_tail: Tuple[str, ...] = ()

    # Shorthands for the launch's fields.
    @property
    def seq(self) -> int:
        return self.launch.seq

    @property
    def job(self) -> Job:
        return self.launch.job

    @property
    def host(self) -> Optional[SubHost]:
        return self.launch.host

    @property
    def command(self) -> str:
        return self.launch.command

    @property
    def last_error_line(self) -> str:
        """The last non-blank line the run printed on stderr ("" if none)."""
        for line in reversed(self.stderr_tail):
            if line.strip():
                return line.strip()
        return ""

    @property
    def ok(self) -> bool:
        return self.reason is None and self.returncode == 0

    @property
    def counts_as_failed(self) -> bool:
        """A failure, by the last attempt: not a success, not run again, not
        a cancel (the user stopped it; it did not fail), and not cut off by
        the end of its allocation."""
        return not self.ok and not self.retried and self.reason not in (Reason.CANCELLED,
                                                                         Reason.ENDED)

    @property
    def signal(self) -> int:
        """The signal that ended the command: the one pegasus sent when it
        stopped the job, else as far as the exit status tells; 0 if none."""
        if self.reason in STOPPED_BY_PEGASUS and self.stop_signal:
            return self.stop_signal
        if self.returncode is not None and self.returncode < 0:
            return -self.returncode
        return 0

    @property
    def exit_value(self) -> int:
        """The exit status as a shell reports it (128+N for signal N); -1 if
        the command never ran or its end is unknown."""
        if self.reason in STOPPED_BY_PEGASUS and self.stop_signal:
            return 128 + self.stop_signal
        if self.returncode is None:
            return -1
        return 128 - self.returncode if self.returncode < 0 else self.returncode


SIGTERM = int(signal.SIGTERM)
SIGKILL = int(signal.SIGKILL)
