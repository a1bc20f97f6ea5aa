"""The text surgery of queue.yaml, pure: where the top entries are, what the
file becomes when jobs are taken from its top or put back there, or when
entries are appended. No I/O and no locking here: queuefile.py does those.

Taking a job edits the text rather than re-dumping it: only the lines of the
entries taken are replaced (by the rest of a multi-job entry, in canonical
form), so every other byte -- comments, blank lines, quoting, block scalars,
key order, line ends -- stays as the user wrote it. Only the head of the file
is parsed.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple

import yaml

from ..errors import SpecError
from ..spec import canonical, yamlerrors, yamlfile, yamlstream
from ..spec.jobs import Job, check_job_keys, iter_jobs, job_count


def _head_loader(text: str) -> Any:
    """A loader that composes one node at a time, on libyaml's events when
    PyYAML has them. libyaml reads the text a piece at a time, so that a
    take from a big file reads (and copies) little more than its head."""
    from yaml.composer import Composer
    from yaml.resolver import Resolver
    parser: Any = getattr(getattr(yaml, "_yaml", None), "CParser", None)
    if parser is not None:
        class Loader(parser, Composer, Resolver):
            def __init__(self, stream: Any):
                parser.__init__(self, stream)
                Composer.__init__(self)
                Resolver.__init__(self)
        return Loader(yamlstream.Pieces(text))
    return yaml.SafeLoader(text)


class HeadItem:
    """One top-level entry found by scanning the head: its text span."""

    __slots__ = ("entry", "start", "end")

    def __init__(self, entry: yamlfile.Entry, start: int, end: int):
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

    def __init__(self) -> None:
        self.items: List[HeadItem] = []
        self.column = 0
        self.insert_at: Optional[int] = None
        self.simple = True
        self.empty_flow: Optional[Tuple[int, int]] = None  # a `[]`, `~` or `null` root


def _line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def _block_scalar_end(text: str, node: yaml.Node) -> Tuple[int, int]:
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


def _leaves_end(text: str, node: yaml.Node, start: int) -> Optional[Tuple[int, int]]:
    """The furthest (index, column) of the scalars and flow collections of
    `node`; None if an alias points before `start`."""
    best: Optional[Tuple[int, int]] = (node.end_mark.index, node.end_mark.column)
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


def scan_head(text: str, path: str, want: int) -> Head:
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
            return _not_a_block_list(loader, head, text, path)
        start_event = loader.get_event()
        if start_event.flow_style:
            if loader.check_event(yaml.SequenceEndEvent):
                head.empty_flow = (start_event.start_mark.index, loader.peek_event().end_mark.index)
            else:
                head.simple = False
            return head
        _scan_items(loader, head, text, path, want)
        if head.insert_at is None:
            head.insert_at = len(text)  # a block list with no entry left
        return head
    except yaml.YAMLError as exc:
        raise yamlerrors.syntax_error(exc, path) from None
    finally:
        loader.dispose()


def _not_a_block_list(loader: Any, head: Head, text: str, path: str) -> Head:
    """An empty document (`~`, `null`, nothing: an empty queue), or a root
    that is not a list, which the full parse reports."""
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


def _scan_items(loader: Any, head: Head, text: str, path: str, want: int) -> None:
    """The entries of a block list, from its top, until `want` jobs."""
    jobs = 0
    previous_end = 0
    while jobs < want and not loader.check_event(yaml.SequenceEndEvent):
        node = loader.compose_node(None, None)
        start = node.start_mark.index
        dash = text.rfind("-", previous_end, start)
        between = text[dash + 1:start] if dash >= 0 else ""
        line_start = _line_start(text, dash)
        end = _leaves_end(text, node, start)
        if (dash < 0 or between.strip() or text[line_start:dash].strip()
                or end is None or loader.anchors):
            head.simple = False
            return
        end_index, end_column = end
        if end_column != 0:
            newline = text.find("\n", end_index)
            end_index = len(text) if newline < 0 else newline + 1
        if not head.items:
            head.column = dash - line_start
            head.insert_at = line_start
        entry = yamlfile.entries(yaml.SequenceNode("tag:yaml.org,2002:seq", [node]),
                                 path, "command")[0]
        problems: list = []
        if not check_job_keys(entry, problems):
            raise SpecError(problems)
        head.items.append(HeadItem(entry, line_start, end_index))
        jobs += job_count(entry)
        previous_end = end_index


def splice(text: str, head: Head, taken_items: int, rest_jobs: Iterable[Job]) -> str:
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


def _newline(text: str) -> str:
    """The line end `text` uses: CRLF if its first line ends so, else LF."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _newlines_of(text: str, items_text: str) -> str:
    """`items_text` (written with LF) with the line ends `text` uses."""
    newline = _newline(text)
    return items_text if newline == "\n" else items_text.replace("\n", newline)


def insert_top(text: str, head: Head, items_text: str) -> str:
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


def _indent(items_text: str, column: int) -> str:
    pad = " " * column
    return "".join(pad + line if line.strip() else line
                   for line in items_text.splitlines(True))


