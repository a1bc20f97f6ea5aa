"""Where a runner takes its jobs from: the queue-source seam.

The engine knows a source only through `QueueSource`: take jobs from its top
(FIFO, as the caller chooses), put jobs back there, say that a job is over,
recover what dead runners left, and tell whether it changed. Two sources
exist: the live queue file (queuefile.LiveQueue) and an in-memory list of
commands (MemoryQueue), for jobs given on the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Hashable, List, Optional, Protocol, Sequence, Tuple

from ..spec.jobs import Job

if TYPE_CHECKING:
    from ..events.handler import Handler
    from ..events.notices import Notice
    from ..events.outcome import Outcome


class Coming(Protocol):
    """A source's last entry, still being written (queuefile/settle.py)."""

    @property
    def retry(self) -> float:
        """Look again after this many seconds."""

    @property
    def held(self) -> bool:
        """It waits for a writer that keeps it open, without a time limit."""


class Chooser(Protocol):
    """The taker's say in a take (engine/intake.py's Choice)."""

    def choose(self, candidates: List[Job]) -> int:
        """How many of `candidates`, the source's first jobs, to take:
        the first N (FIFO)."""


class Busy(Exception):
    """The source is locked by someone else right now: try again soon."""


class Changed(Exception):
    """The source changed under a take (queue.yaml rewritten meanwhile by a
    writer that does not take the lock): nothing was taken; try again."""


class QueueSource:
    """The interface; every method may raise Busy, SpecError (the source is
    invalid) or OSError; `take`, also Changed."""

    name = "?"

    def start(self) -> None:
        """Before the first take."""

    def take(self, want: int, chooser: Chooser) -> List[Job]:
        """Offer `chooser` the first jobs (at most `want`) and take the first
        N of them that it says; return those."""
        raise NotImplementedError

    def put_back(self, jobs: Sequence[Job]) -> None:
        """Put `jobs` back on top, in this order."""
        raise NotImplementedError

    def finished(self, job: Job) -> None:
        """Every run of `job` is over (it will not be put back)."""

    def record(self, outcome: Outcome) -> None:
        """Keep the outcome of one run (before `finished`)."""

    def watcher(self) -> Optional[Handler]:
        """A handler (events.Handler) that keeps what the source's readers
        may want to know of the run as it goes; None if there is none."""
        return None

    def recover(self) -> List[Tuple[str, int]]:
        """Put back the jobs of dead runners: [(runner, number of jobs)]."""
        return []

    def marker(self) -> Hashable:
        """A value that changes whenever the source may hold new jobs."""
        return None

    def left(self) -> Optional[int]:
        """How many jobs the source holds, as far as it knows."""
        return None

    def settling(self) -> Optional[Coming]:
        """After a take: None, or the last entry, still being written."""
        return None

    def notices(self) -> List[Notice]:
        """Notices about the source itself since last asked."""
        return []

    def close(self, clean: bool) -> None:
        """After the last job; `clean` if every job taken has ended."""


class MemoryQueue(QueueSource):
    """Jobs held in memory, in order; nothing is written anywhere."""

    name = "the command line"

    def __init__(self, jobs: Sequence[Job]):
        self.jobs = list(jobs)

    def take(self, want: int, chooser: Chooser) -> List[Job]:
        count = max(0, min(len(self.jobs), chooser.choose(self.jobs[:want])))
        taken, self.jobs = self.jobs[:count], self.jobs[count:]
        return taken

    def put_back(self, jobs: Sequence[Job]) -> None:
        self.jobs[:0] = list(jobs)

    def marker(self) -> Hashable:
        return len(self.jobs)

    def left(self) -> Optional[int]:
        return len(self.jobs)
