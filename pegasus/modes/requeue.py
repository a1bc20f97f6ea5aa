"""`pegasus l --requeue KIND`: put jobs back from the outcome record.

Each job (by its canonical form) counts by its latest run: it goes back if
that run ended as asked (failed, cancelled, timeout, lost, or all-failed:
failed, timeout or lost), ended since --since, and the job is neither in
the queue already nor taken by a runner (alive, or dead and about to be put
back by the next one). Back at the top of the queue in the order the jobs
first ran (--bottom: at the end), each once, under the queue lock. Running
it twice adds nothing.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional

from ..queuefile import QueueFile
from ..queuefile.journal import SUFFIX, read_records, unfinished
from ..queuefile.outcomerecord import CANCELLED, FAILED, LOST, TIMEOUT, OutcomeRecord
from ..spec.validate import validate_text

KINDS = {"failed": {FAILED}, "cancelled": {CANCELLED}, "timeout": {TIMEOUT}, "lost": {LOST},
         "all-failed": {FAILED, TIMEOUT, LOST}}


def _taken(queue: QueueFile) -> set:
    """The jobs every runner's journal holds unfinished (canonical forms)."""
    found: set = set()
    top = queue.state.find()
    if top is None:
        return found
    for name in top.names():
        if name.endswith(SUFFIX):
            try:
                fd = top.open(name, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                found.update(unfinished(read_records(fd)))
            finally:
                os.close(fd)
    return found


def choose(queue: QueueFile, kind: str, since: Optional[float]) -> List[str]:
    """The canonical jobs to put back, in the order they first ran; the
    caller holds the lock (what is in the queue must not change meanwhile)."""
    latest: Dict[str, dict] = {}
    first: Dict[str, float] = {}
    for record in OutcomeRecord(queue.state).read():
        job = record.get("job")
        if job is None:
            continue
        latest[job] = record
        first.setdefault(job, record.get("start") or 0.0)
    queued = set()
    # All of it, or without an entry still half-written at its end.
    for read in (queue.read, queue.read_settled):
        try:
            queued = {job.canonical() for job in validate_text(read(), queue.path)}
            break
        except Exception:  # noqa: BLE001 - an invalid or missing queue holds nothing we know
            continue
    skip = queued | _taken(queue)
    wanted = KINDS[kind]
    picks = [job for job, record in latest.items()
             if record.get("kind") in wanted and job not in skip
             and (since is None or (record.get("end") or 0) >= since)]
    return sorted(picks, key=lambda job: first[job])
