"""The outcome record: every run a runner finishes -- success, failure,
timeout, cancel, host lost -- as one JSON line in the state directory's
`outcomes.jsonl`, with the job in its canonical form (what consumed.yaml
holds) and the last lines of its stdout and stderr (a few KiB at most:
outcome.Tail), so that `pegasus status` can count them and show a run's
last words (`--job SEQ`), and `pegasus l --requeue` can put jobs back.

A record is written before its job leaves the runner's journal, so a
runner killed at any instant leaves either the record or a job that the
next runner puts back. Records are written, not fsynced (as the journal):
a power cut may lose the last few, whose jobs then run again.

Bounded: once the file passes ROTATE_AT bytes it becomes `outcomes.1.jsonl`
(replacing the one before), so the record holds the most recent 16 to
32 MiB of outcomes -- some 50,000 to 100,000 runs of jobs that print
little, and at least 5,000 of jobs that print their fill (3 KiB each).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List

from ..events.outcome import Outcome, Reason
from .statedir import StateDir

CURRENT = "outcomes.jsonl"
OLDER = "outcomes.1.jsonl"
ROTATE_AT = 16 * 1024 * 1024

OK, FAILED, CANCELLED, LOST, TIMEOUT = "ok", "failed", "cancelled", "lost", "timeout"
KINDS = (OK, FAILED, CANCELLED, LOST, TIMEOUT)


def kind_of(outcome: Outcome) -> str:
    """ok, failed, cancelled, lost or timeout: how `pegasus status` counts it."""
    if outcome.ok:
        return OK
    return {Reason.CANCELLED: CANCELLED, Reason.HOST_LOST: LOST, Reason.ENDED: LOST,
            Reason.TIMEOUT: TIMEOUT}.get(outcome.reason, FAILED)  # type: ignore[arg-type]


def record_of(outcome: Outcome, runner: str) -> Dict[str, Any]:
    launch = outcome.launch
    return {
        "seq": launch.seq,
        "host": launch.host.label if launch.host is not None else None,
        "start": round(launch.started, 3),
        "end": round(launch.started + outcome.duration, 3),
        "kind": kind_of(outcome),
        "exit": outcome.exit_value,
        "signal": outcome.signal,
        "reason": outcome.reason.value if outcome.reason is not None else None,
        "detail": outcome.detail,
        "slots": launch.slots_text if launch.slots else None,
        "attempt": launch.attempt,
        "retried": outcome.retried,
        "runner": runner,
        "job": launch.job.canonical(),
        "stdout_tail": list(outcome.stdout_tail),
        "stderr_tail": list(outcome.stderr_tail),
    }


class OutcomeRecord:
    """The outcome record of one queue."""

    def __init__(self, state: StateDir):
        self.state = state
        self.path = state.file(CURRENT)

    def append(self, outcome: Outcome, runner: str) -> None:
        self._write(record_of(outcome, runner))

    def _write(self, record: Dict[str, Any]) -> None:
        data = json.dumps(record, separators=(",", ":")) + "\n"
        top = self.state.ensure()
        fd = top.open(CURRENT, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, data.encode("utf-8"))
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > ROTATE_AT:
            top.rename(CURRENT, OLDER)

    def given_up(self, job: str, runner: str, times: int) -> None:
        """A job (canonical form) whose runners died `times` times while it
        ran: recorded as lost, not put back again."""
        now = round(time.time(), 3)
        self._write({"seq": None, "host": None, "start": now, "end": now, "kind": LOST,
                     "exit": -1, "signal": 0, "reason": "host lost",
                     "detail": "its runner died %d times while it ran; not put back again"
                               % times, "slots": None, "attempt": times, "retried": False,
                     "runner": runner, "job": job})

    def read(self) -> List[Dict[str, Any]]:
        """Every record kept, oldest first; a torn line is skipped."""
        records: List[Dict[str, Any]] = []
        top = self.state.find()
        if top is None:
            return records
        for name in (OLDER, CURRENT):
            data = top.read(name)
            if data is None:
                continue
            for line in data.splitlines():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return records
