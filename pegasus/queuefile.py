"""The live queue: queue.yaml under its lock, taken from the top, and
consumed.yaml, the record of what was taken.

Taking a job edits the text of queue.yaml rather than re-dumping it: only
the lines of the entries taken are replaced (by the rest of a multi-job
entry, in canonical form), so every other byte -- comments, blank lines,
quoting, block scalars, key order -- stays as the user wrote it. Only the
head of the file is parsed per take; the whole file is parsed again only
when someone else changed it.

Order of writes, so that a crash at any instant loses no job: the jobs are
appended to consumed.yaml and flushed first, then queue.yaml is replaced
atomically (temporary file in the same directory, fsync, rename).
"""

import contextlib
import hashlib
import os
import tempfile
import threading

import fasteners
import yaml

from . import yamlfile
from .errors import LockError, PegasusError, SpecError
from .journal import PENDING, dead_journals, resolve_pending, sidecar_directory
from .spec import check_job_keys, expand_entry, expand_queue, job_count

LOCK_SUFFIX = ".lock"


def _digest(text):
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()


def _head_loader(text):
    """A loader that composes one node at a time, on libyaml's events when
    PyYAML has them."""
    from yaml.composer import Composer
    from yaml.resolver import Resolver
    try:
        from yaml._yaml import CParser as Parser
    except ImportError:  # pragma: no cover - depends on the PyYAML build
        Parser = None
    if Parser is not None:
        class Loader(Parser, Composer, Resolver):
            def __init__(self, stream):
                Parser.__init__(self, stream)
                Composer.__init__(self)
                Resolver.__init__(self)
        return Loader(text)
    return yaml.SafeLoader(text)


class HeadItem:
    """One top-level entry found by scanning the head: its text span."""

    __slots__ = ("entry", "start", "end")

    def __init__(self, entry, start, end):
        self.entry = entry
        self.start = start  # offset of the start of the line of its '-'
        self.end = end      # offset just past its last line


class Head:
    """What scanning the head of queue.yaml found.

    `simple` is False when the text cannot be edited in place (a flow-style
    list, anchors and aliases, a comment between '-' and its entry); the
    caller then rewrites the whole file in canonical form.
    """

    __slots__ = ("items", "column", "insert_at", "simple", "empty_flow")

    def __init__(self):
        self.items = []
        self.column = 0
        self.insert_at = None
        self.simple = True
        self.empty_flow = None  # (start, end) of a `[]`, `~` or `null` root


def _line_start(text, offset):
    return text.rfind("\n", 0, offset) + 1


def _block_scalar_end(text, node):
    """Where a literal or folded block scalar ends: after its last content
    line. The blank lines after it separate it from what follows, unless its
    header keeps them as content (`|+`)."""
    end = node.end_mark.index
    header_end = text.find("\n", node.start_mark.index, end)
    header = text[node.start_mark.index:header_end if header_end >= 0 else end]
    last = len(text[:end].rstrip())
    if "+" in header.split("#", 1)[0] or header_end < 0 or last <= header_end:
        return (end, node.end_mark.column)
    return (last, last - _line_start(text, last))


def _leaves_end(text, node, start):
    """The furthest (index, column) of the scalars and flow collections of
    `node`; None if an alias points before `start`."""
    best = (node.end_mark.index, node.end_mark.column)
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        if node.start_mark.index < start:
            return None
        if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
            return _block_scalar_end(text, node)
        return best
    best = None
    children = node.value if isinstance(node, yaml.SequenceNode) else \
        [n for pair in node.value for n in pair]
    for child in children:
        end = _leaves_end(text, child, start)
        if end is None:
            return None
        if best is None or end > best:
            best = end
    return best


