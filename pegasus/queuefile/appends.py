"""Gathering what appenders wrote to replaced queue files (inbox.py keeps
them) into the live queue.yaml, at every visit under the lock; and the
same around an editor that `pegasus l` runs."""

from __future__ import annotations

import os
import stat
import time
from typing import List, Optional, Tuple

from .. import events, yamlfile
from ..errors import SpecError
from .inbox import EMPTY, LIVE, REPLACED, Basis, collect
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
        return yamlfile._read_all(fd), info
    finally:
        os.close(fd)


class Appends:
    """The kept files of one queue, and what arrives in them."""

    def __init__(self, name: str, target: str, state: StateDir, replacer: Replacer,
                 notices: List[events.Notice]):
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
        live, info = read_bytes(self.target, self.name)
        arrivals = collect(self.inbox, info.st_ino if info else None, live)
        for data in arrivals.rewritten:
            self.notices.append(events.QueueRewritten(self.name, self._save_apart(data)))
        if not arrivals.tails:
            return False
        if live and not live.endswith(b"\n"):
            live += b"\n"
        basis = Basis.of(live, info.st_mtime_ns) if info else EMPTY
        self.replacer.replace(live + b"".join(arrivals.tails), basis)
        return True

    def _save_apart(self, data: bytes) -> str:
        conflicts = self.state.conflicts(create=True)
        assert conflicts is not None
        name = "%s-%d.yaml" % (time.strftime("%Y%m%d-%H%M%S"), time.time_ns() % 10 ** 9)
        fd = conflicts.open(name, os.O_WRONLY, exclusive=True)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return conflicts.file(name)

    def editing(self) -> Optional[Tuple[int, Basis]]:
        """An editor is about to open queue.yaml under the lock: the live
        file is kept, with what the editor reads accounted for, so that
        what appenders write to it meanwhile is not lost if the editor
        renames a new file over it (`edited`)."""
        data, info = read_bytes(self.target, self.name)
        if info is None:
            return None
        basis = Basis.of(data, info.st_mtime_ns)
        self.state.ensure()
        self.inbox.keep(self.target, info.st_ino, basis, LIVE)
        return info.st_ino, basis

    def edited(self, token: Optional[Tuple[int, Basis]]) -> bool:
        """The editor has exited: gather what arrived in the file it read,
        if it is no longer queue.yaml."""
        if token is None:
            return False
        inode, basis = token
        kept = self.inbox.find(inode)
        try:
            live_inode: Optional[int] = os.stat(self.target).st_ino
        except OSError:
            live_inode = None
        if kept is not None and live_inode != inode:
            self.inbox.account(kept, basis, REPLACED)
        return self.gather()
