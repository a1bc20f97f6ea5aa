"""The queue's replaced files, kept until nobody can write to them.

Appending is how people feed a queue, and most appenders do not take the
lock: `echo ... >> queue.yaml`, a shell loop redirected once, `tee -a`, a
program that keeps the file open in append mode, an editor. Each writes to
the file (the inode) that was queue.yaml when it opened it. When pegasus
replaces queue.yaml by a new file, whatever is written to the old one after
pegasus read it would be lost -- so the old file is not let go: it is kept
here, under a name that records how much of it pegasus has accounted for
(its size and digest), and each later holder of the queue lock moves what
arrived in it since to the end of the live queue.yaml. A kept file is let
go once nobody has it open for writing (a read lease can be taken only on a
file that no process has open for writing), and nothing new has arrived.

Every file pegasus makes queue.yaml is linked here too (kind "live"), so
that what was appended to it is not lost when an editor renames a new file
over it; while it is queue.yaml it is skipped. Such a file was replaced by
someone who may have read what was appended to it (an editor that loaded
the appended lines and saved them): what arrived in it is moved only if the
new queue.yaml does not already hold it, block for block. A file pegasus
replaced itself (kind "replaced") has an exact account: what pegasus read.

Names: KIND-SEQ-INODE-SIZE-MTIME-DIGEST, SEQ ordering them as they were kept.

The inbox is reached through the state directory's descriptor (statedir.py
judged it), and a kept file is read through its own, never through a link:
it is a queue file, so it may belong to anyone who may write the queue.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import time
from typing import Callable, List, NamedTuple, Optional

from ..fsutil import Directory, read_all
from .statedir import StateDir

F_SETLEASE = getattr(fcntl, "F_SETLEASE", 1024)
F_RDLCK = getattr(fcntl, "F_RDLCK", 0)
F_UNLCK = getattr(fcntl, "F_UNLCK", 2)
# Where no lease can tell whether a writer is there (not Linux, NFS): a
# kept file is let go once nothing arrived in it for this long.
QUIET = 60.0


def digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


class Basis(NamedTuple):
    """What a new queue.yaml was made from: the old file's bytes (their
    size and digest) and its mtime as read."""

    size: int
    digest: str
    mtime_ns: int

    @classmethod
    def of(cls, data: bytes, mtime_ns: int) -> "Basis":
        return cls(len(data), digest(data), mtime_ns)


EMPTY = Basis(0, digest(b""), 0)


LIVE, REPLACED = "l", "r"


class Kept(NamedTuple):
    """One kept file, as its name says."""

    name: str
    kind: str
    seq: int
    inode: int
    basis: Basis

    def named(self) -> "Kept":
        return self._replace(name="%s-%d-%d-%d-%d-%s" % (
            self.kind, self.seq, self.inode, self.basis.size, self.basis.mtime_ns,
            self.basis.digest))


def _parse(name: str) -> Optional[Kept]:
    parts = name.split("-")
    if len(parts) != 6 or parts[0] not in (LIVE, REPLACED) \
            or not all(p.isdigit() for p in parts[1:5]):
        return None
    seq, inode, size, mtime = (int(p) for p in parts[1:5])
    return Kept(name, parts[0], seq, inode, Basis(size, parts[5], mtime))


class Inbox:
    """The kept files, in the state directory's inbox/."""

    def __init__(self, state: StateDir):
        self.state = state

    def _dir(self, create: bool = False) -> Optional[Directory]:
        return self.state.inbox(create)

    def file(self, kept: Kept) -> str:
        """Its path, for messages."""
        return os.path.join(self.state.path, "inbox", kept.name)

    def all(self) -> List[Kept]:
        directory = self._dir()
        if directory is None:
            return []
        found = [k for k in (_parse(name) for name in directory.names()) if k is not None]
        return sorted(found, key=lambda k: k.seq)

    def size(self, kept: Kept) -> int:
        directory = self._dir()
        try:
            return directory.lstat(kept.name).st_size if directory is not None else 0
        except FileNotFoundError:
            return 0

    def open(self, kept: Kept) -> int:
        """A kept file, opened to be read: never a link, a regular file of
        someone who may write the queue. Raises FileNotFoundError."""
        directory = self._dir()
        if directory is None:
            raise FileNotFoundError(kept.name)
        return directory.open(kept.name, os.O_RDONLY, links_ok=True,
                              owner_ok=self.state.may_write_queue)

    def find(self, inode: int) -> Optional[Kept]:
        for kept in self.all():
            if kept.inode == inode:
                return kept
        return None

    def keep(self, path: str, inode: int, basis: Basis, kind: str) -> Optional[Kept]:
        """Keep the file at `path` (inode `inode`) with `basis` accounted
        for; if it is kept already, its basis and kind are updated. What is
        not a regular file there (a link someone who may write the queue's
        directory put at its name) is not kept: its target would be read
        later as a queue file."""
        kept = self.find(inode)
        if kept is not None:
            return self.account(kept, basis, kind)
        kept = Kept("", kind, time.time_ns(), inode, basis).named()
        directory = self._dir(create=True)
        assert directory is not None
        directory.link_in(path, kept.name)
        if not stat.S_ISREG(directory.lstat(kept.name).st_mode):
            directory.unlink(kept.name)
            return None
        return kept

    def account(self, kept: Kept, basis: Basis, kind: Optional[str] = None) -> Kept:
        """`basis` of the kept file is now accounted for."""
        new = kept._replace(basis=basis, kind=kind or kept.kind).named()
        directory = self._dir()
        if new.name != kept.name and directory is not None:
            directory.rename(kept.name, new.name)
        return new

    def drop(self, kept: Kept) -> None:
        directory = self._dir()
        if directory is not None:
            directory.unlink(kept.name)


