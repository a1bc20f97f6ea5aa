"""The queue source of a runner: queue.yaml, locked for each visit, with
this runner's journal (crash recovery) beside it."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from typing import Hashable, Iterator, List, Optional, Sequence, Tuple

from ..engine.sources import Busy, Chooser, QueueSource
from ..errors import PegasusError
from ..events.handler import Handler, RunInfo
from ..events.outcome import Launch, Outcome
from ..spec.hosts import SubHost
from ..events.notices import Notice
from ..spec.jobs import Job, first_line
from .journal import Journal
from .outcomerecord import OutcomeRecord
from .queue import QueueFile
from .settle import Unsettled


class LiveQueue(QueueSource):
    """The live queue file as the engine sees it (sources.QueueSource)."""

    def __init__(self, queue: QueueFile):
        self.queue = queue
        self.name = queue.path
        self.journal: Optional[Journal] = None
        self.outcomes = OutcomeRecord(queue.state)

    def start(self) -> None:
        try:
            self.journal = Journal(self.queue.state)
        except OSError as exc:
            raise PegasusError("cannot write the journal beside %s: %s (pegasus needs a "
                               "writable directory for the queue)" % (
                                   self.queue.path, exc.strerror or exc)) from None
        self.queue.keep_journal(self.journal)

    @contextlib.contextmanager
    def _visit(self) -> Iterator[QueueFile]:
        if not self.queue.try_lock():
            raise Busy()
        try:
            yield self.queue
        finally:
            self.queue.unlock()

    def take(self, want: int, chooser: Chooser) -> List[Job]:
        with self._visit() as queue:
            return queue.take_locked(want, chooser)

    def put_back(self, jobs: Sequence[Job]) -> None:
        with self._visit() as queue:
            queue.put_back_locked(list(jobs))

    def recover(self) -> List[Tuple[str, int]]:
        with self._visit() as queue:
            return queue.recover_locked()

    def finished(self, job: Job) -> None:
        if job.ticket is not None and self.journal is not None:
            self.journal.finished(job.ticket)

    def record(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome, self.journal.owner if self.journal else "?")

    def watcher(self) -> Optional[Handler]:
        return JournalWatcher(self) if self.journal is not None else None

    def left(self) -> Optional[int]:
        return self.queue.left

    def settling(self) -> Optional[Unsettled]:
        return self.queue.unsettled

    def marker(self) -> Hashable:
        return self.queue.marker()

    def notices(self) -> List[Notice]:
        return self.queue.take_notices()

    def close(self, clean: bool) -> None:
        self.queue.keep_journal(None)
        if clean and self.journal is not None:
            self.journal.close()  # every job it took has ended


class JournalWatcher(Handler):
    """Notes in this runner's journal what `pegasus status` shows of it:
    what the runner is, how many sub-hosts are connected, and which job
    runs where since when. (Recovery reads none of this.)"""

    def __init__(self, live: LiveQueue):
        assert live.journal is not None
        self.journal = live.journal
        self.connected: set = set()

    def on_run_started(self, run: RunInfo) -> None:
        self.journal.note({"runner": {
            "pid": os.getpid(), "machine": socket.gethostname(), "mode": run.mode,
            "since": round(run.started, 3), "subhosts": run.subhosts, "daemon": run.daemon}})

    def _hosts(self) -> None:
        self.journal.note({"up": len(self.connected)})

    def on_host_ready(self, host: SubHost, was_down: bool) -> None:
        self.connected.add(host.index)
        self._hosts()

    def on_host_lost(self, host: SubHost, reason: str) -> None:
        self.connected.discard(host.index)
        self._hosts()

    def on_job_started(self, launch: Launch) -> None:
        if launch.host is not None:
            self.journal.note({"s": launch.seq, "host": launch.host.label,
                               "cmd": first_line(launch.command), "at": round(time.time(), 3),
                               "attempt": launch.attempt})

    def on_job_finished(self, outcome: Outcome) -> None:
        if outcome.host is not None:
            self.journal.note({"e": outcome.seq})
