"""The queue lock: an fcntl lock (fasteners) on `queue.yaml.lock`, which
every reader and writer of queue.yaml holds while it reads and rewrites it.
The kernel drops it when its holder dies, however it dies; the file is
never deleted. It is opened as pegasus opens what it writes
(fsutil.open_file: never through another user's symbolic link)."""

from __future__ import annotations

import os
import threading
from typing import Callable, Optional

import fasteners

from ..errors import LockError, PegasusError
from ..fsutil import open_file


class _Lock(fasteners.InterProcessLock):
    """fasteners' lock, its file opened by fsutil.open_file."""

    def _do_open(self):
        if self.lockfile is None or self.lockfile.closed:  # type: ignore[has-type]
            fd = open_file(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            self.lockfile = os.fdopen(fd, "a")


class QueueLock:
    """The lock of one queue; `first()` is what every holder does first
    (if it raises, the lock is let go again)."""

    def __init__(self, path: str, first: Callable[[], None]):
        self.path = path
        self.first = first
        self._lock = _Lock(path)

    def _acquire(self, blocking: bool, timeout: Optional[float] = None) -> bool:
        try:
            return self._lock.acquire(blocking=blocking, timeout=timeout)
        except threading.ThreadError as exc:  # fasteners: any error but "held"
            raise LockError(self.path, str(exc.__context__ or exc)) from None
        except OSError as exc:  # opening the lock file
            raise LockError(self.path, exc.strerror or str(exc)) from None

    def _held(self) -> None:
        try:
            self.first()
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
