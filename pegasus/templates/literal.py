"""Literals in templates, as handlebars-rust 4.3 reads them: JSON strings in
double or single quotes, JSON numbers (`1`, `-2`, `3.5`, `1E-3`), `true`,
`false`, `null`, lists and objects of literals. Parsed into plain values;
nothing of the source text is kept verbatim.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, NoReturn, Optional, Tuple, Union

_NUMBER = re.compile(r"-?[0-9]+\.?[0-9]*(?:E-?[0-9]+)?")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:E-?[0-9]+)?")
_STRING_ESCAPES = frozenset('"\\/bfnrtu\'')
_LONGEST_INTEGER = 2 ** 64


class SyntaxTrouble(Exception):
    """The template does not parse: what, where (an offset) and what to do."""

    def __init__(self, what: str, offset: int, hint: Optional[str] = None):
        super().__init__(what)
        self.what = what
        self.offset = offset
        self.hint = hint


class Literal:
    """A JSON value written in the template: a string, number, list..."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Literal(%r)" % (self.value,)


def is_name_char(char: str) -> bool:
    return (char.isascii() and (char.isalnum() or char in "-_$")) or char >= "\x80"


def _sorted_object(pairs: Iterable[Tuple[str, Any]]) -> Dict[str, Any]:
    # serde_json's map (no preserve_order feature) keeps keys sorted; the last
    # of duplicate keys wins.
    return dict(sorted(dict(pairs).items()))


def _no_constant(name: str) -> NoReturn:
    raise ValueError(name)


def decode_json_string(body: str) -> str:
    """`body` (what is between double quotes, JSON-escaped) as text."""
    value = json.loads('"%s"' % body, parse_constant=_no_constant)
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise ValueError("lone surrogate")
    return value


class Cursor:
    """A position in `source`, and the character-level steps of parsing."""

    def __init__(self, source: str, pos: int):
        self.source = source
        self.pos = pos

    def peek(self, ahead: int = 0) -> str:
        at = self.pos + ahead
        return self.source[at] if at < len(self.source) else ""

    def startswith(self, text: str) -> bool:
        return self.source.startswith(text, self.pos)

    def skip_space(self) -> bool:
        start = self.pos
        while self.peek() in (" ", "\t", "\n", "\r") and self.peek():
            self.pos += 1
        return self.pos > start

    def word_end(self, at: int) -> bool:
        return at >= len(self.source) or not is_name_char(self.source[at])

    def name(self) -> str:
        start = self.pos
        while self.peek() and is_name_char(self.peek()):
            self.pos += 1
        return self.source[start:self.pos]

    def fail(self, what: str, hint: Optional[str] = None, at: Optional[int] = None) -> NoReturn:
        raise SyntaxTrouble(what, self.pos if at is None else at, hint)



class LiteralParser(Cursor):
    """Parses the literals of a template."""

    def literal(self) -> Optional[Literal]:
        char = self.peek()
        if char in ("\"", "'"):
            return Literal(self.string())
        if char == "[" or char == "{":
            save = self.pos
            try:
                return Literal(self.array() if char == "[" else self.object())
            except SyntaxTrouble:
                if char == "{":
                    raise
                self.pos = save
                return None
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.startswith(word) and self.word_end(self.pos + len(word)):
                self.pos += len(word)
                return Literal(value)
        match = _NUMBER.match(self.source, self.pos)
        if match and self.word_end(match.end()):
            return Literal(self.number(match))
        return None

    def number(self, match: re.Match[str]) -> Union[int, float]:
        text = match.group()
        if not _JSON_NUMBER.fullmatch(text):
            self.fail("'%s' is not a valid number" % text,
                      "numbers are written as in JSON: 3, -1, 0.5, 1E-3")
        self.pos = match.end()
        # serde_json: an integer that fits 64 bits, else a float.
        if "." not in text and "E" not in text and len(text) <= 21 and \
                -_LONGEST_INTEGER // 2 <= int(text) < _LONGEST_INTEGER:
            return int(text)
        value = float(text)
        if value in (float("inf"), float("-inf")):
            self.fail("'%s' is out of range" % text, at=match.start())
        return value

    def string(self) -> str:
        start = self.pos
        quote = self.peek()
        self.pos += 1
        body = []
        while True:
            char = self.peek()
            if not char:
                self.fail("the string is never closed with %s" % quote,
                          "close it with a matching quote; write a quote inside it as \\%s"
                          % quote, at=start)
            self.pos += 1
            if char == quote:
                break
            if char == "\\":
                escaped = self.peek()
                if escaped not in _STRING_ESCAPES or escaped == ("'" if quote == '"' else '"'):
                    self.fail("the string has an unknown escape '\\%s'" % escaped,
                              "strings are JSON strings: \\\" \\\\ \\/ \\b \\f \\n \\r \\t "
                              "\\uXXXX (and \\' in single quotes)", at=start)
                self.pos += 1
                body.append("'" if escaped == "'" else "\\" + escaped)
            elif char == '"':
                body.append('\\"')
            else:
                body.append(char)
        try:
            return decode_json_string("".join(body))
        except ValueError:
            self.fail("the string is not a valid JSON string",
                      "write control characters as escapes (\\n, \\t, \\u0001)", at=start)
        raise AssertionError("unreachable")

    def array(self) -> list:
        self.pos += 1
        items: list = []
        self.skip_space()
        if self.peek() == "]":
            self.pos += 1
            return items
        while True:
            self.skip_space()
            item = self.literal()
            if item is None:
                self.fail("a list literal holds literals only")
            items.append(item.value)
            self.skip_space()
            char = self.peek()
            self.pos += 1
            if char == "]":
                return items
            if char != ",":
                self.fail("a list literal separates its items with ','", at=self.pos - 1)

    def object(self) -> dict:
        start = self.pos
        self.pos += 1
        pairs = []
        self.skip_space()
        if self.peek() == "}":
            self.pos += 1
            return {}
        while True:
            self.skip_space()
            if self.peek() not in ("\"", "'"):
                self.fail("an object literal's keys are strings", at=start)
            key = self.string()
            self.skip_space()
            if self.peek() != ":":
                self.fail("an object literal writes 'key': value", at=start)
            self.pos += 1
            self.skip_space()
            value = self.literal()
            if value is None:
                self.fail("an object literal holds literals only", at=start)
            pairs.append((key, value.value))
            self.skip_space()
            char = self.peek()
            self.pos += 1
            if char == "}":
                return _sorted_object(pairs)
            if char != ",":
                self.fail("an object literal separates its entries with ','", at=start)
