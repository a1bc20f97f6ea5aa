"""queue.yaml and its lock: taken from the top, put back to, appended to and
replaced; consumed.yaml, the record of what was taken. The text surgery is
text.py; how a replace is made safe is replace.py.

Every holder of the lock first settles a replace its predecessor died in
(replace.py), then gathers what appenders wrote to replaced files since
(inbox.py) into the live file.

Order of writes for a take, so that a crash at any instant loses no job:
the new queue.yaml is written beside the old and flushed; then, once the
file is known not to have changed meanwhile, the jobs are appended to
consumed.yaml and flushed, and journalled; then, if the file has still not
changed, the new file replaces the old. A take that is abandoned leaves no
record. What an appender wrote to the old file in the last instant is moved
to the new one at once (gather), before the appender's next write lands.
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable, Hashable, Iterator, List, Optional, Sequence, Tuple, Union

from ..engine.sources import Chooser
from ..errors import SpecError
from ..events import notices
from ..fsutil import check_writable, open_file, resolve
from ..spec.jobs import Job
from ..spec.validate import Checked, validate_text
from .appends import Appends
from .editing import EditCopy
from .inbox import EMPTY, Basis
from .journal import Journal, Recoveries
from .lock import QueueLock
from .outcomerecord import OutcomeRecord
from .reading import QueueReader
from .replace import Replacer
from .settle import Unsettled
from .statedir import StateDir, another_users_queue
from .take import TakeSteps
from .recovery import recover
from .text import Candidates, TopJobs, with_items

LOCK_SUFFIX = ".lock"



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
        self.recoveries = Recoveries(self.state)
        self.outcomes = OutcomeRecord(self.state)
        self.notices: List[notices.Notice] = []   # for whoever shows them
        self._lock = QueueLock(self.lock_path, self)
        self.appends = Appends(self.path, self.target, self.state, self.replacer,
                               self.notices)
        self.reader = QueueReader(self.path, self.target, self.validator, self.appends,
                                  self.notices)

    def keep_journal(self, journal: Optional[Journal]) -> None:
        """Record every take in `journal` from now on (crash recovery); None:
        no more."""
        self.journal = journal

    def take_notices(self) -> List[notices.Notice]:
        """The notices about the queue since last asked (for whoever shows
        them). The list is emptied in place: appends.py adds to it too."""
        found = list(self.notices)
        self.notices.clear()
        return found

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

    def not_yours(self, path: str, uid: int) -> Exception:
        """A second user's refusal (statedir.another_users_queue); for the
        lock (lock.Holder)."""
        return another_users_queue(path, uid, self.path)

    def claim(self) -> None:
        """The lock file is the queue owner's to make (lock.Holder)."""
        self.state.claim()

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
    def locked(self, timeout: Optional[float] = None) -> Iterator[QueueFile]:
        self.lock(timeout)
        try:
            yield self
        finally:
            self.unlock()

    def lock_taken(self) -> None:
        """What every holder of the lock does first (lock.Holder): settle a
        replace its predecessor died in, then gather what appenders wrote
        meanwhile."""
        if self.state.find() is not None:
            self.replacer.settle()
            self.gather()

    # --- what appenders wrote to replaced files ------------------------------

    def gather(self) -> None:
        """Move what arrived in replaced queue files to the end of the live
        one (appends.py)."""
        if self.appends.gather():
            self.reader.distrust()

    def edit_copy(self) -> EditCopy:
        """The copy of queue.yaml an editor edits (editing.py); the caller
        holds the lock."""
        return EditCopy(self)

    # --- reading (reading.py) ---------------------------------------------

    @property
    def left(self) -> Optional[int]:
        """Jobs in the queue, as far as known."""
        return self.reader.left

    def read(self) -> str:
        return self.reader.read()

    def check(self, text: str, stat: Optional[tuple] = None) -> None:
        """Validate `text` unless it is known good; raise SpecError."""
        self.reader.check(text, stat)

    def load(self) -> Checked:
        """Read and check queue.yaml as a run starts (reading.py)."""
        return self.reader.load()

    def stat_key(self) -> Optional[tuple]:
        """Changes whenever queue.yaml is rewritten or edited."""
        return self.reader.stat_key()

    def marker(self) -> Hashable:
        """Changes whenever queue.yaml, or a replaced file someone still
        writes to, changes."""
        inbox = self.replacer.inbox
        return self.stat_key(), tuple(
            (kept.name, inbox.size(kept)) for kept in inbox.all())


    @property
    def unsettled(self) -> Optional[Unsettled]:
        """The last entry, if the last look found it still being written."""
        return self.reader.unsettled

    def read_settled(self) -> str:
        """The text of queue.yaml that has settled (reading.py)."""
        return self.reader.read_settled()

    def wait_settled(self) -> None:
        """Wait (a little) for the last entry to settle; the caller holds
        the lock."""
        self.reader.last.wait(self.gather)


    def settled_bytes(self) -> Optional[bytes]:
        """queue.yaml's bytes but an entry still being written at its end."""
        return self.reader.settled_bytes()

    # --- taking ---------------------------------------------------------

    def take_locked(self, limit: int, chooser: Optional[Chooser] = None) -> List[Job]:
        """Take up to `limit` jobs from the top; the caller holds the lock.

        `chooser.choose(candidates)` is offered the first jobs (at most `limit`) and
        says how many of them to take (FIFO: a prefix); by default, all.
        Returns the jobs taken. Raises QueueChanged if someone rewrote the
        file meanwhile without the lock: then nothing was taken.
        """
        text, stat, basis, cut = self.reader.read_checked(taking=True)
        top = TopJobs.of(text, cut, self.path, limit)
        del text
        if top is None:
            return []
        count = _count(top.candidates, chooser)
        if count == 0:
            return []
        taken = top.candidates.jobs[:count]
        new_text = top.rest(count)
        del top  # a big queue: not held twice while it is written
        self._commit(new_text, stat, basis, taken)
        if self.reader.left is not None:
            self.reader.left = max(0, self.reader.left - count)
        # What was appended to the old file between reading it and the swap
        # goes to the new one now, before its writer's next piece does.
        with contextlib.suppress(OSError, SpecError):
            self.gather()
        return taken

    def _commit(self, new_text: str, stat: object, basis: Basis, taken: List[Job]) -> None:
        """Once the new text is on disk and the file is known unchanged:
        consumed.yaml, then the journal, then queue.yaml (take.py). If the
        replace fails, consumed.yaml and the journal are put back as they
        were."""
        steps = TakeSteps(self, stat, taken)
        try:
            data = new_text.encode("utf-8", "surrogateescape")
            self.replacer.replace(data, basis, steps,
                                  own=len(data) - min(self.reader.arrived, len(data)))
        except BaseException:
            steps.undo()
            raise
        finally:
            steps.close()
        self.reader.written(new_text, self.reader.left_out)

    def open_consumed(self) -> int:
        """consumed.yaml, opened to append to: a file of yours (fsutil)."""
        return open_file(self.consumed_path, os.O_RDWR | os.O_APPEND | os.O_CREAT)

    def put_back_locked(self, jobs: Sequence[Union[Job, str]]) -> None:
        """Put `jobs` (Job values, or their canonical YAML) back at the top of
        the queue; the caller holds the lock. For jobs a dead runner never
        finished, and jobs whose host was lost."""
        items = "".join(job if isinstance(job, str) else job.canonical() for job in jobs)
        self.insert_locked(items, top=True)

    def insert_locked(self, items: str, top: bool) -> None:
        """Put `items` (YAML list items at column 0) at the top or the
        bottom of the queue; the caller holds the lock. An entry still
        being written stays last: at the bottom, `items` wait for it to
        settle (wait_settled), or go before it."""
        if not top:
            self.wait_settled()
        text, basis, cut = self._read_for_insert()
        being_written = text[cut:]
        new_text = with_items(text, cut, self.path, items, top)
        left = len(self.validator(new_text[:len(new_text) - len(being_written)], self.path))
        data = new_text.encode("utf-8", "surrogateescape")
        arrived = self.reader.arrived + (0 if top else len(items.encode("utf-8")))
        self.replacer.replace(data, basis, own=len(data) - min(arrived, len(data)))
        self.reader.written(new_text, len(being_written))
        self.reader.left = left

    def _read_for_insert(self) -> Tuple[str, Basis, int]:
        try:
            text, _stat, basis, cut = self.reader.read_checked()
        except SpecError as exc:
            if exc.first.message != "no such file":
                raise
            text, basis, cut = "", EMPTY, 0
            self.reader.nothing_read()
        return text, basis, cut

    def replace_bytes(self, data: bytes, basis: Basis) -> None:
        """Replace queue.yaml, read as `basis`, with `data` (not checked);
        the caller holds the lock."""
        self.replacer.replace(data, basis)
        self.reader.distrust()

    def recover_locked(self) -> List[Tuple[str, int]]:
        """Put back the jobs of dead runners' journals; the caller holds the
        lock. Returns [(owner, number of jobs)] (recovery.py)."""
        return recover(self)


def _count(candidates: Candidates, chooser: Optional[Chooser]) -> int:
    if chooser is None:
        return len(candidates.jobs)
    return max(0, min(len(candidates.jobs), chooser.choose(list(candidates.jobs))))
