"""Opening what pegasus keeps and writes beside a queue without being
tricked by another user of the machine.

The rule (docs/ssh-and-security.md, Security): a file or directory beside a queue that is not
yours, or that others could have written, is never read as state, never
followed as a link and never written into. pegasus refuses it, naming it
and its owner, before it reads or writes anything there.

How it is enforced, here and nowhere else: every such file is opened with
O_NOFOLLOW relative to a directory descriptor, and judged by fstat on what
was opened -- its kind, its owner, its number of names -- never by looking
at a name and then opening that name, which someone who may write the
directory could have swapped in between. A symbolic link is followed only
if it is yours (the rule the kernel's fs.protected_symlinks applies in
sticky directories). Nothing is truncated before it has been judged. New
files get the user's umask.
"""

from __future__ import annotations

import errno
import functools
import os
import pwd
import stat
from typing import Callable, Iterator, List, Optional, Tuple

from .errors import PegasusError

MAX_LINKS = 40
# Opens a name without opening the file behind it (Linux): judging an
# existing file this way has no side effect, even on a device or a FIFO.
O_PATH = getattr(os, "O_PATH", os.O_RDONLY | os.O_NONBLOCK)


class UnsafePath(PegasusError):
    """A file pegasus would read or write beside a queue is not one it
    may: `owner` is the uid of the user it belongs to, when that is why."""

    exit_status = 2

    def __init__(self, path: str, why: str, hint: str, owner: Optional[int] = None):
        self.path = os.fsdecode(path)
        self.why = why
        self.owner = owner
        super().__init__("%s %s\n  hint: %s" % (self.path, why, hint))


def who(uid: int) -> str:
    """A user as people name them: `nobody (uid 65534)`."""
    try:
        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except KeyError:
        return "uid %d" % uid


def mine(uid: int) -> bool:
    return uid == os.geteuid()


def mode_text(mode: int) -> str:
    return "%04o" % stat.S_IMODE(mode)


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


def kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISREG, "a file")):
        if test(mode):
            return name
    return "not a regular file"


# --- judging what was opened -----------------------------------------------------

NOT_YOURS_HINT = ("pegasus writes only into files of yours: the owner of this one can read "
                  "what it would write there, or made it to catch it; remove it (if you may) "
                  "or name another file")
LINKS_HINT = ("pegasus writes only into a file with no other name: through another name, "
              "someone could read or change it; remove this name, or name another file")


def judge(info: os.stat_result, path: str, links_ok: bool = False,
          owner_ok: Optional[Callable[[int], bool]] = None) -> None:
    """Refuse (UnsafePath) what pegasus may not read as state or write
    into: anything but a regular file; a file of another user (unless
    `owner_ok` accepts its owner); a file with another name (a hard link),
    unless `links_ok`."""
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePath(path, "is %s" % kind(info.st_mode),
                         "pegasus reads and writes only regular files here: remove it "
                         "or name another file")
    if not mine(info.st_uid) and not (owner_ok is not None and owner_ok(info.st_uid)):
        raise UnsafePath(path, "belongs to another user, %s" % who(info.st_uid),
                         NOT_YOURS_HINT, owner=info.st_uid)
    if not links_ok and info.st_nlink > 1:
        raise UnsafePath(path, "has %d names (hard links)" % info.st_nlink, LINKS_HINT)


