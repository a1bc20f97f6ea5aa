"""Crash recovery: each runner's journal of the jobs it took, so that the
jobs of a runner that died are put back in the queue -- and never the jobs
of a runner that is alive.

In the state directory (statedir.py), `HOST.PID.journal`, one per runner,
fcntl-locked by it for its whole life. A journal whose lock can be taken
belongs to a dead runner (the kernel drops a lock when its process dies,
however it dies). Whether a take a runner died in the middle of happened is
settled by the note of that replace (replace.py).

Journal lines are JSON: {"t": txn, "jobs": [[ticket, yaml], ...]} when jobs
are taken, {"c": txn} once queue.yaml no longer holds them, {"a": txn} if
that did not happen, {"d": ticket} when a job is over. A torn last line
(a crash mid-write) is ignored. Notes for `pegasus status` (what the runner
is, which job runs where) are lines of their own, which recovery ignores.

Compacted: a daemon runs for weeks, and `pegasus status` and recovery read
the journal whole, so once it passes COMPACT_AT bytes it is rewritten with
only what still holds -- the jobs taken and not over, the latest note of
each kind, the runs not ended. The new file is written beside it (a name
recovery does not take for a journal), locked, flushed, and renamed over
it; the old one stays locked until the next compaction, for a reader that
opened it just before. A crash at any instant leaves the old journal or
the new one, whole; a leftover new file is removed by the next runner.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from ..errors import LockError
from ..fsutil import Directory, open_file

if TYPE_CHECKING:
    from ..spec.jobs import Job
from .statedir import StateDir

SUFFIX = ".journal"
COMPACTING = ".compact"      # SUFFIX + this: a compacted journal being written
COMPACT_AT = 256 * 1024      # bytes written since the journal was last compacted


def append_record(path_or_fd: Union[str, int], record: Dict[str, Any]) -> int:
    """Append `record` as a line; returns its size."""
    data = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
    if isinstance(path_or_fd, int):
        os.write(path_or_fd, data)
        return len(data)
    fd = open_file(path_or_fd, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return len(data)


def read_records(fd: int) -> List[Dict[str, Any]]:
    """The journal's records, skipping a torn last line."""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    records = []
    for line in b"".join(chunks).splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def unfinished(records: List[Dict[str, Any]]) -> List[str]:
    """The canonical YAML of the jobs taken and committed but never ended,
    in the order they were taken."""
    taken = {}
    committed = set()
    done = set()
    for record in records:
        if "t" in record:
            taken[record["t"]] = record["jobs"]
        elif "c" in record:
            committed.add(record["c"])
        elif "d" in record:
            done.add(record["d"])
    jobs: List[str] = []
    for txn, items in taken.items():
        if txn in committed:
            jobs.extend(text for ticket, text in items if ticket not in done)
    return jobs


class Journal:
    """This runner's journal, locked for as long as the runner lives.

    The file is opened once and never reopened: closing any descriptor of a
    file drops this process's fcntl locks on it.
    """

    def __init__(self, state: StateDir):
        self.top = state.ensure()
        self.directory = self.top.path
        base = "%s.%d" % (socket.gethostname().split(".")[0] or "host", os.getpid())
        self.name, self.fd = self._create(base)
        self.path = self.top.file(self.name)
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self.fd)
            self.top.unlink(self.name)
            raise LockError(self.path, exc.strerror or str(exc)) from None
        self._txn = 0
        self._ticket = 0
        self._state = _State()
        self._written = 0
        self._previous = -1      # the journal before the last compaction, still locked

    def _create(self, base: str) -> Tuple[str, int]:
        """A new journal file: a dead runner's journal of the same name (a
        PID used again) is left for recovery, never overwritten."""
        for number in range(1000):
            name = base + ("" if number == 0 else ".%d" % number) + SUFFIX
            try:
                return name, self.top.open(name, os.O_RDWR | os.O_APPEND, exclusive=True)
            except FileExistsError:
                continue
        raise LockError(self.directory, "no free journal name for %s" % base)

    def new_ticket(self) -> int:
        self._ticket += 1
        return self._ticket

    def _append(self, record: dict) -> None:
        self._written += append_record(self.fd, record)
        self._state.add(record)

    def begin(self, jobs: Sequence[Job]) -> int:
        """Before queue.yaml is replaced: record the jobs taken."""
        self._txn += 1
        self._append({"t": self._txn, "jobs": [[job.ticket, job.canonical()] for job in jobs]})
        return self._txn

    def commit(self, txn: int) -> None:
        self._append({"c": txn})

    def abort(self, txn: int) -> None:
        self._append({"a": txn})

    def finished(self, ticket: int) -> None:
        self._append({"d": ticket})
        self._compact_if_due()

    def note(self, record: dict) -> None:
        """A record for readers (`pegasus status`): what the runner is
        and does; recovery ignores it. A note replaces the one before of
        its kind (its first key), but {"s": seq, ...} (a run started),
        which holds until {"e": seq} (it ended)."""
        self._append(record)
        self._compact_if_due()

    def _compact_if_due(self) -> None:
        if self._written < COMPACT_AT:
            return
        try:
            self.compact()
        except OSError:
            self._written = 0  # the journal stays as it is, whole; tried again later

    def compact(self) -> None:
        """Rewrite the journal with only what still holds (see above)."""
        temporary = self.name + COMPACTING
        self.top.unlink(temporary)  # left by a runner that died compacting
        fd = self.top.open(temporary, os.O_RDWR | os.O_APPEND, exclusive=True)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            for record in self._state.records():
                append_record(fd, record)
            os.fsync(fd)
            self.top.rename(temporary, self.name)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                self.top.unlink(temporary)
            raise
        if self._previous >= 0:
            os.close(self._previous)
        self._previous, self.fd = self.fd, fd
        self._written = 0

    @property
    def owner(self) -> str:
        return os.path.basename(self.path)[:-len(SUFFIX)]

    def close(self) -> None:
        """A clean end: nothing to recover, the journal goes."""
        self.top.unlink(self.name)
        os.close(self.fd)
        if self._previous >= 0:
            os.close(self._previous)


