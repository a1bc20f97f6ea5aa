"""Crash recovery: each runner's journal of the jobs it took, so that the
jobs of a runner that died are put back in the queue -- and never the jobs
of a runner that is alive.

Beside queue.yaml, a hidden directory `.queue.yaml.pegasus/` holds:

- `HOST.PID.journal`, one per runner, fcntl-locked by it for its whole
  life. A journal whose lock can be taken belongs to a dead runner (the
  kernel drops a lock when its process dies, however it dies).
- `pending`, written under the queue lock just before queue.yaml is
  replaced and emptied just after. If the next holder of the queue lock finds
  it non-empty, the writer died in between, and the inode in it tells
  whether queue.yaml was replaced by the new file (the jobs were taken) or
  not (they are still in the queue).

Journal lines are JSON: {"t": txn, "jobs": [[ticket, yaml], ...]} when jobs
are taken, {"c": txn} once queue.yaml no longer holds them, {"a": txn} if
that did not happen, {"d": ticket} when a job is over. A torn last line
(a crash mid-write) is ignored.
"""

import errno
import fcntl
import json
import os
import socket

PENDING = "pending"
SUFFIX = ".journal"


def sidecar_directory(queue_target):
    directory, name = os.path.split(queue_target)
    return os.path.join(directory, "." + name + ".pegasus")


def _append(path_or_fd, record):
    data = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
    if isinstance(path_or_fd, int):
        os.write(path_or_fd, data)
        return
    fd = os.open(path_or_fd, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_records(fd):
    """The journal's records, skipping a torn last line."""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    records = []
    for line in b"".join(chunks).splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def unfinished(records):
    """The canonical YAML of the jobs taken and committed but never ended,
    in the order they were taken."""
    taken = {}
    committed = set()
    done = set()
    for record in records:
        if "t" in record:
            taken[record["t"]] = record["jobs"]
        elif "c" in record:
            committed.add(record["c"])
        elif "d" in record:
            done.add(record["d"])
    jobs: list = []
    for txn, items in taken.items():
        if txn in committed:
            jobs.extend(text for ticket, text in items if ticket not in done)
    return jobs


class Journal:
    """This runner's journal, locked for as long as the runner lives.

    The file is opened once and never reopened: closing any descriptor of a
    file drops this process's fcntl locks on it.
    """

    def __init__(self, queue_target):
        self.directory = sidecar_directory(queue_target)
        os.makedirs(self.directory, exist_ok=True)
        name = "%s.%d%s" % (socket.gethostname().split(".")[0] or "host", os.getpid(), SUFFIX)
        self.path = os.path.join(self.directory, name)
        self.pending = os.path.join(self.directory, PENDING)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
                          | os.O_CLOEXEC, 0o644)
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self.fd)
            os.unlink(self.path)
            from .errors import LockError
            raise LockError(self.path, exc.strerror or str(exc)) from None
        self._txn = 0
        self._ticket = 0

    def new_ticket(self):
        self._ticket += 1
        return self._ticket

    def begin(self, jobs, inode, temporary):
        """Before queue.yaml is replaced by the file `temporary` (inode
        `inode`): record the jobs, and leave the pending note that tells a
        successor what happened if we die now."""
        self._txn += 1
        _append(self.fd, {"t": self._txn, "jobs": [[job.ticket, job.canonical()]
                                                   for job in jobs]})
        write_pending(self.pending, {"journal": self.path, "txn": self._txn,
                                     "inode": inode, "temporary": temporary})
        return self._txn

    def commit(self, txn):
        _append(self.fd, {"c": txn})
        clear_pending(self.pending)

    def abort(self, txn):
        _append(self.fd, {"a": txn})
        clear_pending(self.pending)

    def finished(self, ticket):
        _append(self.fd, {"d": ticket})

    def close(self):
        """A clean end: nothing to recover, the journal goes."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self.fd)


def write_pending(path, note):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, json.dumps(note).encode("utf-8"))
    finally:
        os.close(fd)


def clear_pending(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    os.close(fd)


def resolve_pending(directory, queue_stat):
    """Called by every holder of the queue lock before it reads queue.yaml:
    settle the transaction of a writer that died holding the lock.
    `queue_stat` is queue.yaml's (inode, size, mtime). Returns True if there
    was one."""
    path = os.path.join(directory, PENDING)
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except FileNotFoundError:
        return False
    if not data:
        return False
    try:
        note = json.loads(data)
        replaced = queue_stat is not None and queue_stat[0] == note["inode"]
        _append(note["journal"], {"c" if replaced else "a": note["txn"]})
        if not replaced:
            os.unlink(note["temporary"])  # the new queue.yaml that never was
    except (ValueError, KeyError, TypeError, OSError):
        pass  # a torn note, or its journal is gone: nothing can be settled
    clear_pending(path)
    return True


class DeadJournal:
    """A journal whose runner is gone, locked by us while we put its jobs
    back."""

    def __init__(self, path, fd):
        self.path = path
        self.fd = fd
        self.jobs = unfinished(read_records(fd))

    @property
    def owner(self):
        return os.path.basename(self.path)[:-len(SUFFIX)]

    def remove(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self.fd)

    def release(self):
        os.close(self.fd)


def dead_journals(directory, own_path=None):
    """The journals in `directory` whose runner is dead (their lock is free)."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        path = os.path.join(directory, name)
        if not name.endswith(SUFFIX) or path == own_path:
            continue  # never touch our own: closing a second fd would drop our lock
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                continue  # its runner is alive
            raise
        found.append(DeadJournal(path, fd))
    return found