def _opened(open_it: Callable[[int], int], flags: int, path: str, links_ok: bool,
            owner_ok: Optional[Callable[[int], bool]],
            not_opened: Callable[[OSError], None]) -> int:
    """Open with `open_it(flags)` (never following a link, never
    truncating before the file is judged), judge, then truncate if asked."""
    truncate = flags & os.O_TRUNC
    flags = (flags & ~os.O_TRUNC) | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = open_it(flags)
    except OSError as exc:
        not_opened(exc)
        raise
    try:
        judge(os.fstat(fd), path, links_ok, owner_ok)
        if truncate:
            os.ftruncate(fd, 0)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refuse_unopened(exc: OSError, path: str, lstat: Callable[[], os.stat_result]) -> None:
    """Say in words why a name could not be opened, when that is because
    of what it is or whose it is (a link, a FIFO, a file of another user
    that the system would not let us open)."""
    if exc.errno not in (errno.ELOOP, errno.ENXIO, errno.EACCES, errno.EPERM, errno.EMLINK):
        return
    try:
        info = lstat()
    except OSError:
        return
    if stat.S_ISLNK(info.st_mode):
        if mine(info.st_uid):
            raise UnsafePath(path, "is a symbolic link (put there while pegasus opened it)",
                             "pegasus follows no link here: remove it, or name the real "
                             "file") from None
        raise UnsafePath(path, "is a symbolic link that belongs to another user, %s"
                         % who(info.st_uid),
                         "pegasus follows only your own links where it writes; remove it, "
                         "or name the real file", owner=info.st_uid) from None
    if not mine(info.st_uid):
        raise UnsafePath(path, "belongs to another user, %s" % who(info.st_uid),
                         NOT_YOURS_HINT, owner=info.st_uid) from None
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePath(path, "is %s" % kind(info.st_mode),
                         "pegasus writes only regular files: remove it or name another "
                         "file") from None


# --- names in a directory that may be shared ----------------------------------------

def _link_target(dir_fd: int, name: str, path: str) -> Optional[str]:
    """The target of `name` if it is a symbolic link of yours; None if it
    is not a link (or not there). Another user's link is refused; so is a
    link swapped while it was read (its inode or change time moved)."""
    try:
        before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if not stat.S_ISLNK(before.st_mode):
        return None
    if not mine(before.st_uid):
        raise UnsafePath(path, "is a symbolic link that belongs to another user, %s"
                         % who(before.st_uid),
                         "pegasus follows only your own links where it writes; remove it, "
                         "or name the real file", owner=before.st_uid)
    target = os.readlink(name, dir_fd=dir_fd)
    after = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if (after.st_ino, after.st_uid, after.st_ctime_ns) != (
            before.st_ino, before.st_uid, before.st_ctime_ns):
        raise UnsafePath(path, "changed while pegasus read it",
                         "someone is replacing it: check the directory, then run again")
    return target