def append_bottom(text: str, head: Head, items_text: str) -> str:
    """`items_text` (canonical entries at column 0) put last in the list."""
    if head.column:
        items_text = _indent(items_text, head.column)
    items_text = _newlines_of(text, items_text)
    if text and not text.endswith("\n"):
        text += _newline(text)
    return text + items_text


def last_entry_start(text: str) -> Optional[int]:
    """Where the last entry of a block list starts: the offset of the line of
    its '-' (an entry still being written may not parse yet, so this reads
    lines, not YAML). None when the text holds no entry, or is not a block
    list (a flow-style list, a single value): there is no last entry to
    wait for then."""
    first = _first_content_line(text)
    if first is None:
        return None
    offset, indent = first
    if not _is_item(text, offset + indent):
        return None
    needle = "\n" + " " * indent + "-"
    end = len(text)
    while True:
        found = text.rfind(needle, offset, end)
        if found < 0:
            return offset
        if _is_item(text, found + len(needle) - 1):
            return found + 1
        end = found


def _first_content_line(text: str) -> Optional[Tuple[int, int]]:
    """(offset, indentation) of the first line that is not blank, a
    comment, a directive or the document start."""
    offset = 0
    while offset < len(text):
        newline = text.find("\n", offset)
        end = len(text) if newline < 0 else newline + 1
        line = text[offset:end]
        body = line.lstrip(" ")
        word = body.rstrip("\r\n")
        if word and not word.startswith(("#", "%")) and not (
                line.startswith("---") and word[3:4] in ("", " ", "\t")):
            return offset, len(line) - len(body)
        offset = end
    return None


def _is_item(text: str, dash: int) -> bool:
    """Whether the '-' at `dash` begins a list item ('- ', or alone on its line)."""
    return text[dash:dash + 1] == "-" and (dash + 1 == len(text) or text[dash + 1] in " \t\r\n")


class Candidates:
    """The jobs at the top of the queue, in order, from the first entries,
    as offered to a take: no more than `limit` of them are made, however
    many an entry expands to."""

    __slots__ = ("entries", "jobs")

    def __init__(self, entries: Sequence, limit: int):
        self.entries: List[Any] = []
        self.jobs: List[Job] = []
        for entry in entries:
            if len(self.jobs) >= limit:
                break
            self.entries.append(entry)
            self.jobs.extend(itertools.islice(iter_jobs(entry), limit - len(self.jobs)))

    def split(self, count: int) -> Tuple[int, Iterator[Job]]:
        """Taking the first `count` jobs: how many entries are used (fully or
        partly), and the jobs left of the last one used (made one at a time,
        as they are written back)."""
        used = 0
        left = count
        for entry in self.entries:
            if left <= 0:
                break
            used += 1
            jobs = job_count(entry)
            if left < jobs:
                return used, itertools.islice(iter_jobs(entry), left, None)
            left -= jobs
        return used, iter(())


def with_items(text: str, cut: int, path: str, items: str, top: bool) -> str:
    """`text` with `items` (YAML list items at column 0) at its top or its
    bottom; what follows `cut` (an entry still being written) stays last."""
    being_written = text[cut:]
    head = scan_head(text[:cut], path, 1)
    if being_written and not head.items:
        head.column = len(being_written) - len(being_written.lstrip(" "))
    if not head.simple:
        entries = yamlfile.entries(yamlfile.compose(text[:cut], path), path, "command")
        old = "".join(canonical.dump_values(e) for e in entries)
        return (items + old if top else old + items) + being_written
    if top or head.empty_flow is not None:
        return insert_top(text, head, items)
    if being_written:
        head.insert_at = cut   # before the entry still being written
        return insert_top(text, head, items)
    return append_bottom(text, head, items)


class TopJobs:
    """The first jobs of a queue's text, offered for a take (`candidates`),
    and the text that is left once the first N are taken (`rest`)."""

    def __init__(self, text: str, head: Head, entries: List[yamlfile.Entry],
                 candidates: Candidates):
        self.text = text
        self.head = head
        self.entries = entries     # a text rewritten whole: all its entries
        self.candidates = candidates

    @classmethod
    def of(cls, text: str, cut: int, path: str, limit: int) -> Optional[TopJobs]:
        """The first jobs (at most `limit`) of `text`, of which what follows
        `cut` is still being written; None if nothing can be taken until it
        has settled. Raises SpecError."""
        try:
            head = scan_head(text[:cut], path, limit)
        except SpecError:
            if cut == len(text):
                raise
            return None  # cut inside an entry that is not what it seemed: once it has settled
        if head.simple:
            return cls(text, head, [], Candidates([item.entry for item in head.items], limit))
        if cut < len(text):
            return None  # rewritten whole, but only once its last entry is complete
        # a flow-style list or anchors: rewritten whole, in canonical form
        entries = yamlfile.entries(yamlfile.compose(text, path), path, "command")
        return cls(text, head, entries, Candidates(entries, limit))

    def rest(self, count: int) -> str:
        """The text without its first `count` jobs."""
        items_used, rest = self.candidates.split(count)
        if self.head.simple:
            return splice(self.text, self.head, items_used, rest)
        return "".join([job.canonical() for job in rest] + [
            canonical.dump_values(entry) for entry in self.entries[items_used:]])
