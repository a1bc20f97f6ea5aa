"""What is inside one `{{ ... }}`: paths, literals, helper calls.

The grammar is handlebars-rust 4.3's (the engine of Pegasus 1.4), less what
pegasus does not support:

    call     := NAME (param | NAME '=' param)*
    param    := literal | path | '(' call ')' | '(' path ')'
    literal  := STRING | NUMBER | 'true' | 'false' | 'null' | array | object
    path     := ('this' SEP | './')? ('@root' SEP)? '@'? ('../')* item (SEP item)*
              | 'this' | '.' | '@root'
    item     := NAME | '[' any text but ']' ']'
    SEP      := '.' | '/'

NAME is handlebars-rust's identifier: ASCII letters and digits, `-`, `_`,
`$` and any character beyond ASCII. Literals are template_literal's.
Everything is parsed into plain values and names; nothing of the source
text goes anywhere else verbatim.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union

from .literal import Literal, LiteralParser, SyntaxTrouble, is_name_char

DATA_NAMES = frozenset(["index", "key", "first", "last"])
KEYWORDS = frozenset(["else", "as"])
__all__ = ["Call", "ExprParser", "Literal", "Path", "SyntaxTrouble", "is_name_char"]


class Path:
    """A reference to a value: `x`, `a.b`, `../x`, `@root.x`, `@index`, `this`."""

    __slots__ = ("names", "ups", "root", "data", "explicit", "offset")

    def __init__(self, names: Tuple[str, ...], offset: int, ups: int = 0, root: bool = False,
                 data: Optional[str] = None, explicit: bool = False):
        self.names = names
        self.ups = ups
        self.root = root
        self.data = data
        self.explicit = explicit  # written with `this`/`./`: never a helper
        self.offset = offset

    @property
    def simple_name(self) -> Optional[str]:
        """The name of a bare `name`, which may also be a helper's."""
        plain = not (self.ups or self.root or self.data or self.explicit)
        return self.names[0] if plain and len(self.names) == 1 else None

    def __repr__(self) -> str:
        return "Path(%r, ups=%d, root=%r, data=%r)" % (self.names, self.ups, self.root, self.data)


class Call:
    """A helper call: `name param... key=param...`."""

    __slots__ = ("name", "params", "hash", "offset", "bare")

    def __init__(self, name: str, params: list, hash_params: Dict[str, Any], offset: int,
                 bare: bool = False):
        self.name = name
        self.params = params
        self.hash = hash_params
        self.offset = offset
        self.bare = bare  # `(name)`: a helper call if `name` is a helper, else a value

    def __repr__(self) -> str:
        return "Call(%r, %r, %r)" % (self.name, self.params, self.hash)


Param = Union[Path, Literal, Call]


