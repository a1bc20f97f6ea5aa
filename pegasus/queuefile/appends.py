"""Gathering what appenders wrote to replaced queue files (inbox.py keeps
them) into the live queue.yaml, at every visit under the lock."""

from __future__ import annotations

import os
import stat
import time
from typing import Callable, List, Optional, Tuple

from ..errors import SpecError
from ..events import notices
from ..fsutil import read_all
from .inbox import EMPTY, Basis, Kept, collect, unfinished, writing
from .replace import Replacer
from .statedir import StateDir


def read_bytes(target: str, name: str) -> Tuple[bytes, Optional[os.stat_result]]:
    """The queue file's bytes and stat; (b"", None) if there is no file.
    Anything but a regular file is refused (a FIFO would block)."""
    try:
        fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return b"", None
    except OSError as exc:
        raise SpecError.at(name, None, "cannot be read: %s" % exc.strerror) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SpecError.at(name, None, "is not a regular file",
                               "name the queue file itself with -Q")
        return read_all(fd), info
    finally:
        os.close(fd)


class Appends:
    """The kept files of one queue, and what arrives in them."""

    def __init__(self, name: str, target: str, state: StateDir, replacer: Replacer,
                 notices: List[notices.Notice]):
        self.name = name
        self.target = target
        self.state = state
        self.replacer = replacer
        self.inbox = replacer.inbox
        self.notices = notices

    def gather(self) -> bool:
        """Move what arrived in replaced queue files to the end of the live
        one; save apart any that was rewritten instead (never lost). True if
        queue.yaml changed."""
        try:
            live_inode: Optional[int] = os.stat(self.target).st_ino
        except OSError:
            live_inode = None
        if all(kept.inode == live_inode for kept in self.inbox.all()):
            return False  # the usual case: nothing kept but the live file
        read: List[Tuple[bytes, Optional[os.stat_result]]] = []

        def live() -> bytes:
            if not read:
                read.append(read_bytes(self.target, self.name))
            return read[0][0]

        arrivals = collect(self.inbox, live_inode, live)
        for data in arrivals.rewritten:
            self.notices.append(notices.QueueRewritten(self.name, self.save_apart(data)))
        if not arrivals.tails:
            return False
        old = live()
        info = read[0][1]
        new = old
        for arrival in arrivals.tails:
            if not (arrival.unfinished and new.endswith(arrival.unfinished)):
                if new and not new.endswith(b"\n"):
                    new += b"\n"
            # else: its writer goes on with the line it left unfinished
            new += arrival.data
        basis = Basis.of(old, info.st_mtime_ns) if info else EMPTY
        self.replacer.replace(new, basis, own=len(old) - self.arrived(old, info))
        return True

    def arrived(self, data: bytes, info: Optional[os.stat_result]) -> int:
        """How much of the end of the live file (`data`) is not of
        pegasus's making: appends, and what pegasus moved in from kept
        files (inbox.py). Carried from file to file until it is taken, so
        that an editor renaming a stale version over the queue loses none
        of it."""
        kept = self.inbox.find(info.st_ino) if info is not None else None
        if kept is None or len(data) < kept.basis.size:
            return 0  # a file of someone else's making: theirs
        return len(data) - kept.basis.size

    def _live_inode(self) -> Optional[int]:
        try:
            return os.stat(self.target).st_ino
        except OSError:
            return None

    def unfinished(self) -> bool:
        """Whether a line is still unfinished in a kept file (its writer
        has not written its newline yet), after a visit gathered the rest."""
        return unfinished(self.inbox, self._live_inode())

    def writing(self) -> Optional[bool]:
        """Whether anyone has queue.yaml, or a kept file, open for writing
        (None: cannot be told)."""
        live_inode = self._live_inode()
        def live() -> int:
            return os.open(self.target, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)

        def kept_file(kept: Kept) -> Callable[[], int]:
            return lambda: self.inbox.open(kept)

        return writing([live] + [kept_file(kept) for kept in self.inbox.all()
                                 if kept.inode != live_inode])

    def save_apart(self, data: bytes) -> str:
        """Save `data` under the state directory's conflicts/, in a new file
        of its own; its path."""
        conflicts = self.state.conflicts(create=True)
        assert conflicts is not None
        name = "%s-%d.yaml" % (time.strftime("%Y%m%d-%H%M%S"), time.time_ns() % 10 ** 9)
        fd = conflicts.open(name, os.O_WRONLY, exclusive=True)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return conflicts.file(name)