def scan_head(text, path, want):
    """Compose top-level entries from the top of `text` until they hold at
    least `want` jobs (or the list ends). Raises SpecError on bad YAML."""
    head = Head()
    loader = _head_loader(text)
    try:
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            head.insert_at = len(text)
            return head
        loader.get_event()  # document start
        if not loader.check_event(yaml.SequenceStartEvent):
            # Empty document, or not a list: the full parse reports the latter.
            if loader.check_event(yaml.ScalarEvent):
                event = loader.peek_event()
                if not event.style and event.value.strip() in yamlfile.NULLS:
                    if event.value:  # `~` or `null`: entries replace it
                        head.empty_flow = (event.start_mark.index, event.end_mark.index)
                    head.insert_at = len(text)
                    return head
            yamlfile.root_sequence(yamlfile.compose(text, path), path)
            head.insert_at = len(text)
            return head
        start_event = loader.get_event()
        if start_event.flow_style:
            if loader.check_event(yaml.SequenceEndEvent):
                head.empty_flow = (start_event.start_mark.index, loader.peek_event().end_mark.index)
            else:
                head.simple = False
            return head
        jobs = 0
        previous_end = 0
        while jobs < want and not loader.check_event(yaml.SequenceEndEvent):
            node = loader.compose_node(None, None)
            start = node.start_mark.index
            dash = text.rfind("-", previous_end, start)
            between = text[dash + 1:start] if dash >= 0 else None
            line_start = _line_start(text, dash)
            end = _leaves_end(text, node, start)
            if (dash < 0 or between.strip() or text[line_start:dash].strip()
                    or end is None or loader.anchors):
                head.simple = False
                return head
            end_index, end_column = end
            if end_column != 0:
                newline = text.find("\n", end_index)
                end_index = len(text) if newline < 0 else newline + 1
            if not head.items:
                head.column = dash - line_start
                head.insert_at = line_start
            entry = yamlfile.entries(yaml.SequenceNode("tag:yaml.org,2002:seq", [node]),
                                     path, "command")[0]
            problems = []
            if not check_job_keys(entry, problems):
                raise SpecError(problems)
            head.items.append(HeadItem(entry, line_start, end_index))
            jobs += job_count(entry)
            previous_end = end_index
        if head.insert_at is None:
            head.insert_at = len(text)  # a block list with no entry left
        return head
    except yaml.YAMLError as exc:
        raise yamlfile._syntax_error(exc, path) from None
    finally:
        loader.dispose()


def splice(text, head, taken_items, rest_jobs):
    """The new text of queue.yaml: the first `taken_items` entries of `head`
    removed, `rest_jobs` (what is left of the last one) in their place."""
    if taken_items == 0:
        return text
    first = head.items[0].start
    last = head.items[taken_items - 1].end
    rest = _newlines_of(text, "".join(job.canonical(head.column) for job in rest_jobs))
    # Keep what lies between consumed entries (comments, blank lines).
    kept = []
    for before, after in zip(head.items[:taken_items - 1], head.items[1:taken_items]):
        kept.append(text[before.end:after.start])
    return text[:first] + "".join(kept) + rest + text[last:]


