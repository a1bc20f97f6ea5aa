"""Replacing queue.yaml: atomic, keeping its mode, owner and group, and
losing nothing that anyone writes to it meanwhile.

The new text is written to a temporary file beside queue.yaml and flushed;
then the two files are swapped in one step (rename with RENAME_EXCHANGE,
where the system has it), so the old file -- whatever it was at that very
instant, even one an editor had just renamed there -- is in pegasus's hands
afterwards and goes to the inbox (inbox.py) with what pegasus had read of it
accounted for. Where there is no exchange, the old file is linked into the
inbox first and the new one renamed over it.

A note in the state directory (`pending`) describes the replace while it is
in flight: if the writer dies, the next holder of the queue lock settles it
(`settle`): a take that did not happen leaves no trace (its consumed.yaml
record and journal entry are taken back), one that did is completed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import tempfile
from typing import Any, Dict, Optional, Protocol

from ..fsutil import new_file_mode, open_file
from .inbox import LIVE, REPLACED, Basis, Inbox
from .journal import SUFFIX, append_record
from .statedir import PENDING, StateDir

AT_FDCWD = -100
RENAME_EXCHANGE = 2


def _renameat2() -> Any:
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except OSError:  # pragma: no cover - no C library to ask
        return None


_RENAMEAT2 = _renameat2()


def exchange(first: str, second: str) -> bool:
    """Swap the files at two paths atomically; False where the system or
    the file system cannot, or `second` does not exist."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second),
                  RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOENT):
        return False
    raise OSError(code, os.strerror(code), second)


def _write_temporary(target: str, data: bytes) -> tuple:
    """The new file beside `target`, flushed, with `target`'s mode, owner
    and group (a new queue gets the umask's mode): (path, its stat)."""
    directory = os.path.dirname(target) or "."
    try:
        old: Optional[os.stat_result] = os.stat(target)
    except FileNotFoundError:
        old = None
    fd, temporary = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".",
                                     suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            if old is None:
                os.fchmod(stream.fileno(), new_file_mode())
            else:
                os.fchmod(stream.fileno(), old.st_mode & 0o7777)
                _keep_owner(stream.fileno(), old)
            os.fsync(stream.fileno())
            info = os.fstat(stream.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return temporary, info


def _keep_owner(fd: int, old: os.stat_result) -> None:
    """Give the new file the old one's owner and group, as far as allowed:
    root can keep both; anyone may keep a group they are in."""
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) == (old.st_uid, old.st_gid):
        return
    for uid, gid in ((old.st_uid, old.st_gid), (-1, old.st_gid)):
        try:
            os.fchown(fd, uid, gid)
            return
        except PermissionError:
            continue


def _own_basis(data: bytes, own: Optional[int], info: os.stat_result) -> Basis:
    if own is None or own >= len(data):
        return Basis.of(data, info.st_mtime_ns)
    return Basis.of(data[:max(own, 0)], 0)


class CrashNote:
    """The note of a replace in flight (PENDING in the state directory):
    what the next holder of the lock settles if the writer dies."""

    def __init__(self, replacer: Replacer, data: Dict[str, Any]):
        self.replacer = replacer
        self.data = data

    def add(self, **what: Any) -> None:
        """Add `what` to the note, written at once."""
        self.data.update(what)
        self.replacer.write_note(self.data)


class Steps(Protocol):
    """What a caller of `Replacer.replace` does around the swap (a take:
    take.TakeSteps)."""

    def before(self, inode: int, note: CrashNote) -> None:
        """Just before the swap of the file made as inode `inode`: what it
        does that must be undone if the swap never happens (a consumed.yaml
        record, a journal entry) it first adds to `note`. If it raises,
        nothing is replaced."""

    def after(self) -> None:
        """Once the swap is done, while the note still says so (the
        journal's commit)."""


