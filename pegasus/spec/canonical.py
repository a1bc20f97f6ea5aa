"""Writing entries back as YAML, in canonical form: what queue.yaml holds
for the rest of a taken entry, consumed.yaml and the journals hold for each
job, and `pegasus l --append` writes. Reads back as the same strings."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from .yamlfile import Entry

# Characters YAML reads back as themselves anywhere: printable, and not a
# line break (U+0085, U+2028, U+2029) nor a byte order mark. Everything else
# is written as an escape in double quotes. Written as what is left out
# (besides tab and newline): the same set as its ranges (20-7E, A0-2027,
# 202A-D7FF, E000-FEFE, FF00-FFFD, 10000-10FFFF), which re takes
# ten milliseconds to compile, at every start.
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff"
# A plain scalar may not start with white space or an indicator character.
_PLAIN = re.compile(r"(?![\s\-?:,\[\]{}#&*!|>'\"%@`])[^\t\n" + _UNSAFE + "]+")
_SINGLE = re.compile("[^\n" + _UNSAFE + "]*")          # fits in '...' on one line
_BLOCK = re.compile("[^" + _UNSAFE + "]*")              # fits in a literal block


def _is_plain(text: str) -> bool:
    return (_PLAIN.fullmatch(text) is not None
            and text == text.rstrip()
            and ": " not in text and " #" not in text
            and not text.endswith(":"))


def _double_quoted(text: str) -> str:
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif _SINGLE.fullmatch(char) is None:
            code = ord(char)
            out.append("\\x%02x" % code if code < 0x100 else
                       "\\u%04x" % code if code < 0x10000 else "\\U%08x" % code)
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def scalar(text: str, indent: int) -> str:
    """YAML for the string `text` as a value whose key sits at column
    `indent`: plain when that reads back the same, else quoted or a literal
    block for multi-line commands."""
    if _is_plain(text):
        return text
    if "\n" in text and _BLOCK.fullmatch(text) \
            and not text.startswith((" ", "\t", "\n")) and text.strip("\n"):
        body = text.rstrip("\n")
        trailing = len(text) - len(body)
        chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
        pad = " " * (indent + 2)
        lines = [(pad + line) if line else "" for line in body.split("\n")]
        lines.extend([""] * (trailing - 1))
        return "|" + chomp + "\n" + "\n".join(lines)
    if _SINGLE.fullmatch(text):
        return "'" + text.replace("'", "''") + "'"
    return _double_quoted(text)


def key_scalar(text: str) -> str:
    """YAML for the string `text` as a key: like `scalar`, but never a block."""
    if _is_plain(text):
        return text
    if _SINGLE.fullmatch(text):
        return "'" + text.replace("'", "''") + "'"
    return _double_quoted(text)


def dump_entry(pairs: Iterable[Tuple[str, str]], column: int = 0) -> str:
    """Canonical YAML for one list item: `- key: value` lines, the dash at
    `column`. `pairs` is a sequence of (key, str)."""
    lines = []
    pad = " " * column
    for number, (key, value) in enumerate(pairs):
        lead = pad + ("- " if number == 0 else "  ")
        lines.append("%s%s: %s\n" % (lead, key_scalar(key), scalar(value, column + 2)))
    return "".join(lines)


def _flow_list(items: Sequence[str]) -> Optional[str]:
    """`[a, b]` when every item reads back the same inside a flow list."""
    if all(_is_plain(item) and not any(c in item for c in ",[]{}") for item in items):
        return "[" + ", ".join(items) + "]"
    return None


def dump_values(entry: Entry) -> str:
    """An entry with its lists, as one YAML list item: short lists on one
    line, others as block lists."""
    lines = []
    for number, (key, value) in enumerate(entry.values.items()):
        lead = "- " if number == 0 else "  "
        if value.is_list:
            flow = _flow_list(value.items)
            if flow is not None:
                lines.append("%s%s: %s\n" % (lead, key_scalar(key), flow))
                continue
            lines.append("%s%s:\n" % (lead, key_scalar(key)))
            lines.extend("    - %s\n" % scalar(item, 6) for item in value.items)
        else:
            lines.append("%s%s: %s\n" % (lead, key_scalar(key), scalar(value.items[0], 2)))
    return "".join(lines)
