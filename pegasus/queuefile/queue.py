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
from typing import Callable, List, Optional, Sequence, Tuple, Union


from .. import canonical, events, yamlfile
from ..errors import SpecError
from ..fsutil import check_writable, open_file, resolve
from ..queuetext import Candidates, append_bottom, insert_top, scan_head, splice
from ..sources import Changed
from ..spec import Job
from ..validate import validate_text
from .appends import Appends, read_bytes
from .inbox import EMPTY, Basis
from .lock import QueueLock
from .journal import Journal, Recoveries, dead_journals
from .outcomes import OutcomeRecord
from .replace import Replacer
from .statedir import StateDir, another_users_queue

LOCK_SUFFIX = ".lock"

# choose(candidates) -> how many of the first candidates to take.
Choose = Callable[[List[Job]], int]


class QueueChanged(Changed):
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
        self._trusted_stat: Optional[tuple] = None   # stat_key of queue.yaml as we last wrote it
        self._lock = QueueLock(self.lock_path, first=self._locked, owned_by=self._not_yours)
        self.appends = Appends(self.path, self.target, self.state, self.replacer,
                               self.notices)

    # --- what is beside the queue ------------------------------------------

    def verify(self) -> None:
        """Refuse now, before anything is read or written beside the queue,
        what pegasus may not use there (fsutil, statedir.py): a state
        directory, lock file or consumed record that is not yours, a link
        of another user's, a state directory open to others. Creates
        nothing; each is judged again as it is opened."""
        self.state.find()
        self._lock.check()
        check_writable(self.consumed_path)

    def _not_yours(self, path: str, uid: int):
        """A second user's refusal (statedir.another_users_queue)."""
        return another_users_queue(path, uid, self.path)

    # --- the lock -------------------------------------------------------

    def try_lock(self) -> bool:
        """Take the lock if it is free; True if taken. The state directory
        is judged first (statedir.py)."""
        self.state.find()
        return self._lock.try_lock()

    def lock(self, timeout: Optional[float] = None) -> None:
        self.state.find()
        self._lock.lock(timeout)

    def unlock(self) -> None:
        self._lock.unlock()

    @contextlib.contextmanager
    def locked(self, timeout=None):
        self.lock(timeout)
        try:
            yield self
        finally:
            self.unlock()

    def _locked(self) -> None:
        """What every holder of the lock does first: settle a replace its
        predecessor died in, then gather what appenders wrote meanwhile."""
        if self.state.find() is not None:
            self.replacer.settle()
            self.gather()

    # --- what appenders wrote to replaced files ------------------------------

    def gather(self) -> None:
        """Move what arrived in replaced queue files to the end of the live
        one (appends.py)."""
        if self.appends.gather():
            self._trusted = self._trusted_stat = None

    def editing(self):
        """An editor is about to open queue.yaml under the lock."""
        return self.appends.editing()

    def edited(self, token) -> None:
        """The editor has exited."""
        self._trusted = self._trusted_stat = None
        self.appends.edited(token)

    # --- reading --------------------------------------------------------

    def _read_bytes(self) -> Tuple[bytes, Optional[os.stat_result]]:
        return read_bytes(self.target, self.path)

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

    def load_locked(self):
        """Read and check queue.yaml as a runner starts (the caller holds the
        lock): what the validator made of it. The file is then known good,
        so that the first take does not check it again."""
        try:
            data, info = self._read_bytes()
        except SpecError:
            info = None
        if info is None:
            self.read()  # says why it cannot be read
            raise SpecError.at(self.path, None, "no such file")
        text = yamlfile.decode(data, self.path)
        del data  # a big queue is not held twice while it is checked
        checked = self.validator(text, self.path)   # its warnings are the caller's to show
        self.left = len(checked)
        self._trusted = hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()
        self._trusted_stat = (info.st_ino, info.st_size, info.st_mtime_ns)
        return checked

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
            (kept.name, inbox.size(kept)) for kept in inbox.all())

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
            del text  # a big queue: not held twice while it is written
        else:
            new_text = "".join([job.canonical() for job in rest] + [
                canonical.dump_values(entry) for entry in entries[items_used:]])
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
        consumed: List[int] = []

        def before(inode, note):
            if self.stat_key() != stat:
                raise QueueChanged()
            consumed.append(self._open_consumed())
            size = os.fstat(consumed[0]).st_size
            note(consumed=[self.consumed_path, size])
            _append_jobs(consumed[0], taken)
            undo.append(lambda: os.ftruncate(consumed[0], size))
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
        finally:
            for fd in consumed:
                os.close(fd)
        self._trusted = None
        self._trusted_stat = self.stat_key()

    def _open_consumed(self) -> int:
        """consumed.yaml, opened to append to: a file of yours (fsutil)."""
        return open_file(self.consumed_path, os.O_RDWR | os.O_APPEND | os.O_CREAT)

    def record_consumed(self, jobs: Sequence[Job]) -> None:
        """Append `jobs` to consumed.yaml and flush them to disk."""
        fd = self._open_consumed()
        try:
            _append_jobs(fd, jobs)
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
            old = "".join(canonical.dump_values(e) for e in entries)
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
        top = self.state.find()
        if top is None:
            return []
        own = self.journal.name if self.journal is not None else None
        recovered = []
        for dead in dead_journals(top, own):
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


def _append_jobs(fd: int, jobs: Sequence[Job]) -> None:
    """Append `jobs` to the consumed record open at `fd`, flushed to disk."""
    data = "".join(job.canonical() for job in jobs).encode("utf-8")
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        data = b"\n" + data
    os.write(fd, data)
    os.fsync(fd)


def _count(candidates: Candidates, choose: Optional[Choose]) -> int:
    if choose is None:
        return len(candidates.jobs)
    return max(0, min(len(candidates.jobs), choose(list(candidates.jobs))))
