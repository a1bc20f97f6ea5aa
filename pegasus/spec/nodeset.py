"""Host ranges as pdsh and clush users write them: `node[01-16]`,
`gpu[1-3,7]`, `rack[1-2]-node[1-4]`; and the reverse, folding a list of
names back into that notation for gathered output."""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_ITEM = re.compile(r"^(\d+)(?:-(\d+)(?:/(\d+))?)?$")

# More names than this from one range is a typo (node[1-1000000] for
# node[1-100]), not a cluster: refuse it rather than run out of memory.
LIMIT = 100000


class RangeError(ValueError):
    """A host range that cannot be expanded; the message says why."""


class TooMany(RangeError):
    """A host range gives more names than the caller allows."""


def _expand_set(text: str) -> List[str]:
    """`01-03,7` -> ['01', '02', '03', '7']"""
    values = []
    for raw in text.split(","):
        item = raw.strip()
        match = _ITEM.match(item)
        if not match:
            raise RangeError(
                "'[%s]' is not a range: write numbers like [1-4,7] or [01-16]" % text)
        low, high, step = match.groups()
        if high is None:
            values.append(low)
            continue
        if int(high) < int(low):
            raise RangeError("range '%s' goes down: write it as %s-%s" % (item, high, low))
        if step is not None and int(step) < 1:
            raise RangeError("range '%s' has a step of 0" % item)
        width = _width(text, low, high)
        if (int(high) - int(low)) // int(step or 1) + 1 + len(values) > LIMIT:
            raise RangeError("'[%s]' gives more than %d names" % (text, LIMIT))
        for number in range(int(low), int(high) + 1, int(step or 1)):
            values.append(str(number).zfill(width))
    return values


def _padded(digits: str) -> bool:
    return len(digits) > 1 and digits.startswith("0")


def _width(text: str, low: str, high: str) -> int:
    """The zero padding of the range low-high: that of `low`. Bounds
    written with different padding (`1-044`, `001-44`) are ambiguous, as
    clush says too: which width did the user mean?"""
    if (_padded(high) and len(high) != len(low)) or (_padded(low) and len(high) < len(low)):
        width = max(len(low), len(high))
        raise RangeError(
            "'[%s]' is ambiguous: its bounds %s and %s are zero-padded differently; write "
            "both with the same width, [%s-%s] or [%d-%d]" % (
                text, low, high, low.zfill(width), high.zfill(width), int(low), int(high)))
    return len(low) if _padded(low) else 0


def expand(name: str, limit: int = LIMIT) -> List[str]:
    """Expand every `[...]` of `name`, leftmost varying slowest; TooMany if
    that gives more than `limit` names.

    A name without brackets expands to itself.
    """
    if limit < 1:
        raise TooMany("'%s' gives more names than allowed" % name)
    if "[" not in name and "]" not in name:
        return [name]
    pieces = []  # alternating literal text and lists of values
    position = 0
    for match in _BRACKETS.finditer(name):
        pieces.append([name[position:match.start()]])
        pieces.append(_expand_set(match.group(1)))
        position = match.end()
    count = 1
    for choices in pieces[1::2]:
        count *= len(choices)
    if count > LIMIT:
        raise RangeError("'%s' gives more than %d names" % (name, LIMIT))
    if count > limit:
        raise TooMany("'%s' gives more than %d names" % (name, limit))
    tail = name[position:]
    if "[" in tail or "]" in tail or any("[" in p[0] or "]" in p[0] for p in pieces[::2]):
        raise RangeError("unbalanced '[' or ']' in '%s'" % name)
    pieces.append([tail])
    names = [""]
    for choices in pieces:
        names = [prefix + choice for prefix in names for choice in choices]
    return names


def split_list(text: str) -> List[str]:
    """`node[1-3,7],gpu1 login` -> ['node[1-3,7]', 'gpu1', 'login']: commas
    and white space separate names, except inside brackets."""
    items: List[str] = []
    current: List[str] = []
    depth = 0
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if depth <= 0 and (char == "," or char.isspace()):
            if current:
                items.append("".join(current))
            current = []
            continue
        current.append(char)
    if current:
        items.append("".join(current))
    return items


class Unsupported(RangeError):
    """pdsh or clush syntax that pegasus does not implement."""


