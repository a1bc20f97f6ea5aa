"""Reading hosts.yaml and queue.yaml into entries, and writing entries back
in canonical form.

Every scalar is kept as the literal text the user wrote: the node tree is
composed but never constructed, so YAML 1.1 resolution (`on` -> True,
`08` -> 8, `1e-4` -> 0.0001) never happens. Every entry remembers its line.
"""

from __future__ import annotations

import os
import stat
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from ..errors import Problem, SpecError
from ..fsutil import read_all
from .yamlerrors import line_of, syntax_error

# libyaml's parser when PyYAML was built with it: about 8x faster.
Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Value:
    """One key of an entry: its scalars, and whether they were a list."""

    __slots__ = ("items", "is_list", "line")

    def __init__(self, items: List[str], is_list: bool, line: Optional[int]) -> None:
        self.items = items
        self.is_list = is_list
        self.line = line


class Entry:
    """One item of the top-level list, before cartesian expansion.

    `values` maps each key, in file order, to a Value. A bare-string entry
    is stored under the file's main key (`command` or `hostname`).
    """

    __slots__ = ("path", "line", "values", "bare")

    def __init__(self, path: str, line: Optional[int], values: Dict[str, Value],
                 bare: bool) -> None:
        self.path = path
        self.line = line
        self.values = values
        self.bare = bare


def read_text(path: str, what: str, name: Optional[str] = None) -> str:
    """Return the text of `path`, or raise SpecError saying why it cannot be
    read (missing, a directory, not UTF-8, binary). Messages call the file
    `name` (the path as the user wrote it), `path` by default."""
    name = path if name is None else name
    option = "-Q" if what == "queue" else "-H"
    try:
        # Non-blocking: opening a FIFO must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise SpecError.at(name, None, "no such file",
                           "create it, or name another %s file with %s" % (what, option)) from None
    except OSError as exc:
        raise SpecError.at(name, None, "cannot be read: %s" % exc.strerror) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise SpecError.at(name, None, "is a directory, not a %s file" % what,
                               "name the %s file itself with %s, e.g. %s %s/%s.yaml"
                               % (what, option, option, name.rstrip("/"), what))
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else (
                "a socket" if stat.S_ISSOCK(mode) else "a device")
            raise SpecError.at(name, None, "is %s, not a regular file" % kind,
                               "pegasus reads its %s file whole, from a regular file: write "
                               "the YAML to a file and name it with %s" % (what, option))
        data = read_all(fd)
    finally:
        os.close(fd)
    return decode(data, name)


