r"""Splits a template into text and tags: escapes (`\{{`), raw blocks
(`{{{{raw}}}}...{{{{/raw}}}}`), comments, and `{{ ... }}` tags whose inside
template_expr parses. Refuses, with a hint, what pegasus does not support:
partials (`{{> x}}`), decorators (`{{* x}}`), `{{else if}}` chains (nor did
handlebars-rust 4.3 accept them).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

from .expr import ExprParser, SyntaxTrouble

_OPENING = re.compile(r"\\*\{\{|\}\}")
_RAW_OPENING = re.compile(r"\\*\{\{")
SYNTAX_HINT = "templates use Handlebars syntax: {{ name }}, {{ helper arg ... }}, " \
              "{{#if name}}...{{/if}}"
CLOSES_NOTHING_HINT = ("'}}' ends a '{{ ... }}'; if these braces belong to the command "
                       "(awk, a shell function), put a space between them: '} }'")
UNCLOSED_HINT = SYNTAX_HINT + "; write a literal '{{' as '\\{{'"


_DATA_BLOCKS = frozenset(["from_json", "to_json"])


class ElseChain(Exception):
    """`{{else if ...}}`: handlebars-rust 4.3 had no such chains either."""


class Item:
    """One piece of the source, before whitespace control and nesting."""

    __slots__ = ("kind", "start", "end", "omit_pre", "omit_pro", "text", "value", "written")

    def __init__(self, kind: str, start: int, end: int, value: Any = None, text: str = "",
                 omit_pre: bool = False, omit_pro: bool = False, written: str = ""):
        self.kind = kind
        self.start = start
        self.end = end
        self.value = value
        self.text = text
        self.omit_pre = omit_pre
        self.omit_pro = omit_pro
        self.written = written  # a block's name as written, to match its close


# -- scanning -----------------------------------------------------------------------

class _Finder:
    """The next `needle` at or after a position that only moves forward: each
    search starts where the last one stopped, so a scan stays linear."""

    def __init__(self, source: str, needle: str):
        self.source = source
        self.needle = needle
        self.found = -2  # not searched yet

    def next(self, at: int) -> int:
        if self.found == -1 or self.found >= at:  # none left, or still ahead
            return self.found
        self.found = self.source.find(self.needle, at)
        return self.found


def scan(source: str) -> List[Item]:
    """`source` as a flat list of text and tag items.

    A `}}` in the text is refused as a likely slip (handlebars-rust took it
    as text), except inside {{#from_json}} and {{#to_json}}, whose text is
    JSON or YAML."""
    items: List[Item] = []
    pieces: List[str] = []
    pos = data_blocks = 0
    finders = {needle: _Finder(source, needle) for needle in ("{{", "}}", "--}}")}
    while True:
        match = _OPENING.search(source, pos)
        if match is None:
            pieces.append(source[pos:])
            break
        pieces.append(source[pos:match.start()])
        if match.group() == "}}":
            if not data_blocks:
                raise SyntaxTrouble("'}}' closes nothing", match.start(), CLOSES_NOTHING_HINT)
            pieces.append("}}")
            pos = match.end()
            continue
        backslashes = match.end() - match.start() - 2
        brace = match.end() - 2
        if backslashes == 1:
            pos = _escaped(source, brace, pieces, finders)
            continue
        pieces.append("\\" * max(0, backslashes - 1))
        items.append(Item("text", pos, brace, text="".join(pieces)))
        pieces = []
        pos = _tag(source, brace, items, finders)
        if items[-1].written in _DATA_BLOCKS and items[-1].kind == "open":
            data_blocks += 1
        elif items[-1].written in _DATA_BLOCKS and items[-1].kind == "close" and data_blocks:
            data_blocks -= 1
    items.append(Item("text", pos, len(source), text="".join(pieces)))
    return items


def _escaped(source: str, brace: int, pieces: List[str], finders: Dict[str, _Finder]) -> int:
    r"""After `\{{` (or `\{{{{`): literal braces, and literal text up to the
    first `}}` that comes before any other `{{`. Returns where to go on."""
    after = brace + (4 if source.startswith("{{{{", brace) else 2)
    pieces.append(source[brace:after])
    close = finders["}}"].next(after)
    opening = finders["{{"].next(after)
    if close < 0 or 0 <= opening < close:
        return after
    end = close + 2
    while end < len(source) and source[end] == "}":
        end += 1
    pieces.append(source[after:end])
    return end


def _tag(source: str, brace: int, items: List[Item], finders: Dict[str, _Finder]) -> int:
    """Parse the tag at `brace` into `items`; return the offset after it."""
    if source.startswith("{{{{", brace):
        return _raw_block(source, brace, items)
    if source.startswith("{{!", brace):
        return _comment(source, brace, items, finders)
    try:
        item = _TagParser(source, brace).parse()
    except SyntaxTrouble:
        _raise_if_unclosed(source, brace)
        raise
    items.append(item)
    return item.end


def _raise_if_unclosed(source: str, brace: int) -> None:
    opener = "{{{" if source.startswith("{{{", brace) else "{{"
    close = source.find("}}", brace + len(opener))
    opening = source.find("{{", brace + len(opener))
    if close < 0:
        raise SyntaxTrouble("'%s' is never closed with '%s'" % (opener, "}" * len(opener)),
                            brace, UNCLOSED_HINT)
    if 0 <= opening < close:
        raise SyntaxTrouble("'%s' is not closed before the next '{{'" % opener, brace,
                            UNCLOSED_HINT)


def _comment(source: str, brace: int, items: List[Item], finders: Dict[str, _Finder]) -> int:
    if source.startswith("{{!--", brace):
        close = finders["--}}"].next(brace + 5)
        if close >= 0:
            items.append(Item("comment", brace, close + 4))
            return close + 4
    close = finders["}}"].next(brace + 3)
    if close < 0:
        raise SyntaxTrouble("the comment '{{!' is never closed with '}}'", brace,
                            "a comment is {{! text }} or {{!-- text --}}")
    items.append(Item("comment", brace, close + 2))
    return close + 2


def _raw_tag(source: str, pos: int, closing: bool) -> Tuple[str, int, bool, bool]:
    """`{{{{name}}}}` or `{{{{/name}}}}` at `pos`: (name, end, omit_pre, omit_pro)."""
    parser = ExprParser(source, pos + 4)
    omit_pre = parser.peek() == "~"
    parser.pos += omit_pre
    parser.skip_space()
    if closing:
        if parser.peek() != "/":
            parser.fail("a raw block is closed by '{{{{/name}}}}'", at=pos)
        parser.pos += 1
        parser.skip_space()
    name = parser.name()
    parser.skip_space()
    omit_pro = parser.peek() == "~"
    parser.pos += omit_pro
    if not name or not parser.startswith("}}}}"):
        parser.fail("a raw block is written {{{{raw}}}}...{{{{/raw}}}}",
                    "a raw block takes no arguments; its text is inserted as it is", at=pos)
    return name, parser.pos + 4, omit_pre, omit_pro


def _raw_block(source: str, brace: int, items: List[Item]) -> int:
    name, pos, omit_pre, omit_pro = _raw_tag(source, brace, closing=False)
    items.append(Item("raw_open", brace, pos, omit_pre=omit_pre, omit_pro=omit_pro))
    start, pieces = pos, []
    while True:
        match = _RAW_OPENING.search(source, pos)
        if match is None:
            raise SyntaxTrouble("the raw block '{{{{%s}}}}' is never closed with "
                                "'{{{{/%s}}}}'" % (name, name), brace, None)
        backslashes = match.end() - match.start() - 2
        opening = match.end() - 2
        pieces.append(source[pos:match.start()])
        if backslashes == 1:
            pos = opening + (4 if source.startswith("{{{{", opening) else 2)
            pieces.append(source[opening:pos])
            continue
        pieces.append("\\" * max(0, backslashes - 1))
        if not source.startswith("{{{{", opening):
            pieces.append("{{")
            pos = opening + 2
            continue
        closed, end, close_pre, close_pro = _raw_tag(source, opening, closing=True)
        if closed != name:
            raise SyntaxTrouble("'{{{{/%s}}}}' closes '{{{{%s}}}}'" % (closed, name),
                                opening, None)
        items.append(Item("text", start, opening, text="".join(pieces)))
        items.append(Item("raw_close", opening, end, omit_pre=close_pre, omit_pro=close_pro))
        return end


class _TagParser(ExprParser):
    """One `{{ ... }}` tag that is neither a comment nor a raw block."""

    def __init__(self, source: str, brace: int):
        super().__init__(source, brace + 2)
        self.brace = brace
        self.omit_pre = False

    def parse(self) -> Item:
        self.omit_pre = self.peek() == "~"
        self.pos += self.omit_pre
        kind, value, written, closer = self.body()
        self.skip_space()
        omit_pro = self.peek() == "~"
        self.pos += omit_pro
        if not self.startswith(closer):
            self.fail("expected '%s' to end the tag, found %r" % (closer, self.peek() or "the end"),
                      SYNTAX_HINT)
        return Item(kind, self.brace, self.pos + len(closer), value=value, written=written,
                     omit_pre=self.omit_pre, omit_pro=omit_pro)

    def body(self) -> Tuple[str, object, str, str]:
        self.skip_space()
        char = self.peek()
        if char == "{":
            # {{{ x }}}, {{{~ x ~}}}, and {{~{ x }~}}
            self.pos += 1
            if self.peek() == "~":
                self.omit_pre = True
                self.pos += 1
            value = self.expression()
            self.skip_space()
            if self.peek() == "}" and not self.startswith("}}}"):
                self.pos += 1
                return "output", value, "", "}}"
            return "output", value, "", "}}}"
        if char == "&":
            self.pos += 1
            return "output", self.expression(), "", "}}"
        if char in ("#", "^"):
            return self.block_open(char)
        if char == "/":
            self.pos += 1
            self.skip_space()
            return "close", None, self.name(), "}}"
        self.refuse_unsupported(char)
        if self.is_else():
            return "else", None, "", "}}"
        return "output", self.expression(), "", "}}"

    def refuse_unsupported(self, char: str) -> None:
        if char == ">":
            self.fail("partials ('{{> name}}') are not supported",
                      "pegasus has no partials: write the text in the command itself")
        if char == "*":
            self.fail("decorators ('{{* name}}') are not supported", SYNTAX_HINT)
        if char in ("!", "="):
            self.fail("'{{%s' is not supported here" % char,
                      "a comment is {{! text }}, without '~'")

    def is_else(self) -> bool:
        save = self.pos
        self.skip_space()
        if self.startswith("else") and self.word_end(self.pos + 4):
            self.pos += 4
            self.skip_space()
            if self.peek() in ("~", "}"):
                return True
            raise ElseChain()
        self.pos = save
        return False

    def block_open(self, char: str) -> Tuple[str, object, str, str]:
        self.pos += 1
        following = self.peek()
        if following in (">", "*"):
            self.fail("partial and decorator blocks ('{{#>', '{{#*') are not supported",
                      "pegasus has no partials: write the text in the command itself")
        self.skip_space()
        if char == "^" and self.peek() in ("~", "}"):
            return "else", None, "", "}}"
        start = self.pos
        name = self.name()
        if not name:
            self.fail("a block opens with a name: {{#if x}}", SYNTAX_HINT)
        call = self.call_rest(name, start)
        return "open", (call, char == "^"), name, "}}"