def has_writer(fd: int) -> Optional[bool]:
    """Whether any process has the file open at `fd` (opened read-only)
    open for writing: True, False, or None where this cannot be told (no
    leases on this system or file system, or a file of another user's)."""
    try:
        fcntl.fcntl(fd, F_SETLEASE, F_RDLCK)
    except OSError as exc:
        return True if exc.errno in (errno.EAGAIN, errno.EBUSY) else None
    fcntl.fcntl(fd, F_SETLEASE, F_UNLCK)
    return False


class Arrival(NamedTuple):
    """Bytes that arrived in a kept file, to go to the end of the queue.
    `unfinished`: the line the accounted part of that file ended in, when
    it ended inside one; the arrival goes on with that line."""

    data: bytes
    unfinished: bytes


class Arrivals:
    """What a visit found in the kept files: bytes to append to the queue,
    and files whose text was rewritten rather than appended to (saved
    apart, never merged: see queue.py)."""

    def __init__(self) -> None:
        self.tails: List[Arrival] = []
        self.rewritten: List[bytes] = []


def collect(inbox: Inbox, live_inode: Optional[int], live: Callable[[], bytes]) -> Arrivals:
    """Take what arrived in each kept file (but the live one, whose bytes
    `live()` reads) since it was accounted for; let go of the files nobody
    can write to any more."""
    found = Arrivals()
    for kept in inbox.all():
        if kept.inode != live_inode:
            _collect_one(inbox, kept, live, found)
    return found


def _collect_one(inbox: Inbox, kept: Kept, live: Callable[[], bytes],
                 found: Arrivals) -> None:
    try:
        fd = inbox.open(kept)
    except FileNotFoundError:
        return
    try:
        _collect_from(fd, inbox, kept, live, found)
    finally:
        os.close(fd)


def _collect_from(fd: int, inbox: Inbox, kept: Kept, live: Callable[[], bytes],
                  found: Arrivals) -> None:
    info = os.fstat(fd)
    writer = None
    if info.st_size != kept.basis.size or info.st_mtime_ns != kept.basis.mtime_ns:
        data = read_all(fd)
        writer = has_writer(fd)
        if digest(data[:kept.basis.size]) != kept.basis.digest:
            found.rewritten.append(data)
            inbox.drop(kept)
            return
        tail = data[kept.basis.size:]
        if not tail.endswith(b"\n") and not _final(writer, info):
            tail = tail[:tail.rfind(b"\n") + 1]  # a line still being written waits
        if tail and not (kept.kind == LIVE and tail in live()):
            found.tails.append(Arrival(tail, data[data.rfind(b"\n", 0, kept.basis.size) + 1:
                                                  kept.basis.size]))
        size = kept.basis.size + len(tail)
        mtime = info.st_mtime_ns if size == len(data) else 0
        kept = inbox.account(kept, Basis(size, digest(data[:size]), mtime))
    if kept.basis.size == info.st_size and _idle(fd, info, writer):
        inbox.drop(kept)


def _final(writer: Optional[bool], info: os.stat_result) -> bool:
    """Whether nobody can add to what a kept file holds (so a last line
    without its newline is all there will be)."""
    return writer is False or (writer is None and time.time() - info.st_mtime > QUIET)


def unfinished(inbox: Inbox, live_inode: Optional[int]) -> bool:
    """Whether a kept file (but the live one) holds more than was moved
    from it: after a visit, a line its writer has not finished."""
    return any(inbox.size(kept) > kept.basis.size for kept in inbox.all()
               if kept.inode != live_inode)


def writing(openers: List[Callable[[], int]]) -> Optional[bool]:
    """Whether anyone has one of the files that `openers` open (read-only)
    open for writing: True, False, or None where this cannot be told for
    some of them. A file that is gone is no one's."""
    answers = []
    for opener in openers:
        try:
            fd = opener()
        except FileNotFoundError:
            continue
        try:
            answers.append(has_writer(fd))
        finally:
            os.close(fd)
    if True in answers:
        return True
    return None if None in answers else False


def _idle(fd: int, info: os.stat_result, writer: Optional[bool]) -> bool:
    if writer is None:
        writer = has_writer(fd)
    if writer is None:
        return time.time() - info.st_mtime > QUIET
    return not writer