class Replacer:
    """Replaces one queue file; every caller holds the queue lock."""

    def __init__(self, target: str, state: StateDir):
        self.target = target
        self.state = state
        self.inbox = Inbox(state)

    def replace(self, data: bytes, basis: Basis, steps: Optional[Steps] = None,
                own: Optional[int] = None) -> os.stat_result:
        """Make `data` the queue, made from `basis` (what was read of it),
        with the caller's `steps` around the swap (see Steps). `own`:
        how much of `data`, from its start, is of pegasus's own making; the
        rest (appends it moved in, and what they carried) counts as arrived
        in the new file, should an editor that read an older version rename
        its file over it (inbox.py). Returns the new file's stat."""
        self.state.ensure()
        temporary, info = _write_temporary(self.target, data)
        swapped = False
        note: Dict[str, Any] = {"temporary": temporary, "inode": info.st_ino,
                                "basis": list(basis)}
        try:
            self.inbox.keep(temporary, info.st_ino, _own_basis(data, own, info), LIVE)
            self.write_note(note)
            if steps is not None:
                steps.before(info.st_ino, CrashNote(self, note))
            swapped = exchange(temporary, self.target)
            if not swapped:
                self._keep_old(self.target, basis)
                os.replace(temporary, self.target)
        except BaseException:
            if not swapped:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                self._forget(info.st_ino)
            self._clear()
            raise
        try:
            if swapped:
                self._retire(temporary, basis)
        finally:
            if steps is not None:
                steps.after()
            self._clear()
        return info

    def _keep_old(self, path: str, basis: Basis) -> None:
        try:
            inode = os.lstat(path).st_ino
        except FileNotFoundError:
            return
        self.inbox.keep(path, inode, basis, REPLACED)

    def _retire(self, path: str, basis: Basis) -> None:
        """The old file, swapped out to `path`, goes to the inbox."""
        self._keep_old(path, basis)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def _forget(self, inode: int) -> None:
        kept = self.inbox.find(inode)
        if kept is not None:
            self.inbox.drop(kept)

    # --- the crash note ---------------------------------------------------------

    def write_note(self, note: Dict[str, Any]) -> None:
        fd = self.state.ensure().open(PENDING, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            os.write(fd, json.dumps(note).encode("utf-8"))
        finally:
            os.close(fd)

    def _clear(self) -> None:
        top = self.state.find()
        if top is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.close(top.open(PENDING, os.O_WRONLY | os.O_TRUNC))

    def settle(self) -> bool:
        """Settle the replace of a writer that died holding the lock; True
        if there was one. Called by every holder of the lock first. The
        note is read from the state directory as everything there is
        (statedir.py), and acts only on what a note of pegasus's names: a
        temporary file of this queue beside it, a journal in the state
        directory, a consumed record of yours."""
        top = self.state.find()
        data = top.read(PENDING) if top is not None else None
        if not data:
            return False
        try:
            note = json.loads(data)
            self._settle(note)
        except (ValueError, KeyError, TypeError, OSError):
            pass  # a torn note, or its files are gone: nothing can be settled
        self._clear()
        return True

    def _settle(self, note: Dict[str, Any]) -> None:
        temporary = note["temporary"]
        if not self._temporary_name(temporary):
            raise ValueError("not a temporary file of this queue: %r" % temporary)
        try:
            inode = os.lstat(temporary).st_ino
        except FileNotFoundError:
            inode = None
        done = inode != note["inode"]   # the new file is no longer the temporary one
        if inode is not None and done:
            self._retire(temporary, Basis(*note["basis"]))
        elif inode is not None:
            os.unlink(temporary)
            self._forget(note["inode"])
        if "journal" in note:
            self._journal_record(os.path.basename(note["journal"]),
                                 {"c" if done else "a": note["txn"]})
        if not done and "consumed" in note:
            path, size = note["consumed"]
            fd = open_file(path, os.O_WRONLY)
            try:
                if os.fstat(fd).st_size > size:
                    os.ftruncate(fd, size)
            finally:
                os.close(fd)

    def _temporary_name(self, path: str) -> bool:
        """Whether `path` is named as _write_temporary names them."""
        directory, name = os.path.split(self.target)
        return (isinstance(path, str) and os.path.dirname(path) == directory
                and os.path.basename(path).startswith("." + name + ".")
                and path.endswith(".tmp"))

    def _journal_record(self, name: str, record: Dict[str, Any]) -> None:
        top = self.state.find()
        if top is None or not name.endswith(SUFFIX):
            return
        fd = top.open(name, os.O_WRONLY | os.O_APPEND)
        try:
            append_record(fd, record)
        finally:
            os.close(fd)
