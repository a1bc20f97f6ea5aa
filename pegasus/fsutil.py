"""Opening the files pegasus writes beside a queue without being tricked.

The queue's directory may be writable by others (a group project, /tmp). A
symbolic link planted there at a name pegasus creates or appends to
(consumed.yaml, queue.yaml.lock, a joblog) would make pegasus -- perhaps
root -- write to a file of someone else's choosing. So a link at such a name
is followed only if it belongs to the user running pegasus (the rule the
kernel's fs.protected_symlinks applies in sticky directories); anything
else there that is not a regular file (a FIFO, a device, a socket) is
refused too, rather than blocked on. New files get the user's umask.
"""

from __future__ import annotations

import errno
import functools
import os
import stat

from .errors import PegasusError

MAX_LINKS = 40


class UnsafePath(PegasusError):
    """A file pegasus would write is not one it may write."""

    exit_status = 2

    def __init__(self, path: str, why: str, hint: str):
        super().__init__("%s %s\n  hint: %s" % (path, why, hint))
        self.path = path


@functools.lru_cache(maxsize=None)
def umask() -> int:
    """The process's umask, read once (pegasus never changes it; a file is
    made per take, so reading it each time cost a tenth of pegasus's CPU),
    without changing it where Linux tells."""
    try:
        with open("/proc/self/status") as stream:
            for line in stream:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def new_file_mode() -> int:
    """The mode of a new file: 0666 less the umask (never wider)."""
    return 0o666 & ~umask()


def resolve(path: str) -> str:
    """`path` with the symbolic links of its last component followed, each
    only if it belongs to the user running pegasus. Raises UnsafePath."""
    for _ in range(MAX_LINKS):
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return path
        if not stat.S_ISLNK(info.st_mode):
            return path
        if info.st_uid != os.geteuid():
            raise UnsafePath(
                path, "is a symbolic link that belongs to another user (uid %d)" % info.st_uid,
                "pegasus follows only your own links where it writes; remove it, or name "
                "the real file")
        target = os.readlink(path)
        path = os.path.join(os.path.dirname(path), target)
    raise UnsafePath(path, "is a chain of too many symbolic links", "name the real file")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
                       (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a regular file"


def open_file(path: str, flags: int, exclusive: bool = False) -> int:
    """Open `path` for pegasus to write (O_APPEND, O_CREAT... in `flags`):
    never through another user's link, never anything but a regular file.
    With `exclusive`, the file must be new (O_EXCL)."""
    flags |= os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    if exclusive:
        flags |= os.O_CREAT | os.O_EXCL
    else:
        path = resolve(path)
    try:
        fd = os.open(path, flags, new_file_mode())
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):
            raise UnsafePath(path, "changed while pegasus opened it, or is not a regular file",
                             "check what it is: pegasus writes only regular files") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UnsafePath(path, "is %s" % _kind(info.st_mode),
                         "pegasus writes only regular files: remove it or name another file")
    os.set_blocking(fd, True)
    return fd


def private_directory(path: str) -> str:
    """Make `path` a directory only its owner can enter (0700), or check
    that it is one of ours; return it. Raises UnsafePath."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePath(path, "is %s, not pegasus's state directory" % (
            "a symbolic link" if stat.S_ISLNK(info.st_mode) else _kind(info.st_mode)),
            "remove it: pegasus keeps its journals there")
    if info.st_uid != os.geteuid():
        raise UnsafePath(path, "belongs to another user (uid %d)" % info.st_uid,
                         "each user's runners keep their journals in a directory of their "
                         "own: run from your own copy of the queue, or ask its owner")
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path