class _State:
    """What of a journal still holds, as a runner writes it: the jobs
    taken and not over (by transaction), the latest note of each kind,
    the runs started and not ended."""

    def __init__(self) -> None:
        self.txns: Dict[int, list] = {}          # txn -> [[ticket, yaml], ...]
        self.committed: set = set()
        self.tickets: Dict[int, int] = {}        # ticket -> txn
        self.notes: Dict[str, dict] = {}         # kind -> latest note
        self.running: Dict[int, dict] = {}       # seq -> note of its start

    def add(self, record: dict) -> None:
        if "t" in record:
            self.txns[record["t"]] = list(record["jobs"])
            for ticket, _job in record["jobs"]:
                self.tickets[ticket] = record["t"]
        elif "c" in record:
            self.committed.add(record["c"])
        elif "a" in record:
            self._drop(record["a"])
        elif "d" in record:
            self._done(record["d"])
        elif "s" in record:
            self.running[record["s"]] = record
        elif "e" in record:
            self.running.pop(record["e"], None)
        elif record:
            self.notes[next(iter(record))] = record

    def _done(self, ticket: int) -> None:
        txn = self.tickets.pop(ticket, None)
        if txn is None or txn not in self.txns:
            return
        self.txns[txn] = [item for item in self.txns[txn] if item[0] != ticket]
        if not self.txns[txn]:
            self._drop(txn)

    def _drop(self, txn: int) -> None:
        for ticket, _job in self.txns.pop(txn, []):
            self.tickets.pop(ticket, None)
        self.committed.discard(txn)

    def records(self) -> List[dict]:
        """The journal's lines, compacted: what `unfinished` and `pegasus
        status` read from it is as before."""
        lines: List[dict] = list(self.notes.values())
        for txn, jobs in self.txns.items():
            lines.append({"t": txn, "jobs": jobs})
            if txn in self.committed:
                lines.append({"c": txn})
        return lines + list(self.running.values())


class DeadJournal:
    """A journal whose runner is gone, locked by us while we put its jobs
    back."""

    def __init__(self, top: Directory, name: str, fd: int):
        self.top = top
        self.name = name
        self.path = top.file(name)
        self.fd = fd
        self.jobs = unfinished(read_records(fd))

    @property
    def owner(self) -> str:
        return os.path.basename(self.path)[:-len(SUFFIX)]

    def remove(self) -> None:
        self.top.unlink(self.name)
        os.close(self.fd)

    def release(self) -> None:
        os.close(self.fd)


def dead_journals(top: Directory, own_name: Optional[str] = None) -> List[DeadJournal]:
    """The journals in the state directory `top` whose runner is dead
    (their lock is free). Each is opened as everything there is (a file of
    yours, no link, one name: fsutil), or refused."""
    found = []
    for name in sorted(top.names()):
        if own_name is not None and name in (own_name, own_name + COMPACTING):
            continue  # never touch our own: closing a second fd would drop our lock
        if name.endswith(SUFFIX + COMPACTING):
            fd = _dead(top, name)
            if fd is not None:  # its runner died compacting: the journal is whole
                top.unlink(name)
                os.close(fd)
        elif name.endswith(SUFFIX):
            fd = _dead(top, name)
            if fd is not None:
                found.append(DeadJournal(top, name, fd))
    return found


def _dead(top: Directory, name: str) -> Optional[int]:
    """A descriptor of `name` in `top`, locked, if its runner is dead; else
    None. A journal compacted meanwhile (another file at `name` now) is
    alive."""
    try:
        fd = top.open(name, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino != top.lstat(name).st_ino:
            raise FileNotFoundError(name)
    except OSError as exc:
        os.close(fd)
        if isinstance(exc, FileNotFoundError) or exc.errno in (errno.EACCES, errno.EAGAIN):
            return None  # its runner is alive (or compacted it just now)
        raise
    return fd


class Recoveries:
    """How often each job (by its canonical form) was put back because its
    runner died while it ran. A job that keeps killing its runners (or
    whose runners keep dying) is not put back forever: at the LIMITth time
    it is recorded as lost instead (`pegasus l --requeue lost` puts it
    back by hand)."""

    limit = 3
    NAME = "recoveries.json"
    KEEP = 1000   # jobs remembered; the oldest are forgotten first

    def __init__(self, state: StateDir):
        self.state = state
        self.path = state.file(self.NAME)

    def _read(self) -> dict:
        try:
            data = json.loads(self.state.ensure().read(self.NAME) or b"{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def count(self, jobs: List[str]) -> tuple:
        """Count a recovery of each of `jobs`: (to put back, given up)."""
        if not jobs:
            return [], []
        counts = self._read()
        back: List[str] = []
        given_up: List[str] = []
        for job in jobs:
            counts[job] = counts.pop(job, 0) + 1
            (given_up if counts[job] >= self.limit else back).append(job)
        for job in given_up:
            del counts[job]
        for job in list(counts)[:-self.KEEP]:
            del counts[job]
        fd = self.state.ensure().open(self.NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            os.write(fd, json.dumps(counts).encode("utf-8"))
        finally:
            os.close(fd)
        return back, given_up
