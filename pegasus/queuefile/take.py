"""A take's own writes around the swap of queue.yaml (replace.Steps), so
that a crash at any instant loses no job and records none twice: just
before the swap, the jobs taken are appended to consumed.yaml and flushed,
then journalled, each noted in the replace's crash note first; once the
file is swapped, the journal's transaction is committed. A swap that never
happens takes both records back. The file must not have changed since it
was read, or nothing is taken (QueueChanged)."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Callable, List, Optional, Sequence

from ..engine.sources import Changed
from ..spec.jobs import Job
from .journal import Journal
from .replace import CrashNote

if TYPE_CHECKING:
    from .queue import QueueFile


class QueueChanged(Changed):
    """queue.yaml was changed by a writer that does not take the lock (an
    editor, `>>`) while we were taking from it: nothing was taken; try
    again."""


class TakeSteps:
    """The writes of one take of `taken` from `queue`, read as `stat`."""

    def __init__(self, queue: QueueFile, stat: object, taken: List[Job]):
        self.queue = queue
        self.stat = stat
        self.taken = taken
        self.journal: Optional[Journal] = queue.journal
        self.consumed: Optional[int] = None   # consumed.yaml, open to append to
        self.undo_steps: List[Callable[[], None]] = []
        self.swapped = False
        self.txn = 0                          # its journal transaction

    def _unchanged(self) -> None:
        if self.queue.stat_key() != self.stat:
            raise QueueChanged()

    def before(self, inode: int, note: CrashNote) -> None:
        self._unchanged()
        fd = self.consumed = self.queue.open_consumed()
        size = os.fstat(fd).st_size
        note.add(consumed=[self.queue.consumed_path, size])
        append_jobs(fd, self.taken)
        self.undo_steps.append(lambda: os.ftruncate(fd, size))
        journal = self.journal
        if journal is not None:
            for job in self.taken:
                job.ticket = journal.new_ticket()
            txn = journal.begin(self.taken)
            note.add(journal=journal.path, txn=txn)
            self.undo_steps.append(lambda: journal.abort(txn))
            self.txn = txn
        self._unchanged()   # again, just before the swap: taken back

    def after(self) -> None:
        self.swapped = True   # taken: from here on nothing is undone
        if self.journal is not None:
            self.journal.commit(self.txn)

    def undo(self) -> None:
        """The swap did not happen: consumed.yaml and the journal as they
        were (as far as they can be)."""
        if self.swapped:
            return
        for step in reversed(self.undo_steps):
            with contextlib.suppress(OSError):
                step()

    def close(self) -> None:
        if self.consumed is not None:
            os.close(self.consumed)
            self.consumed = None


def append_jobs(fd: int, jobs: Sequence[Job]) -> None:
    """Append `jobs` to the consumed record open at `fd`, flushed to disk."""
    data = "".join(job.canonical() for job in jobs).encode("utf-8")
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        data = b"\n" + data
    os.write(fd, data)
    os.fsync(fd)
