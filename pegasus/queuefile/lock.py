"""The queue lock: an fcntl lock (fasteners) on `queue.yaml.lock`, which
every reader and writer of queue.yaml holds while it reads and rewrites it.
The kernel drops it when its holder dies, however it dies; the file is
never deleted. It is opened as pegasus opens what it writes
(fsutil.open_file: a file of yours, never through another user's link):
one of another user is their queue's, and a second user is told so
(`Holder.not_yours`)."""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Optional, Protocol

import fasteners

from ..errors import LockError, PegasusError
from ..fsutil import UnsafePath, check_writable, open_file


class Holder(Protocol):
    """The queue a lock is of (queue.QueueFile)."""

    def lock_taken(self) -> None:
        """What every holder of the lock does first, the lock just taken;
        if it raises, the lock is let go again."""

    def not_yours(self, path: str, uid: int) -> Exception:
        """The error for a lock file of another user's (`uid`)."""

    def claim(self) -> None:
        """Raise if this user may not make the lock file, which is missing
        (statedir.StateDir.claim): it is made by the queue's owner alone."""


class _Lock(fasteners.InterProcessLock):
    """fasteners' lock, its file opened by fsutil.open_file (by its name as
    text: fasteners keeps the path as bytes)."""

    def __init__(self, path: str, holder: Holder):
        super().__init__(path)
        self.name = path
        self.owned_by = holder.not_yours
        self.claim = holder.claim

    def _do_open(self) -> None:
        if self.lockfile is None or self.lockfile.closed:  # type: ignore[has-type]
            if not os.path.lexists(self.name):
                self.claim()   # made by the queue's owner alone
            fd = self.judged(open_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            self.lockfile = os.fdopen(fd, "a")

    def judged(self, how: Callable[..., Any], *args: Any) -> Any:
        """`how(path, *args)`, a lock file of another user's refused with
        `owned_by`."""
        try:
            return how(self.name, *args)
        except UnsafePath as exc:
            if exc.owner is not None and exc.why.startswith("belongs to another user"):
                raise self.owned_by(exc.path, exc.owner) from None
            raise


class QueueLock:
    """The lock of one queue, taken for its `holder` (see Holder)."""

    def __init__(self, path: str, holder: Holder):
        self.path = path
        self.holder = holder
        self._lock = _Lock(path, holder)

    def check(self) -> None:
        """Refuse now a lock file pegasus may not use; create nothing."""
        self._lock.judged(check_writable)

    def _acquire(self, blocking: bool, timeout: Optional[float] = None) -> bool:
        try:
            return self._lock.acquire(blocking=blocking, timeout=timeout)
        except threading.ThreadError as exc:  # fasteners: any error but "held"
            raise LockError(self.path, str(exc.__context__ or exc)) from None
        except OSError as exc:  # opening the lock file
            raise LockError(self.path, exc.strerror or str(exc)) from None

    def _held(self) -> None:
        try:
            self.holder.lock_taken()
        except BaseException:
            self.unlock()
            raise

    def try_lock(self) -> bool:
        """Take the lock if it is free; True if taken."""
        if not self._acquire(blocking=False):
            return False
        self._held()
        return True

    def lock(self, timeout: Optional[float] = None) -> None:
        if not self._acquire(blocking=True, timeout=timeout):
            raise PegasusError("timed out waiting for the lock on %s" % self.path)
        self._held()

    def unlock(self) -> None:
        self._lock.release()