class ExprParser(LiteralParser):
    """Parses the inside of one tag of `source`, from `pos`."""

    def expression(self) -> Union[Path, Call]:
        """What a `{{ ... }}` shows: a helper call or a value."""
        self.skip_space()
        if self.peek() == "(":
            return self.subexpression()
        start = self.pos
        word = self.name()
        if word and not self.at_param_end():
            self.pos = start
            word = ""
        if word and word not in ("this",) and self.has_params():
            return self.call_rest(word, start)
        self.pos = start
        return self.path()

    def has_params(self) -> bool:
        """After a name: does a parameter follow (rather than the tag's end)?"""
        save = self.pos
        spaced = self.skip_space()
        following = self.peek()
        self.pos = save
        return spaced and following not in ("", "~", "}", ")")

    def at_param_end(self) -> bool:
        return self.peek() in ("", " ", "\t", "\n", "\r", "~", "}", ")")

    def call_rest(self, name: str, start: int) -> Call:
        params: List[Param] = []
        hash_params: Dict[str, Param] = {}
        while self.has_params():
            self.skip_space()
            key = self.hash_key()
            if key is not None:
                hash_params[key] = self.param()
            else:
                params.append(self.param())
        return Call(name, params, hash_params, start)

    def hash_key(self) -> Optional[str]:
        start = self.pos
        key = self.name()
        self.skip_space()
        if key and self.peek() == "=":
            self.pos += 1
            self.skip_space()
            return key
        self.pos = start
        return None

    def subexpression(self) -> Union[Path, Call]:
        start = self.pos
        self.pos += 1
        self.skip_space()
        word_start = self.pos
        word = self.name()
        if word and self.has_params():
            inner: Union[Path, Call] = self.call_rest(word, word_start)
        else:
            self.pos = word_start
            inner = self.path()
            if inner.simple_name is not None:
                inner = Call(inner.simple_name, [], {}, word_start, bare=True)
        self.skip_space()
        if self.peek() != ")":
            self.fail("'(' is not closed with ')'", at=start)
        self.pos += 1
        return inner

    def param(self) -> Param:
        char = self.peek()
        if char == "(":
            return self.subexpression()
        start = self.pos
        word = self.name()
        self.pos = start
        if word in KEYWORDS and self.word_end(start + len(word)):
            self.fail("'%s' cannot be a parameter" % word,
                      "block parameters ('as |x|') and '{{else if}}' are not supported")
        literal = self.literal()
        if literal is not None:
            return literal
        return self.path()

    # -- paths --------------------------------------------------------------------

    def path(self) -> Path:
        start = self.pos
        if self.startswith("this") and self.word_end(self.pos + 4):
            self.pos += 4
            if not self.separator_then_item():
                return Path((), start, explicit=True)
            self.pos += 1
            return self.path_items(start, explicit=True)
        if self.startswith("./"):
            self.pos += 2
            return self.path_items(start, explicit=True)
        if self.peek() == "." and self.peek(1) not in ("/", "."):
            self.pos += 1
            return Path((), start, explicit=True)
        if self.startswith("@root") and self.word_end(self.pos + 5):
            self.pos += 5
            if not self.separator_then_item():
                return Path((), start, root=True)
            self.pos += 1
            return self.path_items(start, root=True)
        return self.path_items(start)

    def separator_then_item(self) -> bool:
        following = self.peek(1)
        return self.peek() in (".", "/") and bool(following) and (
            is_name_char(following) or following == "[")

    def path_items(self, start: int, explicit: bool = False, root: bool = False) -> Path:
        local = self.peek() == "@"
        if local:
            self.pos += 1
        ups = 0
        while self.startswith("../"):
            ups += 1
            self.pos += 3
        names = [self.item()]
        while self.separator_then_item():
            self.pos += 1
            names.append(self.item())
        if not self.at_param_end():
            self.fail("unexpected %r after '%s'" % (self.peek(), self.source[start:self.pos]),
                      "templates use Handlebars syntax: {{ name }}, {{ helper arg ... }}, "
                      "{{#if name}}...{{/if}}")
        if local:
            if names[0] not in DATA_NAMES or len(names) > 1:
                self.fail("'@%s' is not a data variable" % ".".join(names),
                          "inside {{#each}}: @index, @key, @first, @last; and @root.name",
                          at=start)
            return Path((), start, ups=ups, root=root, data=names[0])
        return Path(tuple(names), start, ups=ups, root=root, explicit=explicit)

    def item(self) -> str:
        if self.peek() == "[":
            close = self.source.find("]", self.pos + 1)
            if close < 0:
                self.fail("'[' is not closed with ']'",
                          "[...] names a variable with unusual characters, e.g. {{ [my key] }}")
            name = self.source[self.pos + 1:close]
            self.pos = close + 1
            return name
        name = self.name()
        if not name:
            self.fail("expected a name, found %r" % (self.peek() or "the end"),
                      "templates use Handlebars syntax: {{ name }}, {{ helper arg ... }}, "
                      "{{#if name}}...{{/if}}")
        return name