def _newline(text):
    """The line end `text` uses: CRLF if its first line ends so, else LF."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _newlines_of(text, items_text):
    """`items_text` (written with LF) with the line ends `text` uses."""
    newline = _newline(text)
    return items_text if newline == "\n" else items_text.replace("\n", newline)


def insert_top(text, head, items_text):
    """`items_text` (canonical entries at column 0) put first in the list."""
    newline = _newline(text)
    items_text = _newlines_of(text, items_text)
    if head.empty_flow is not None:
        start, end = head.empty_flow
        prefix, suffix = text[:start], text[end:]
        if prefix and not prefix.endswith("\n"):
            prefix += newline
        rest_of_line = suffix.lstrip(" \t")
        if rest_of_line.startswith(("\n", "\r\n")):
            suffix = rest_of_line[rest_of_line.index("\n") + 1:]
        return prefix + items_text + suffix
    if head.column:
        items_text = _indent(items_text, head.column)
    at = head.insert_at if head.insert_at is not None else len(text)
    if at == len(text) and text and not text.endswith("\n"):
        items_text = newline + items_text
    return text[:at] + items_text + text[at:]


def _indent(items_text, column):
    pad = " " * column
    return "".join(pad + line if line.strip() else line
                   for line in items_text.splitlines(True))


class QueueChanged(Exception):
    """queue.yaml was changed by a writer that does not take the lock (an
    editor, `>>`) while we were taking from it: nothing was taken; try
    again."""


class QueueFile:
    """queue.yaml, its lock, and consumed.yaml.

    `validator(text)` checks a whole text as a runner would (parse, shapes,
    templates) and raises SpecError; it runs only when the text is not one
    this object wrote or checked itself. With a `journal`, every take is
    recorded there for crash recovery (see journal.py).
    """

    def __init__(self, path, consumed_path=None, validator=None, journal=None):
        self.path = path
        self.target = os.path.realpath(path)
        self.lock_path = self.target + LOCK_SUFFIX
        directory = os.path.dirname(self.target)
        self.consumed_path = consumed_path or os.path.join(directory, "consumed.yaml")
        self.validator = validator or validate_text
        self.journal = journal
        self.sidecar = sidecar_directory(self.target)
        self._trusted = None        # digest of the last text known valid
        self._trusted_stat = None   # stat_key of queue.yaml as we last wrote it
        self._lock = fasteners.InterProcessLock(self.lock_path)

    # --- the lock -------------------------------------------------------

    def _acquire(self, blocking, timeout=None):
        try:
            return self._lock.acquire(blocking=blocking, timeout=timeout)
        except threading.ThreadError as exc:  # fasteners: any error but "held"
            raise LockError(self.lock_path, str(exc.__context__ or exc)) from None
        except OSError as exc:  # opening the lock file
            raise LockError(self.lock_path, exc.strerror or str(exc)) from None

    def try_lock(self):
        """Take the lock if it is free; True if taken."""
        if not self._acquire(blocking=False):
            return False
        self._settle()
        return True

    def lock(self, timeout=None):
        if not self._acquire(blocking=True, timeout=timeout):
            raise PegasusError("timed out waiting for the lock on %s" % self.lock_path)
        self._settle()

    def unlock(self):
        self._lock.release()

    @contextlib.contextmanager
    def locked(self, timeout=None):
        self.lock(timeout)
        try:
            yield self
        finally:
            self.unlock()

    def _settle(self):
        """Every lock holder first settles the take of a writer that died
        holding the lock (journal.py); usually there is none."""
        try:
            if os.stat(os.path.join(self.sidecar, PENDING)).st_size == 0:
                return
        except FileNotFoundError:
            return
        resolve_pending(self.sidecar, self.stat_key())

    # --- reading --------------------------------------------------------

    def read(self):
        return yamlfile.read_text(self.target, "queue", name=self.path)

    def check(self, text, stat=None):
        """Validate `text` unless it is known good; raise SpecError."""
        if stat is not None and stat == self._trusted_stat:
            return  # the file is as we wrote it
        digest = _digest(text)
        if digest != self._trusted:
            self.validator(text, self.path)
            self._trusted = digest
        self._trusted_stat = stat

    def stat_key(self):
        """Changes whenever queue.yaml is rewritten or edited."""
        try:
            st = os.stat(self.target)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _read_checked(self):
        stat = self.stat_key()
        text = self.read()
        self.check(text, stat)
        return text, stat

    # --- taking ---------------------------------------------------------

    def take_locked(self, limit, accept=None):
        """Take up to `limit` jobs from the top; the caller holds the lock.

        `accept(job)` may refuse a job (a slot policy that must wait): taking
        stops there, FIFO. Returns the list of jobs taken. Raises
        QueueChanged if someone rewrote the file meanwhile without the lock.
        """
        text, stat = self._read_checked()
        head = scan_head(text, self.path, limit)
        if not head.simple:
            return self._take_rewriting(text, stat, limit, accept)
        taken, items_used, rest = _choose(
            [item.entry for item in head.items], limit, accept)
        if not taken:
            return []
        new_text = splice(text, head, items_used, rest)
        self._commit(new_text, stat, taken)
        return taken

    def _take_rewriting(self, text, stat, limit, accept):
        """Take from a file that cannot be edited in place: rewrite it whole,
        in canonical form (comments are lost; this happens only for
        flow-style lists and anchors)."""
        entries = yamlfile.entries(yamlfile.compose(text, self.path), self.path, "command")
        taken, items_used, rest = _choose(entries, limit, accept)
        if not taken:
            return []
        remaining = [job.canonical() for job in rest]
        remaining += [yamlfile.dump_values(entry) for entry in entries[items_used:]]
        self._commit("".join(remaining), stat, taken)
        return taken

    def _commit(self, new_text, stat, taken):
        """consumed.yaml first, then the journal, then queue.yaml."""
        self.record_consumed(taken)
        journal = self.journal
        txn = None

        def before_rename(temporary, inode):
            nonlocal txn
            if self.stat_key() != stat:
                raise QueueChanged()
            if journal is not None:
                for job in taken:
                    job.ticket = journal.new_ticket()
                txn = journal.begin(taken, inode, temporary)

        try:
            atomic_write(self.target, new_text, before_rename)
        except BaseException:
            if txn is not None:
                journal.abort(txn)
            raise
        if txn is not None:
            journal.commit(txn)
        self._trusted = None
        self._trusted_stat = self.stat_key()

    def record_consumed(self, jobs):
        """Append `jobs` to consumed.yaml and flush them to disk."""
        data = "".join(job.canonical() for job in jobs).encode("utf-8")
        fd = os.open(self.consumed_path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                     0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def replace(self, new_text):
        """Replace queue.yaml atomically with `new_text` (the caller holds
        the lock)."""
        atomic_write(self.target, new_text)
        self._trusted = None
        self._trusted_stat = self.stat_key()

    # --- putting back -------------------------------------------------------

    def put_back_locked(self, jobs):
        """Put `jobs` (Job values, or their canonical YAML) back at the top of
        the queue; the caller holds the lock. For jobs a dead runner never
        finished, and jobs whose host was lost."""
        text, _stat = self._read_checked()
        head = scan_head(text, self.path, 1)
        items = "".join(job if isinstance(job, str) else job.canonical() for job in jobs)
        if head.simple:
            new_text = insert_top(text, head, items)
        else:
            entries = yamlfile.entries(yamlfile.compose(text, self.path), self.path, "command")
            new_text = items + "".join(yamlfile.dump_values(e) for e in entries)
        self.replace(new_text)

    def recover_locked(self):
        """Put back the jobs of dead runners' journals; the caller holds the
        lock. Returns [(owner, number of jobs)]."""
        own = self.journal.path if self.journal is not None else None
        recovered = []
        for dead in dead_journals(self.sidecar, own):
            try:
                if dead.jobs:
                    self.put_back_locked(dead.jobs)
                    recovered.append((dead.owner, len(dead.jobs)))
            except BaseException:
                dead.release()
                raise
            dead.remove()
        return recovered


def _choose(entries, limit, accept):
    """Pick jobs from the first entries: (taken jobs, entries fully or
    partly used, jobs left of the last entry used)."""
    taken = []
    used = 0
    rest = []
    for entry in entries:
        jobs = expand_entry(entry)
        count = 0
        for job in jobs:
            if len(taken) >= limit or (accept is not None and not accept(job)):
                break
            taken.append(job)
            count += 1
        if count == 0:
            break
        used += 1
        if count < len(jobs):
            rest = jobs[count:]
            break
    return taken, used, rest


def atomic_write(target, text, before_rename=None):
    """Write `text` to `target` so that a crash leaves the old or the new
    file, never a torn one: temporary file beside it, fsync, rename. The
    file keeps its permissions.

    The directory is not fsynced: it costs as much as the other two fsyncs
    of a take together on a busy machine, and after a power loss that undoes
    the rename, the old file -- still valid, still holding the jobs -- is
    what remains: they may run twice, none is lost.

    `before_rename(temporary, inode)` runs between the fsync and the rename
    (the journal notes the inode that will be queue.yaml's if the rename
    happens); if it raises, nothing is replaced.
    """
    directory = os.path.dirname(target) or "."
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    fd, temporary = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".",
                                     suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
            inode = os.fstat(stream.fileno()).st_ino
        if before_rename is not None:
            before_rename(temporary, inode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def validate_text(text, path):
    """The checks every reader of queue.yaml makes: YAML, entry shapes and
    special keys. (Runners add template checks against their hosts.)"""
    return expand_queue(yamlfile.entries(yamlfile.compose(text, path), path, "command"))
