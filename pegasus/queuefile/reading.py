"""What queue.yaml holds, read and checked once: a text this runner wrote
or checked is known good (by its digest, or by its stat as written) and
not checked again; the last entry, while it is still being written, is
left out (settle.py)."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any, Callable, List, Optional, Tuple

from ..errors import SpecError
from ..events import notices
from ..spec import yamlfile
from .appends import Appends, read_bytes
from .inbox import Basis
from .settle import WAIT_AT_MOST, LastEntry, Unsettled


class QueueReader:
    """queue.yaml as read and checked by one QueueFile. `validator(text,
    path)` checks a whole text as a runner would and raises SpecError;
    its warnings go to `notices`."""

    def __init__(self, path: str, target: str, validator: Callable, appends: Appends,
                 notices_: List[notices.Notice]):
        self.path = path
        self.target = target
        self.validator = validator
        self.appends = appends
        self.notices = notices_
        self.left: Optional[int] = None          # jobs in the queue, as far as known
        self._trusted: Optional[bytes] = None    # digest of the last text known valid
        self._trusted_stat: Optional[tuple] = None  # (stat_key, end left out) as we wrote it
        self.left_out = 0                        # the end of the text last read, not checked
        self.arrived = 0                         # ... of which this much was appended to it
        self.last = LastEntry(target, path, appends)

    def distrust(self) -> None:
        """queue.yaml changed in a way not known to be valid: check it again."""
        self._trusted = self._trusted_stat = None

    def written(self, new_text: str, left_out: int) -> None:
        """queue.yaml is now `new_text`, made by us, valid but (maybe) for
        the last `left_out` characters (an entry still being written)."""
        self._trusted = None
        self._trusted_stat = (self.stat_key(), left_out)
        self.last.settle.written(new_text)

    def nothing_read(self) -> None:
        """There is no queue.yaml: nothing settles, nothing arrived."""
        self.last.unsettled = None
        self.arrived = 0


    def read_bytes(self) -> Tuple[bytes, Optional[os.stat_result]]:
        return read_bytes(self.target, self.path)

    def read(self) -> str:
        return yamlfile.read_text(self.target, "queue", name=self.path)

    def check(self, text: str, stat: Optional[tuple] = None) -> None:
        """Validate `text` unless it is known good; raise SpecError. `stat`:
        which file, and how much of its end is left out, `text` is of."""
        if stat is not None and stat == self._trusted_stat:
            return  # the file is as we wrote it
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()
        if digest != self._trusted:
            self.left = len(self.validator(text, self.path))
            self._trusted = digest
            for problem in getattr(self.validator, "take_warnings", list)():
                self.notices.append(notices.QueueWarning(str(problem)))
        self._trusted_stat = stat

    def load(self) -> Any:
        """Read and check queue.yaml as a run starts (a runner holds the lock;
        a dry run need not): what the validator made of it. If it does not
        pass while its last entry is still being written (settle.py), that
        entry is awaited for a moment, or left out while it waits for its
        writer: a half-written entry is not bad input -- but a bad one is,
        before anything is taken. What was checked is then known good, so
        that the first take does not check it again."""
        deadline = time.monotonic() + WAIT_AT_MOST
        while True:
            try:
                return self._load(settled_only=False)
            except SpecError as exc:
                problem = exc
            coming = self.unsettled
            if coming is None:
                raise problem
            if coming.held or time.monotonic() >= deadline:
                return self._load(settled_only=True)
            time.sleep(coming.retry)

    def _load(self, settled_only: bool) -> Any:
        try:
            data, info = self.read_bytes()
        except SpecError:
            info = None   # not a regular file: read() says what it is
        if info is None:
            self.read()  # says why it cannot be read
            raise SpecError.at(self.path, None, "no such file")
        text, cut = self.last.decode(data, info.st_mtime_ns)
        del data  # a big queue is not held twice while it is checked
        left_out = len(text) - cut if settled_only else 0
        if left_out:
            text = text[:cut]
        checked = self.validator(text, self.path)   # its warnings are the caller's to show
        self.left = len(checked)
        self._trusted = hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()
        self._trusted_stat = ((info.st_ino, info.st_size, info.st_mtime_ns), left_out)
        return checked

    def stat_key(self) -> Optional[Tuple[int, int, int]]:
        """Changes whenever queue.yaml is rewritten or edited."""
        try:
            st = os.stat(self.target)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    @property
    def unsettled(self) -> Optional[Unsettled]:
        """The last entry, if the last look found it still being written."""
        return self.last.unsettled

    def read_settled(self) -> str:
        """The text of queue.yaml that has settled: all of it, or all but
        its last entry while that is still being written."""
        data, info = self.read_bytes()
        if info is None:
            return self.read()  # says why there is no file
        text, cut = self.last.decode(data, info.st_mtime_ns)
        return text[:cut]

    def settled_bytes(self) -> Optional[bytes]:
        """queue.yaml's bytes but an entry still being written at its end."""
        return self.last.settled_bytes()

    def read_checked(self, taking: bool = False) -> Tuple[str, tuple, Basis, int]:
        """The live text, its stat and basis, and how much of it has
        settled; what has settled is checked. `taking`: while the last entry
        may still be on its way, the whole text is checked, and if it does
        not pass (the entry is half-written, or bad), nothing has settled
        yet: nothing is taken from a queue that may be invalid, and nobody
        is told of a half-written entry."""
        data, info = self.read_bytes()
        if info is None:
            yamlfile.read_text(self.target, "queue", name=self.path)  # says why
            raise SpecError.at(self.path, None, "no such file")
        stat = (info.st_ino, info.st_size, info.st_mtime_ns)
        text, cut = self.last.decode(data, info.st_mtime_ns)
        self.left_out = len(text) - cut   # the end of the text not checked
        if taking and self.unsettled is not None and not self.unsettled.held:
            self.left_out = 0
            try:
                if yamlfile.cut_character(text):
                    raise SpecError.at(self.path, None, "ends inside a character")
                self.check(text, (stat, 0))
            except SpecError:
                cut = 0
        else:
            self.check(text[:cut], (stat, self.left_out))
        basis = Basis.of(data, info.st_mtime_ns)
        self.arrived = self.appends.arrived(data, info)
        return text, stat, basis, cut