# What clush and pdsh read in a host list beyond names and ranges, and what
# to write instead; pegasus refuses it rather than pass it to ssh as a name.
_OPERATORS = (
    ("!", "'!' is clush's set difference, which pegasus does not implement: leave hosts "
          "out with -x"),
    ("&", "'&' is clush's set intersection, which pegasus does not implement: list the "
          "hosts you mean"),
    ("^", "'^' is clush's symmetric difference, which pegasus does not implement; pdsh's "
          "^FILE (hosts from a file) is a -w argument of its own: -w ^FILE"),
    ("*", "pegasus expands no wildcards: list the hosts, or write a range such as "
          "node[1-8]"),
    ("?", "pegasus expands no wildcards: list the hosts, or write a range such as "
          "node[1-8]"),
)


def check_item(item: str) -> None:
    """Unsupported if `item`, one element of a host list, is pdsh or clush
    syntax that pegasus does not implement."""
    if item.startswith("@"):
        raise Unsupported(
            "'%s' is a clush node group, and pegasus has no groups: list its hosts (for "
            "example -w \"$(nodeset -f %s)\"), or put them in a file and use -w ^FILE"
            % (item, item))
    if item == "-":
        raise Unsupported("'-' reads the hosts from stdin only as a -w of its own: -w -")
    if item.startswith("-"):
        raise Unsupported("'%s': pdsh's '-host' exclusion is not implemented: use -x %s"
                          % (item, item[1:]))
    if item.startswith("/"):
        raise Unsupported("'%s': pdsh's /regex/ filter is not implemented: list the hosts"
                          % item)
    outside = _BRACKETS.sub("", item)
    for char, message in _OPERATORS:
        if char in outside:
            raise Unsupported("'%s': %s" % (item, message))


def expand_list(text: str, limit: int = LIMIT) -> List[str]:
    """Every name of a pdsh/clush-style host list, in order, each once;
    Unsupported for syntax of theirs that pegasus does not implement."""
    names: Dict[str, None] = {}
    for item in split_list(text):
        check_item(item)
        for name in expand(item, limit=limit - len(names)):
            names[name] = None
    return list(names)


_LAST_NUMBER = re.compile(r"^(.*?)(\d+)(\D*)$")


def fold(names: Iterable[str]) -> str:
    """Fold names into range notation, keeping first-seen order of groups.

    ['node1', 'node2', 'node3', 'node7', 'login'] -> 'node[1-3,7],login'
    Names are grouped by the text around their last number. Zero-padded
    numbers fold only with numbers of the same width, so that the folded
    form expands back to the very same names.
    """
    groups: dict = {}
    for name in names:
        match = _LAST_NUMBER.match(name)
        if match:
            prefix, digits, suffix = match.groups()
            groups.setdefault((prefix, suffix), []).append(digits)
        else:
            groups.setdefault((name, None), [])
    parts = []
    for (prefix, suffix), numbers in groups.items():
        if suffix is None:
            parts.append(prefix)
            continue
        padded = {len(d) for d in numbers if len(d) > 1 and d.startswith("0")}
        by_width: dict = {}
        for digits in numbers:
            width = len(digits) if len(digits) in padded else 0
            by_width.setdefault(width, set()).add(digits)
        for width in sorted(by_width):
            parts.append(_fold_numbers(prefix, sorted(by_width[width], key=int), suffix))
    return ",".join(parts)


def _fold_numbers(prefix: str, numbers: Sequence[str], suffix: str) -> str:
    if len(numbers) == 1:
        return prefix + numbers[0] + suffix
    spans = []
    start = previous = numbers[0]
    for digits in numbers[1:]:
        if int(digits) != int(previous) + 1:
            spans.append((start, previous))
            start = digits
        previous = digits
    spans.append((start, previous))
    text = ",".join(a if a == b else "%s-%s" % (a, b) for a, b in spans)
    return "%s[%s]%s" % (prefix, text, suffix)


def fold_hosts(hosts: Iterable[Tuple[str, Mapping[str, object]]]) -> str:
    """(hostname, params) pairs in range notation: those with the same
    parameters fold by name, e.g. `node[1-3,7] (gpu=0),node[1-2] (gpu=1)`."""
    groups: dict = {}
    for hostname, params in hosts:
        text = ",".join("%s=%s" % kv for kv in params.items())
        groups.setdefault(text, []).append(hostname)
    return ",".join(fold(names) + (" (%s)" % text if text else "")
                    for text, names in groups.items())
