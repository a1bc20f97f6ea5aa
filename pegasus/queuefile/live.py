"""The queue source of a runner: queue.yaml, locked for each visit, with
this runner's journal (crash recovery) beside it."""

from __future__ import annotations

import contextlib
from typing import List, Optional

from ..errors import PegasusError
from ..sources import Busy, QueueSource
from .journal import Journal
from .queue import QueueFile


class LiveQueue(QueueSource):
    """The live queue file as the engine sees it (sources.QueueSource)."""

    def __init__(self, queue: QueueFile):
        self.queue = queue
        self.name = queue.path
        self.journal: Optional[Journal] = None

    def start(self):
        try:
            self.journal = Journal(self.queue.state)
        except OSError as exc:
            raise PegasusError("cannot write the journal beside %s: %s (pegasus needs a "
                               "writable directory for the queue)" % (
                                   self.queue.path, exc.strerror or exc)) from None
        self.queue.journal = self.journal

    @contextlib.contextmanager
    def _visit(self):
        if not self.queue.try_lock():
            raise Busy()
        try:
            yield self.queue
        finally:
            self.queue.unlock()

    def take(self, want, choose):
        with self._visit() as queue:
            return queue.take_locked(want, choose)

    def put_back(self, jobs):
        with self._visit() as queue:
            queue.put_back_locked(list(jobs))

    def recover(self):
        with self._visit() as queue:
            return queue.recover_locked()

    def finished(self, job):
        if job.ticket is not None and self.journal is not None:
            self.journal.finished(job.ticket)

    def left(self):
        return self.queue.left

    def marker(self):
        return self.queue.marker()

    def notices(self) -> List:
        found, self.queue.notices = self.queue.notices, []
        return found

    def close(self, clean):
        self.queue.journal = None
        if clean and self.journal is not None:
            self.journal.close()  # every job it took has ended
