"""When the live queue.yaml's last entry is complete.

People and programs write an entry in pieces: a shell script's several
`echo ... >> queue.yaml`, a program that writes a block scalar a line at a
time, a buffered writer whose write() ends mid-line. Nothing in the file
says when the last entry is whole, so pegasus waits until it has settled:

- nothing in it has changed for SETTLE seconds: the file was not modified
  for that long, or this process has seen the entry unchanged for that
  long (the time pegasus itself rewrote the file at does not count), and
- if the file ends inside a line (no newline yet), or a line is still
  unfinished in a replaced file kept for its writer (inbox.py), nobody has
  those files open for writing any more: such a line may wait for its
  writer without limit. Where this cannot be told (no leases: NFS), the
  settle time alone decides.

Until then the last entry is not part of the queue: it is not taken, not
validated (a half-written entry is not a broken queue) and not counted.
The entries before it are taken as usual -- if the whole file parses: a bad
last entry is reported, once it has settled, before anything is taken
(queue.py). (A file server whose clock runs seconds behind this machine's
makes the file look older than it is, and may let an entry settle early.)
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Callable, NamedTuple, Optional, Tuple

from ..errors import SpecError
from ..spec import yamlfile
from .appends import Appends, read_bytes
from .text import last_entry_start

# Pieces of one entry written up to half a second apart make one job; an
# entry written at once starts this long after it was written.
SETTLE = 0.75
# How often to look again at a last line that waits for its writer.
RECHECK = 0.5
# What waits for the last entry to settle (`pegasus l`) waits at most this
# long for a writer that keeps adding to it.
WAIT_AT_MOST = 4 * SETTLE


class Unsettled(NamedTuple):
    """The last entry is still being written."""

    cut: int         # the text before this offset has settled
    retry: float     # seconds after which it is worth looking again
    held: bool       # it waits for a writer to finish its last line (no time limit)


class Settle:
    """The settle rule for one queue file, remembering the last entry it
    saw and since when it has not changed."""

    def __init__(self) -> None:
        self._key: Optional[bytes] = None
        self._since = 0.0
        self._settled = False   # what the last check found

    def check(self, text: str, mtime_ns: int, open_line: Callable[[], bool],
              writing: Callable[[], Optional[bool]]) -> Optional[Unsettled]:
        """None if all of `text` (the live file, modified at `mtime_ns`)
        has settled. `open_line()`: whether a line is still unfinished
        (here or in a kept file); `writing()`: whether someone has the
        files open for writing (None: cannot tell)."""
        found = self._check(text, mtime_ns, open_line, writing)
        self._settled = found is None
        return found

    def _check(self, text: str, mtime_ns: int, open_line: Callable[[], bool],
               writing: Callable[[], Optional[bool]]) -> Optional[Unsettled]:
        start = last_entry_start(text)
        if start is None:
            return None
        key = _key(text[start:])
        now = time.monotonic()
        if key != self._key:
            self._key, self._since = key, now
        quiet = max(now - self._since, time.time() - mtime_ns / 1e9)
        if quiet < SETTLE:
            return Unsettled(start, SETTLE - quiet, False)
        if open_line() and writing():
            return Unsettled(start, RECHECK, True)
        return None

    def written(self, text: str) -> None:
        """pegasus itself made `text` the live file's (the rest of a taken
        entry written back, entries put back or added): its last entry is
        as settled as it was -- not written anew by anyone."""
        start = last_entry_start(text)
        if self._settled and start is not None:
            self._key, self._since = _key(text[start:]), -math.inf


def _key(tail: str) -> bytes:
    return hashlib.sha1(tail.encode("utf-8", "surrogatepass")).digest()


class LastEntry:
    """The settle rule applied to one live queue file, as its runner or
    `pegasus l` reads it."""

    def __init__(self, target: str, name: str, appends: Appends):
        self.target = target
        self.name = name
        self.appends = appends
        self.settle = Settle()
        self.unsettled: Optional[Unsettled] = None  # what the last look found

    def decode(self, data: bytes, mtime_ns: int) -> Tuple[str, int]:
        """The text of the live file's `data`, and how much of it has
        settled. A character cut short at the end is part of a line still
        being written; if it has settled so, it is not UTF-8 (SpecError)."""
        text = yamlfile.decode(data, self.name, open_end=True)
        self.unsettled = self.settle.check(
            text, mtime_ns, lambda: (bool(text) and not text.endswith("\n"))
            or self.appends.unfinished(), self.appends.writing)
        cut = len(text) if self.unsettled is None else self.unsettled.cut
        if cut == len(text) and yamlfile.cut_character(text):
            yamlfile.decode(data, self.name)  # nobody finishes it: says where
        return text, cut

    def settled_bytes(self) -> Optional[bytes]:
        """The live file's bytes up to an entry still being written at its
        end (all of them if there is none, or the text is not UTF-8); None
        if there is no file."""
        data, info = read_bytes(self.target, self.name)
        if info is None:
            return None
        try:
            text, cut = self.decode(data, info.st_mtime_ns)
        except SpecError:
            return data
        return data[:len(data) - len(text[cut:].encode("utf-8", "surrogateescape"))]

    def wait(self, gather: Callable[[], None]) -> None:
        """Wait while the last entry is still being written, as long as it
        is a matter of the settle time (at most WAIT_AT_MOST), not for a
        writer that keeps a line open; the caller holds the queue lock and
        `gather()` moves what arrived in kept files meanwhile."""
        waited = 0.0
        while waited < WAIT_AT_MOST:
            data, info = read_bytes(self.target, self.name)
            if info is None:
                return
            try:
                self.decode(data, info.st_mtime_ns)
            except SpecError:
                return
            if self.unsettled is None or self.unsettled.held:
                return
            time.sleep(self.unsettled.retry)
            waited += self.unsettled.retry
            gather()