def decode(data: bytes, path: str, open_end: bool = False) -> str:
    """The text of `data`, or SpecError. With `open_end`, a character cut
    at the very end (a writer is in the middle of writing it) is kept as
    escaped bytes (surrogateescape), not an error."""
    if b"\0" in data:
        line = data.count(b"\n", 0, data.index(b"\0")) + 1
        raise SpecError.at(path, line, "holds a NUL byte: this is a binary file, not YAML",
                           "check that this is the file you meant: pegasus reads YAML text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if open_end and exc.end == len(data) and exc.reason == "unexpected end of data":
            text = data[:exc.start].decode("utf-8") + data[exc.start:].decode(
                "utf-8", "surrogateescape")
            return text[1:] if text.startswith("\ufeff") else text
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError.at(path, line, "is not UTF-8 text (byte 0x%02x)" % data[exc.start],
                           "save the file as UTF-8") from None
    return text[1:] if text.startswith("\ufeff") else text


def cut_character(text: str) -> bool:
    """Whether `text` (from decode with `open_end`) ends in a character cut
    short, kept as escaped bytes."""
    return "\udc80" <= text[-1:] <= "\udcff"


def compose(text: str, path: str) -> Optional[yaml.Node]:
    """Parse `text` into a node tree; None for an empty document."""
    try:
        return yaml.compose(text, Loader=Loader)
    except yaml.composer.ComposerError as exc:
        if "single document" in str(exc):
            raise SpecError.at(path, line_of(exc.problem_mark), "holds more than one YAML document",
                               "remove the '---' line: the file is one list") from None
        raise syntax_error(exc, path, text) from None
    except yaml.YAMLError as exc:
        raise syntax_error(exc, path, text) from None


NULLS = ("", "~", "null", "Null", "NULL")


def is_null(node: Optional[yaml.Node]) -> bool:
    """Whether a root node is YAML's null (`~`, `null`, or nothing): an empty
    queue. (A plain scalar's style is None in PyYAML, '' in libyaml.)"""
    return (isinstance(node, yaml.ScalarNode) and not node.style
            and node.value.strip() in NULLS)


def root_sequence(node: Optional[yaml.Node], path: str,
                  main_key: str = "command") -> List[yaml.Node]:
    """Return the top-level list's nodes; raise if the root is not a list."""
    if node is None:
        return []
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if is_null(node):
        return []
    kind = "a mapping" if isinstance(node, yaml.MappingNode) else "a single value"
    raise SpecError.at(path, line_of(node.start_mark),
                       "the top level must be a list, but it is %s" % kind,
                       "start each entry with '- ', e.g. '- %s'" % (
                           "node-1" if main_key == "hostname" else "echo hello"))


MERGE_TAG = "tag:yaml.org,2002:merge"


def _aliased(node: yaml.Node, key_node: yaml.Node) -> bool:
    """Whether `node`, the value of `key_node`, is an alias (`*name`): the
    node it names was written earlier in the file, where its anchor is."""
    return node.start_mark.index < key_node.start_mark.index


def _scalar_items(key_node: yaml.Node, node: yaml.Node, path: str,
                  problems: List[Problem]) -> Tuple[Optional[List[str]], bool]:
    """A value node -> (list of str, is_list), recording problems. A
    problem is told where the key is; through an alias, the line of its
    anchor too."""
    key = key_node.value
    line = line_of(key_node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        return [node.value], False
    if _aliased(node, key_node) and not _plain_values(node):
        problems.append(Problem(path, line,
                                "'%s' is an alias of what line %d holds, which is not a value "
                                "nor a list of values" % (key, line_of(node.start_mark)),
                                "an alias (*name) may stand for a value or a list of values; "
                                "write this one out"))
        return None, False
    if isinstance(node, yaml.MappingNode):
        problems.append(Problem(path, line,
                                "'%s' holds a mapping; a value must be a string or a "
                                "list of strings" % key,
                                "quote a value holding ': ' or '{', e.g. %s: 'a: b'" % key))
        return None, False
    items = []
    for item in node.value:
        if isinstance(item, yaml.ScalarNode):
            items.append(item.value)
        else:
            if isinstance(item, yaml.SequenceNode):
                kind, hint = "a list inside a list", "flatten it to one list: %s: [a, b, c]" % key
            else:
                kind, hint = "a mapping", "quote an item holding ': ', e.g. - 'a: b'"
            problems.append(Problem(path, line_of(item.start_mark),
                                    "'%s' holds %s; a list may only hold plain values"
                                    % (key, kind), hint))
            return None, True
    if not items:
        problems.append(Problem(path, line_of(node.start_mark),
                                "'%s' is an empty list, so this entry expands to nothing" % key,
                                "give it at least one value, or remove the key"))
        return None, True
    return items, True


def _plain_values(node: yaml.Node) -> bool:
    """A list of scalars (what an alias may stand for, besides a scalar)."""
    return isinstance(node, yaml.SequenceNode) and bool(node.value) and all(
        isinstance(item, yaml.ScalarNode) for item in node.value)


def entries(node: Optional[yaml.Node], path: str, main_key: str,
            instead: Sequence[str] = ()) -> List[Entry]:
    """Turn the root node into Entry objects, checking their shape. A
    mapping entry holds `main_key` or one of the keys `instead` (hosts.yaml:
    `slurm`), not two of them.

    Every problem found is collected and raised together as one SpecError.
    """
    problems: List[Problem] = []
    result = []
    for item in root_sequence(node, path, main_key):
        entry = entry_of(item, path, main_key, instead, problems)
        if entry is not None:
            result.append(entry)
    for entry in result:
        check_characters(entry, problems)
    if problems:
        raise SpecError(problems)
    return result


def entry_of(item: yaml.Node, path: str, main_key: str, instead: Sequence[str],
             problems: List[Problem]) -> Optional[Entry]:
    """One item of the top-level list as an Entry; None, with its problems
    recorded, if it is badly shaped."""
    line = item.start_mark.line + 1
    if isinstance(item, yaml.ScalarNode):
        if item.value.strip() == "":
            problems.append(Problem(path, line, "empty entry",
                                    "write a %s after the '- ', or delete the line" % main_key))
            return None
        return Entry(path, line, {main_key: Value([item.value], False, line)}, True)
    if isinstance(item, yaml.SequenceNode):
        problems.append(Problem(path, line, "this entry is a list inside the top-level list",
                                "each entry is a string or a mapping with a '%s' key;"
                                " remove the extra '- '" % main_key))
        return None
    values = _mapping_values(item, path, problems)
    if values is None:
        return None
    key = _entry_key(item, values, path, line, (main_key, *instead), problems)
    if key is None:
        return None
    if any(v.strip() == "" for v in values[key].items):
        problems.append(Problem(path, values[key].line, "'%s' is empty" % key,
                                "give it a value, or delete the entry"))
        return None
    return Entry(path, line, values, False)


def _mapping_values(item: yaml.Node, path: str,
                    problems: List[Problem]) -> Optional[Dict[str, Value]]:
    """A mapping entry's keys -> Value, in file order; None (with the
    problems recorded) if a key or value is malformed."""
    values: Dict[str, Value] = {}
    broken = False
    for key_node, value_node in item.value:
        if not isinstance(key_node, yaml.ScalarNode):
            problems.append(Problem(path, line_of(key_node.start_mark),
                                    "a key must be a plain name",
                                    "keys are names such as 'command' or 'gpu'"))
            broken = True
            continue
        key = key_node.value
        if key_node.tag == MERGE_TAG:
            problems.append(Problem(path, line_of(key_node.start_mark),
                                    "'<<' (a YAML merge key) is not supported: pegasus reads "
                                    "each entry's keys as written",
                                    "write the keys out in this entry; an alias (*name) may "
                                    "stand for a value or a list of values, e.g. gpu: *gpus"))
            broken = True
            continue
        if key in values:
            problems.append(Problem(path, line_of(key_node.start_mark),
                                    "'%s' appears twice in this entry" % key,
                                    "keep one of them"))
            broken = True
            continue
        items, is_list = _scalar_items(key_node, value_node, path, problems)
        if items is None:
            broken = True
            continue
        values[key] = Value(items, is_list, line_of(key_node.start_mark))
    return None if broken else values


def check_characters(entry: Entry, problems: List[Problem]) -> None:
    """A value with a NUL character (YAML's "\\0") can be neither a command
    line nor a host name: refuse it here, before anything runs."""
    for key, value in entry.values.items():
        if "\0" in value.items[0] or any("\0" in item for item in value.items[1:]):
            problems.append(Problem(entry.path, value.line,
                                    "the value of '%s' holds a NUL character (\\0), which no "
                                    "command line can carry" % key,
                                    "remove the \\0 (or \\x00) escape"))


def _entry_key(item: yaml.Node, values: Dict[str, Value], path: str, line: int,
               keys: Sequence[str], problems: List[Problem]) -> Optional[str]:
    """The one of `keys` (the main key first) that a mapping entry holds;
    None, with the problem recorded, if it holds none or several."""
    held = [key for key in keys if key in values]
    if len(held) == 1:
        return held[0]
    if held:
        problems.append(Problem(path, values[held[1]].line,
                                "this entry has both '%s' and '%s'" % (held[0], held[1]),
                                "an entry takes its hosts from one of them: make it two "
                                "entries"))
    else:
        problems.append(_missing_main_key(item, values, path, line, keys[0], keys[1:]))
    return None


def _missing_main_key(item: yaml.Node, values: Dict[str, Value], path: str, line: int,
                      main_key: str, instead: Sequence[str] = ()) -> Problem:
    """The problem of a mapping entry without its main key. When its one key
    holds a space, it is most likely a bare string holding ': ', which YAML
    reads as a mapping: say so."""
    if len(values) == 1:
        (key, value), = values.items()
        key_node, value_node = item.value[0]
        if (not value.is_list and any(c.isspace() for c in key)
                and key_node.start_mark.line == value_node.end_mark.line):
            text = "%s: %s" % (key, value.items[0])
            return Problem(path, line,
                           "this entry reads as a mapping from '%s' to '%s' (because of "
                           "': '), and has no '%s' key" % (key, value.items[0], main_key),
                           "quote the whole %s: - '%s'" % (main_key, text.replace("'", "''")))
    others = "".join(" (or '%s: ...')" % key for key in instead)
    return Problem(path, line, "this entry has no '%s' key" % main_key,
                   "add '%s: ...'%s, or write the entry as a plain string" % (main_key, others))


def load_entries(path: str, what: str, main_key: str, instead: Sequence[str] = ()) -> List[Entry]:
    """Read, parse and shape-check a whole file."""
    text = read_text(path, what)
    return entries(compose(text, path), path, main_key, instead)