def _open_directory(path: str) -> int:
    return os.open(path or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def resolve(path: str) -> str:
    """`path` with the symbolic links of its last component followed, each
    only if it belongs to the user running pegasus. Raises UnsafePath."""
    for _ in range(MAX_LINKS):
        directory, name = os.path.split(path)
        try:
            dir_fd = _open_directory(directory)
        except FileNotFoundError:
            return path
        try:
            target = _link_target(dir_fd, name, path)
        finally:
            os.close(dir_fd)
        if target is None:
            return path
        path = os.path.join(directory, target)
    raise UnsafePath(path, "is a chain of too many symbolic links", "name the real file")


def open_file(path: str, flags: int, exclusive: bool = False) -> int:
    """Open `path` to write into it (O_APPEND, O_CREAT, O_TRUNC... in
    `flags`): a regular file of yours with no other name, reached through
    your own links only, truncated only once judged. With `exclusive`, the
    file must be new (O_EXCL). Raises UnsafePath."""
    if exclusive:
        flags |= os.O_CREAT | os.O_EXCL
    else:
        path = resolve(path)
    directory, name = os.path.split(path)
    dir_fd = _open_directory(directory)
    try:
        return _opened(lambda f: os.open(name, f, new_file_mode(), dir_fd=dir_fd), flags,
                       path, False, None, lambda exc: _refuse_unopened(
                           exc, path, lambda: os.stat(name, dir_fd=dir_fd,
                                                      follow_symlinks=False)))
    finally:
        os.close(dir_fd)


def check_writable(path: str) -> None:
    """Refuse now (UnsafePath) a file pegasus will write into later, if it
    exists and is not one it may: so that a run is refused before it takes
    anything. Creates nothing. (The file is judged again when it is
    opened: this check only says it early.)"""
    path = resolve(path)
    try:
        fd = os.open(path, O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    except OSError as exc:
        _refuse_unopened(exc, path, lambda: os.lstat(path))
        raise
    try:
        judge(os.fstat(fd), path)
    finally:
        os.close(fd)


# --- directories opened once and judged on their descriptor ----------------------------

class Directory:
    """A directory opened once and judged on its descriptor. What is in it
    is reached relative to that descriptor, so renaming the directory, or
    putting a link or another directory at its name (its parent may be
    shared), cannot redirect pegasus. `path` is for messages."""

    def __init__(self, path: str, fd: int):
        self.path = path
        self.fd = fd

    @classmethod
    def at(cls, path: str, create: bool = False, mode: int = 0o700,
           parent: Optional["Directory"] = None) -> Optional["Directory"]:
        """The directory at `path` (in `parent`, by name), made with `mode`
        if missing and `create`; None if missing. A link or anything but a
        directory is refused; its owner and mode are the caller's to judge
        (`info()`)."""
        name = os.path.basename(path) if parent is not None else path
        dir_fd = parent.fd if parent is not None else None
        for _attempt in range(2):
            try:
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                             dir_fd=dir_fd)
                return cls(path, fd)
            except FileNotFoundError:
                if not create:
                    return None
                try:
                    os.mkdir(name, mode, dir_fd=dir_fd)
                except FileExistsError:
                    pass
            except OSError as exc:
                cls._refuse(exc, path, name, dir_fd)
                raise
        raise FileNotFoundError(errno.ENOENT, "removed while pegasus made it", path)

    @staticmethod
    def _refuse(exc: OSError, path: str, name: str, dir_fd: Optional[int]) -> None:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EACCES, errno.EPERM):
            return
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            return
        if not mine(info.st_uid):
            raise UnsafePath(path, "%sbelongs to another user, %s" % (
                "is a symbolic link that " if stat.S_ISLNK(info.st_mode) else "",
                who(info.st_uid)), NOT_YOURS_HINT, owner=info.st_uid) from None
        if not stat.S_ISDIR(info.st_mode):
            raise UnsafePath(path, "is %s, not a directory" % kind(info.st_mode),
                             "remove it, or name a directory") from None

    def info(self) -> os.stat_result:
        return os.fstat(self.fd)

    def file(self, name: str) -> str:
        """The path of `name` in here, for messages."""
        return os.path.join(self.path, name)

    def entries(self) -> Iterator[Tuple[str, os.stat_result]]:
        """(name, lstat) of each entry; an entry removed meanwhile is skipped."""
        for name in sorted(os.listdir(self.fd)):
            try:
                yield name, os.stat(name, dir_fd=self.fd, follow_symlinks=False)
            except FileNotFoundError:
                continue

    def names(self) -> List[str]:
        return os.listdir(self.fd)

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(name, dir_fd=self.fd, follow_symlinks=False)

    def open(self, name: str, flags: int, exclusive: bool = False, links_ok: bool = False,
             owner_ok: Optional[Callable[[int], bool]] = None) -> int:
        """Open `name` in here (never a link, never a file of another
        user's or with another name, unless `links_ok`/`owner_ok` say so),
        truncated only once judged. Raises UnsafePath, or OSError."""
        if exclusive:
            flags |= os.O_CREAT | os.O_EXCL
        path = self.file(name)
        return _opened(lambda f: os.open(name, f, new_file_mode(), dir_fd=self.fd), flags,
                       path, links_ok, owner_ok,
                       lambda exc: _refuse_unopened(exc, path, lambda: self.lstat(name)))

    def read(self, name: str, links_ok: bool = False,
             owner_ok: Optional[Callable[[int], bool]] = None) -> Optional[bytes]:
        """The bytes of `name` in here, judged as `open`; None if missing."""
        try:
            fd = self.open(name, os.O_RDONLY, links_ok=links_ok, owner_ok=owner_ok)
        except FileNotFoundError:
            return None
        try:
            return read_all(fd)
        finally:
            os.close(fd)

    def unlink(self, name: str) -> None:
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            pass

    def rename(self, old: str, new: str) -> None:
        os.rename(old, new, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def link_in(self, source: str, name: str) -> None:
        """Give the file at `source` (never a link: the link itself would
        be taken) the name `name` in here."""
        os.link(source, name, dst_dir_fd=self.fd, follow_symlinks=False)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def read_all(fd: int) -> bytes:
    """Everything left to read from `fd`: a regular file is read in one call
    when it has not grown meanwhile (no second copy to join)."""
    size = os.fstat(fd).st_size
    first = os.read(fd, max(size, 1 << 16) + 1)
    if not first:
        return first
    chunks = [first]
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return first if len(chunks) == 1 else b"".join(chunks)
        chunks.append(chunk)
