"""queue.yaml and its lock: taken from the top, put back to, appended to and
replaced; consumed.yaml, the record of what was taken. The text surgery is
queuetext.py; how a replace is made safe is replace.py.

Every holder of the lock first settles a replace its predecessor died in
(replace.py), then gathers what appenders wrote to replaced files since
(inbox.py) into the live file.

Order of writes for a take, so that a crash at any instant loses no job:
the new queue.yaml is written beside the old and flushed; then, once the
file is known not to have changed meanwhile, the jobs are appended to
consumed.yaml and flushed, and journalled; then the new file replaces the
old. A take that is abandoned leaves no record.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat as stat_module
import threading
import time
from typing import Callable, List, Optional, Sequence, Tuple, Union

import fasteners

from .. import events, yamlfile
from ..errors import LockError, PegasusError, SpecError
from ..fsutil import open_file, resolve
from ..queuetext import Candidates, append_bottom, insert_top, scan_head, splice
from ..spec import Job
from ..validate import validate_text
from .inbox import EMPTY, LIVE, REPLACED, Basis, collect
from .journal import Journal, Recoveries, dead_journals
from .outcomes import OutcomeRecord
from .replace import Replacer
from .statedir import StateDir

LOCK_SUFFIX = ".lock"

# choose(candidates) -> how many of the first candidates to take.
Choose = Callable[[List[Job]], int]


class QueueChanged(Exception):
    """queue.yaml was changed by a writer that does not take the lock (an
    editor, `>>`) while we were taking from it: nothing was taken; try
    again."""


class _Lock(fasteners.InterProcessLock):
    """fasteners' lock, its file opened as pegasus opens what it writes
    (fsutil.open_file: never through another user's symbolic link)."""

    def _do_open(self):
        if self.lockfile is None or self.lockfile.closed:  # type: ignore[has-type]
            fd = open_file(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            self.lockfile = os.fdopen(fd, "a")


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
        self.target = os.path.realpath(resolve(path))
        self.lock_path = self.target + LOCK_SUFFIX
        directory = os.path.dirname(self.target)
        self.consumed_path = consumed_path or os.path.join(directory, "consumed.yaml")
        self.validator = validator or validate_text
        self.journal = journal
        self.state = StateDir(self.target)
        self.replacer = Replacer(self.target, self.state)
        self._recoveries = Recoveries(self.state)
        self._outcomes = OutcomeRecord(self.state)
        self.notices: List[events.Notice] = []   # for whoever shows them
        self.left: Optional[int] = None          # jobs in the queue, as far as known
        self._trusted: Optional[bytes] = None    # digest of the last text known valid
        self._trusted_stat = None                # stat_key of queue.yaml as we last wrote it
        self._lock = _Lock(self.lock_path)

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
        self._locked()
        return True

    def lock(self, timeout: Optional[float] = None) -> None:
        if not self._acquire(blocking=True, timeout=timeout):
            raise PegasusError("timed out waiting for the lock on %s" % self.lock_path)
        self._locked()

    def unlock(self) -> None:
        self._lock.release()

    @contextlib.contextmanager
    def locked(self, timeout=None):
        self.lock(timeout)
        try:
            yield self
        finally:
            self.unlock()

    def _locked(self) -> None:
        """What every holder of the lock does first."""
        try:
            if self.state.exists():
                self.replacer.settle()
                self.gather()
        except BaseException:
            self.unlock()
            raise

    # --- what appenders wrote to replaced files ------------------------------

    def gather(self) -> None:
        """Move what arrived in replaced queue files to the end of the live
        one; save apart any that was rewritten instead (never lost)."""
        inbox = self.replacer.inbox
        live_key = self.stat_key()
        live_inode = live_key[0] if live_key else None
        if all(kept.inode == live_inode for kept in inbox.all()):
            return  # the usual case: nothing kept but the live file
        live, info = self._read_bytes()
        arrivals = collect(inbox, info.st_ino if info else None, live)
        for data in arrivals.rewritten:
            saved = self._save_apart(data)
            self.notices.append(events.QueueRewritten(self.path, saved))
        if arrivals.tails:
            if live and not live.endswith(b"\n"):
                live += b"\n"
            basis = Basis.of(live, info.st_mtime_ns) if info else EMPTY
            self.replacer.replace(live + b"".join(arrivals.tails), basis)
            self._trusted = self._trusted_stat = None

    def _save_apart(self, data: bytes) -> str:
        from ..fsutil import private_directory
        private_directory(self.state.conflicts)
        path = os.path.join(self.state.conflicts, "%s-%d.yaml" % (
            time.strftime("%Y%m%d-%H%M%S"), time.time_ns() % 10 ** 9))
        fd = open_file(path, os.O_WRONLY, exclusive=True)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return path

    # --- reading --------------------------------------------------------

    def _read_bytes(self) -> Tuple[bytes, Optional[os.stat_result]]:
        """queue.yaml's bytes and stat; (b"", None) if there is no file.
        Anything but a regular file is refused (a FIFO would block)."""
        try:
            fd = os.open(self.target, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            return b"", None
        except OSError as exc:
            raise SpecError.at(self.path, None, "cannot be read: %s" % exc.strerror) from None
        try:
            info = os.fstat(fd)
            if not stat_module.S_ISREG(info.st_mode):
                raise SpecError.at(self.path, None, "is not a regular file",
                                   "name the queue file itself with -Q")
            return yamlfile._read_all(fd), info
        finally:
            os.close(fd)

    def read(self) -> str:
        return yamlfile.read_text(self.target, "queue", name=self.path)

    def check(self, text: str, stat=None) -> None:
        """Validate `text` unless it is known good; raise SpecError."""
        if stat is not None and stat == self._trusted_stat:
            return  # the file is as we wrote it
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()
        if digest != self._trusted:
            self.left = len(self.validator(text, self.path))
            self._trusted = digest
            for problem in getattr(self.validator, "take_warnings", list)():
                self.notices.append(events.QueueWarning(str(problem)))
        self._trusted_stat = stat

    def stat_key(self):
        """Changes whenever queue.yaml is rewritten or edited."""
        try:
            st = os.stat(self.target)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def marker(self):
        """Changes whenever queue.yaml, or a replaced file someone still
        writes to, changes."""
        inbox = self.replacer.inbox
        return self.stat_key(), tuple(
            (kept.name, _size(inbox.file(kept))) for kept in inbox.all())

    def _read_checked(self) -> Tuple[str, tuple, Basis]:
        data, info = self._read_bytes()
        if info is None:
            yamlfile.read_text(self.target, "queue", name=self.path)  # says why
            raise SpecError.at(self.path, None, "no such file")
        stat = (info.st_ino, info.st_size, info.st_mtime_ns)
        text = yamlfile.decode(data, self.path)
        self.check(text, stat)
        basis = Basis.of(data, info.st_mtime_ns)
        kept = self.replacer.inbox.find(info.st_ino)
        if kept is not None and kept.basis != basis:
            # What is in the live file now has been seen: if an editor
            # renames a new file over it, only what arrives later is new.
            self.replacer.inbox.account(kept, basis)
        return text, stat, basis

    # --- taking ---------------------------------------------------------

    def take_locked(self, limit: int, choose: Optional[Choose] = None) -> List[Job]:
        """Take up to `limit` jobs from the top; the caller holds the lock.

        `choose(candidates)` is offered the first jobs (at most `limit`) and
        says how many of them to take (FIFO: a prefix); by default, all.
        Returns the jobs taken. Raises QueueChanged if someone rewrote the
        file meanwhile without the lock: then nothing was taken.
        """
        text, stat, basis = self._read_checked()
        head = scan_head(text, self.path, limit)
        if head.simple:
            candidates = Candidates([item.entry for item in head.items], limit)
        else:  # a flow-style list or anchors: rewritten whole, in canonical form
            entries = yamlfile.entries(yamlfile.compose(text, self.path), self.path, "command")
            candidates = Candidates(entries, limit)
        count = _count(candidates, choose)
        if count == 0:
            return []
        items_used, rest = candidates.split(count)
        if head.simple:
            new_text = splice(text, head, items_used, rest)
        else:
            new_text = "".join([job.canonical() for job in rest] + [
                yamlfile.dump_values(entry) for entry in entries[items_used:]])
        taken = candidates.jobs[:count]
        self._commit(new_text, stat, basis, taken)
        if self.left is not None:
            self.left = max(0, self.left - count)
        return taken

    def _commit(self, new_text: str, stat, basis: Basis, taken: List[Job]) -> None:
        """Once the new text is on disk and the file is known unchanged:
        consumed.yaml, then the journal, then queue.yaml. If the replace
        fails, consumed.yaml and the journal are put back as they were."""
        journal = self.journal
        undo: List[Callable[[], None]] = []
        txn: List[int] = []

        def before(inode, note):
            if self.stat_key() != stat:
                raise QueueChanged()
            size = _size(self.consumed_path)
            note(consumed=[self.consumed_path, size])
            self.record_consumed(taken)
            undo.append(lambda: os.truncate(self.consumed_path, size))
            if journal is not None:
                for job in taken:
                    job.ticket = journal.new_ticket()
                txn.append(journal.begin(taken))
                note(journal=journal.path, txn=txn[0])
                undo.append(lambda: journal.abort(txn[0]))

        swapped: List[bool] = []

        def after():
            swapped.append(True)   # taken: from here on nothing is undone
            if journal is not None:
                journal.commit(txn[0])

        try:
            self.replacer.replace(new_text.encode("utf-8", "surrogateescape"), basis, before,
                                  after)
        except BaseException:
            if not swapped:
                for step in reversed(undo):
                    with contextlib.suppress(OSError):
                        step()
            raise
        self._trusted = None
        self._trusted_stat = self.stat_key()

    def record_consumed(self, jobs: Sequence[Job]) -> None:
        """Append `jobs` to consumed.yaml and flush them to disk."""
        data = "".join(job.canonical() for job in jobs).encode("utf-8")
        fd = open_file(self.consumed_path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

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
            text, _stat, basis = self._read_checked()
        except SpecError as exc:
            if exc.first.message != "no such file":
                raise
            text, basis = "", EMPTY
        head = scan_head(text, self.path, 1)
        if not head.simple:
            entries = yamlfile.entries(yamlfile.compose(text, self.path), self.path, "command")
            old = "".join(yamlfile.dump_values(e) for e in entries)
            new_text = items + old if top else old + items
        elif top or head.empty_flow is not None:
            new_text = insert_top(text, head, items)
        else:
            new_text = append_bottom(text, head, items)
        left = len(self.validator(new_text, self.path))
        self._replace(new_text.encode("utf-8", "surrogateescape"), basis)
        self.left = left

    def replace(self, new_text: str) -> None:
        """Replace queue.yaml with `new_text` (the caller holds the lock)."""
        data, info = self._read_bytes()
        self._replace(new_text.encode("utf-8", "surrogateescape"),
                      Basis.of(data, info.st_mtime_ns) if info else EMPTY)

    def _replace(self, data: bytes, basis: Basis) -> None:
        self.replacer.replace(data, basis)
        self._trusted = None
        self._trusted_stat = self.stat_key()

    def editing(self) -> Optional[Tuple[int, Basis]]:
        """An editor is about to open queue.yaml under the lock: the live
        file is kept, with what the editor reads accounted for, so that
        what appenders write to it meanwhile is not lost if the editor
        renames a new file over it (`edited`)."""
        data, info = self._read_bytes()
        if info is None:
            return None
        basis = Basis.of(data, info.st_mtime_ns)
        self.state.ensure()
        self.replacer.inbox.keep(self.target, info.st_ino, basis, LIVE)
        return info.st_ino, basis

    def edited(self, token: Optional[Tuple[int, Basis]]) -> None:
        """The editor has exited: gather what arrived in the file it read,
        if it is no longer queue.yaml."""
        self._trusted = self._trusted_stat = None
        if token is None:
            return
        inode, basis = token
        kept = self.replacer.inbox.find(inode)
        live = self.stat_key()
        if kept is not None and (live is None or live[0] != inode):
            self.replacer.inbox.account(kept, basis, REPLACED)
        self.gather()

    def restore(self, data: Optional[bytes]) -> None:
        """Put back queue.yaml's bytes as they were (None: there was no
        file); the caller holds the lock."""
        if data is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.target)
        else:
            self.replace(data.decode("utf-8", "surrogateescape"))
        self._trusted = self._trusted_stat = None

    def recover_locked(self) -> List[Tuple[str, int]]:
        """Put back the jobs of dead runners' journals; the caller holds the
        lock. Returns [(owner, number of jobs)]."""
        if not self.state.exists():
            return []
        own = self.journal.path if self.journal is not None else None
        recovered = []
        for dead in dead_journals(self.state.path, own):
            try:
                back, given_up = self._recoveries.count(dead.jobs)
                if back:
                    self.put_back_locked(back)
                    recovered.append((dead.owner, len(back)))
                for job in given_up:
                    self._outcomes.given_up(job, dead.owner, self._recoveries.limit)
                    self.notices.append(events.JobGivenUp(self.path, job,
                                                          self._recoveries.limit))
            except BaseException:
                dead.release()
                raise
            dead.remove()
        return recovered


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _count(candidates: Candidates, choose: Optional[Choose]) -> int:
    if choose is None:
        return len(candidates.jobs)
    return max(0, min(len(candidates.jobs), choose(list(candidates.jobs))))
