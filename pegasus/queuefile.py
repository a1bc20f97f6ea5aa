"""The live queue: queue.yaml under its lock, taken from the top, put back
to, appended to and replaced; consumed.yaml, the record of what was taken;
and this runner's journal. This module alone writes those files (the text
surgery itself is queuetext.py; the journal's format is journal.py).

Order of writes for a take, so that a crash at any instant loses no job:
the new queue.yaml is written beside the old and flushed; then, once the
file is known not to have changed meanwhile, the jobs are appended to
consumed.yaml and flushed, and journalled; then the new file replaces the
old atomically (rename). A take that is abandoned leaves no record.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from typing import Callable, List, Optional, Sequence, Tuple, Union

import fasteners

from . import yamlfile
from .errors import LockError, PegasusError, SpecError
from .journal import PENDING, Journal, dead_journals, resolve_pending, sidecar_directory
from .queuetext import Candidates, append_bottom, insert_top, scan_head, splice
from .sources import Busy, QueueSource
from .spec import Job
from .validate import validate_text

LOCK_SUFFIX = ".lock"

# choose(candidates) -> how many of the first candidates to take.
Choose = Callable[[List[Job]], int]


def _digest(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()


class QueueChanged(Exception):
    """queue.yaml was changed by a writer that does not take the lock (an
    editor, `>>`) while we were taking from it: nothing was taken; try
    again."""


class QueueFile:
    """queue.yaml, its lock, and consumed.yaml.

    `validator(text, path)` checks a whole text as a runner would (parse,
    shapes, templates) and raises SpecError; it runs only when the text is
    not one this object wrote or checked itself. With a `journal`, every
    take is recorded there for crash recovery (see journal.py).
    """

    def __init__(self, path: str, consumed_path: Optional[str] = None,
                 validator: Optional[Callable] = None, journal: Optional[Journal] = None):
        self.path = path
        self.target = os.path.realpath(path)
        self.lock_path = self.target + LOCK_SUFFIX
        directory = os.path.dirname(self.target)
        self.consumed_path = consumed_path or os.path.join(directory, "consumed.yaml")
        self.validator = validator or validate_text
        self.journal = journal
        self.sidecar = sidecar_directory(self.target)
        self._trusted: Optional[bytes] = None   # digest of the last text known valid
        self._trusted_stat = None               # stat_key of queue.yaml as we last wrote it
        self._lock = fasteners.InterProcessLock(self.lock_path)

    # --- the lock -------------------------------------------------------

    def _acquire(self, blocking: bool, timeout: Optional[float] = None) -> bool:
        try:
            return self._lock.acquire(blocking=blocking, timeout=timeout)
        except threading.ThreadError as exc:  # fasteners: any error but "held"
            raise LockError(self.lock_path, str(exc.__context__ or exc)) from None
        except OSError as exc:  # opening the lock file
            raise LockError(self.lock_path, exc.strerror or str(exc)) from None

    def try_lock(self) -> bool:
        """Take the lock if it is free; True if taken."""
        if not self._acquire(blocking=False):
            return False
        self._settle()
        return True

    def lock(self, timeout: Optional[float] = None) -> None:
        if not self._acquire(blocking=True, timeout=timeout):
            raise PegasusError("timed out waiting for the lock on %s" % self.lock_path)
        self._settle()

    def unlock(self) -> None:
        self._lock.release()

    @contextlib.contextmanager
    def locked(self, timeout=None):
        self.lock(timeout)
        try:
            yield self
        finally:
            self.unlock()

    def _settle(self):
        """Every lock holder first settles the take of a writer that died
        holding the lock (journal.py); usually there is none."""
        try:
            if os.stat(os.path.join(self.sidecar, PENDING)).st_size == 0:
                return
        except FileNotFoundError:
            return
        resolve_pending(self.sidecar, self.stat_key())

    # --- reading --------------------------------------------------------

    def read(self) -> str:
        return yamlfile.read_text(self.target, "queue", name=self.path)

    def check(self, text: str, stat=None) -> None:
        """Validate `text` unless it is known good; raise SpecError."""
        if stat is not None and stat == self._trusted_stat:
            return  # the file is as we wrote it
        digest = _digest(text)
        if digest != self._trusted:
            self.validator(text, self.path)
            self._trusted = digest
        self._trusted_stat = stat

    def stat_key(self):
        """Changes whenever queue.yaml is rewritten or edited."""
        try:
            st = os.stat(self.target)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _read_checked(self):
        stat = self.stat_key()
        text = self.read()
        self.check(text, stat)
        return text, stat

    # --- taking ---------------------------------------------------------

    def take_locked(self, limit: int, choose: Optional[Choose] = None) -> List[Job]:
        """Take up to `limit` jobs from the top; the caller holds the lock.

        `choose(candidates)` is offered the first jobs (at most `limit`) and
        says how many of them to take (FIFO: a prefix); by default, all.
        Returns the jobs taken. Raises QueueChanged if someone rewrote the
        file meanwhile without the lock: then nothing was taken.
        """
        text, stat = self._read_checked()
        head = scan_head(text, self.path, limit)
        if not head.simple:
            return self._take_rewriting(text, stat, limit, choose)
        candidates = Candidates([item.entry for item in head.items], limit)
        count = _count(candidates, choose)
        if count == 0:
            return []
        items_used, rest = candidates.split(count)
        taken = candidates.jobs[:count]
        self._commit(splice(text, head, items_used, rest), stat, taken)
        return taken

    def _take_rewriting(self, text, stat, limit, choose):
        """Take from a file that cannot be edited in place: rewrite it whole,
        in canonical form (comments are lost; this happens only for
        flow-style lists and anchors)."""
        entries = yamlfile.entries(yamlfile.compose(text, self.path), self.path, "command")
        candidates = Candidates(entries, limit)
        count = _count(candidates, choose)
        if count == 0:
            return []
        items_used, rest = candidates.split(count)
        remaining = [job.canonical() for job in rest]
        remaining += [yamlfile.dump_values(entry) for entry in entries[items_used:]]
        taken = candidates.jobs[:count]
        self._commit("".join(remaining), stat, taken)
        return taken

    def _commit(self, new_text: str, stat, taken: List[Job]) -> None:
        """Once the new text is on disk and the file is known unchanged:
        consumed.yaml, then the journal, then queue.yaml. If the replace
        fails, consumed.yaml and the journal are put back as they were."""
        journal = self.journal
        undo: List[Callable[[], None]] = []
        commit: List[Callable[[], None]] = []

        def before_rename(temporary, inode):
            if self.stat_key() != stat:
                raise QueueChanged()
            undo.append(self.record_consumed(taken))
            if journal is not None:
                for job in taken:
                    job.ticket = journal.new_ticket()
                txn = journal.begin(taken, inode, temporary)
                undo.append(lambda: journal.abort(txn))
                commit.append(lambda: journal.commit(txn))

        try:
            atomic_write(self.target, new_text, before_rename)
        except BaseException:
            for step in reversed(undo):
                with contextlib.suppress(OSError):
                    step()
            raise
        for step in commit:
            step()
        self._trusted = None
        self._trusted_stat = self.stat_key()

    def record_consumed(self, jobs: Sequence[Job]) -> Callable[[], None]:
        """Append `jobs` to consumed.yaml and flush them to disk; returns
        what takes the record back (for a take that then fails)."""
        data = "".join(job.canonical() for job in jobs).encode("utf-8")
        fd = os.open(self.consumed_path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                     0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return lambda: os.truncate(self.consumed_path, size)

    # --- putting back, appending, replacing ----------------------------------

    def put_back_locked(self, jobs: Sequence[Union[Job, str]]) -> None:
        """Put `jobs` (Job values, or their canonical YAML) back at the top of
        the queue; the caller holds the lock. For jobs a dead runner never
        finished, and jobs whose host was lost."""
        items = "".join(job if isinstance(job, str) else job.canonical() for job in jobs)
        self.insert_locked(items, top=True)

    def insert_locked(self, items: str, top: bool) -> None:
        """Put `items` (YAML list items at column 0) at the top or the
        bottom of the queue; the caller holds the lock."""
        try:
            text, _stat = self._read_checked()
        except SpecError as exc:
            if exc.first.message != "no such file":
                raise
            text = ""
        head = scan_head(text, self.path, 1)
        if not head.simple:
            entries = yamlfile.entries(yamlfile.compose(text, self.path), self.path, "command")
            old = "".join(yamlfile.dump_values(e) for e in entries)
            new_text = items + old if top else old + items
        elif top or head.empty_flow is not None:
            new_text = insert_top(text, head, items)
        else:
            new_text = append_bottom(text, head, items)
        self.validator(new_text, self.path)
        self.replace(new_text)

    def replace(self, new_text: str) -> None:
        """Replace queue.yaml atomically with `new_text` (the caller holds
        the lock)."""
        atomic_write(self.target, new_text)
        self._trusted = None
        self._trusted_stat = self.stat_key()

    def restore(self, data: Optional[bytes]) -> None:
        """Put back queue.yaml's bytes as they were (None: there was no
        file); the caller holds the lock."""
        if data is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.target)
        else:
            atomic_write(self.target, data.decode("utf-8", "surrogateescape"))
        self._trusted = self._trusted_stat = None

    def recover_locked(self) -> List[Tuple[str, int]]:
        """Put back the jobs of dead runners' journals; the caller holds the
        lock. Returns [(owner, number of jobs)]."""
        own = self.journal.path if self.journal is not None else None
        recovered = []
        for dead in dead_journals(self.sidecar, own):
            try:
                if dead.jobs:
                    self.put_back_locked(dead.jobs)
                    recovered.append((dead.owner, len(dead.jobs)))
            except BaseException:
                dead.release()
                raise
            dead.remove()
        return recovered


def _count(candidates: Candidates, choose: Optional[Choose]) -> int:
    if choose is None:
        return len(candidates.jobs)
    return max(0, min(len(candidates.jobs), choose(list(candidates.jobs))))


class LiveQueue(QueueSource):
    """The queue source of a runner: queue.yaml, locked for each visit, with
    this runner's journal (crash recovery) beside it."""

    def __init__(self, queue: QueueFile):
        self.queue = queue
        self.name = queue.path
        self.journal: Optional[Journal] = None

    def start(self):
        try:
            self.journal = Journal(self.queue.target)
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

    def marker(self):
        return self.queue.stat_key()

    def close(self, clean):
        self.queue.journal = None
        if clean and self.journal is not None:
            self.journal.close()  # every job it took has ended


def atomic_write(target: str, text: str, before_rename: Optional[Callable] = None) -> None:
    """Write `text` to `target` so that a crash leaves the old or the new
    file, never a torn one: temporary file beside it, fsync, rename. The
    file keeps its permissions.

    The directory is not fsynced: it costs as much as the other two fsyncs
    of a take together on a busy machine, and after a power loss that undoes
    the rename, the old file -- still valid, still holding the jobs -- is
    what remains: they may run twice, none is lost.

    `before_rename(temporary, inode)` runs between the fsync and the rename
    (the journal notes the inode that will be queue.yaml's if the rename
    happens); if it raises, nothing is replaced.
    """
    directory = os.path.dirname(target) or "."
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    fd, temporary = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".",
                                     suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
            inode = os.fstat(stream.fileno()).st_ino
        if before_rename is not None:
            before_rename(temporary, inode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
