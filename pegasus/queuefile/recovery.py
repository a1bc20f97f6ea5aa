"""Crash recovery under the queue lock: the jobs a dead runner took and
never finished go back to the top of the queue, and a job whose runners
kept dying while it ran is given up, recorded (journal.py keeps what each
runner took; its Recoveries count the deaths)."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Tuple

from ..events import notices
from .journal import dead_journals

if TYPE_CHECKING:
    from .queue import QueueFile


def recover(queue: QueueFile) -> List[Tuple[str, int]]:
    """Put back the jobs of dead runners' journals (journal.py), each job
    at most `recoveries.limit` times; the caller holds the lock. Returns
    [(owner, number of jobs)]."""
    top = queue.state.find()
    if top is None:
        return []
    own = queue.journal.name if queue.journal is not None else None
    recovered = []
    for dead in dead_journals(top, own):
        try:
            back, given_up = queue.recoveries.count(dead.jobs)
            if back:
                queue.put_back_locked(back)
                recovered.append((dead.owner, len(back)))
            for job in given_up:
                queue.outcomes.given_up(job, dead.owner, queue.recoveries.limit)
                queue.notices.append(notices.JobGivenUp(queue.path, job,
                                                      queue.recoveries.limit))
        except BaseException:
            dead.release()
            raise
        dead.remove()
    return recovered
