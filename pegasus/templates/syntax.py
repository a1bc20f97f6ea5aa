r"""The strict grammar of pegasus templates, and their syntax tree.

Whatever is not accepted here never reaches pybars3: template_scan splits a
template into text and tags, template_expr parses each tag's inside into
names and values; here blocks are matched, helpers and their arities
checked. The
whitespace rules are handlebars-rust 4.3's, so a multi-line command renders
as it did with Pegasus 1.4: `{{~`/`~}}` trim the text beside a tag, and a
block tag alone on its line takes its line with it.

Not accepted, each with a hint: partials (`{{> x}}`), decorators (`{{* x}}`),
block parameters (`as |x|`), `{{else if}}` chains (nor did handlebars-rust
4.3 accept them), unknown helpers, wrong argument counts.
"""

from __future__ import annotations

from typing import List, Optional, TypeVar, Union

from .expr import Call, Literal, Param, Path, SyntaxTrouble, is_name_char
from .helpers import LEFT_OUT, SPECS, HelperSpec
from .runtime import RUST_WHITESPACE
from .scan import SYNTAX_HINT, ElseChain, Item, scan

# Tags that, alone on their line, take the line with them.
_STANDALONE = frozenset(["open", "else", "close", "comment", "raw_open", "raw_close"])
_P = TypeVar("_P", bound=Param)  # _value turns a bare `(name)` Call into a Path


class UnknownHelper(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class WrongArity(Exception):
    def __init__(self, spec: HelperSpec, given: int):
        super().__init__(spec.name)
        self.spec = spec
        self.given = given


class Text:
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class Output:
    """`{{ value }}`: a path or a helper call."""

    __slots__ = ("value",)

    def __init__(self, value: Union[Path, Call]):
        self.value = value


class Block:
    """`{{#name params}}body{{else}}inverse{{/name}}` with a block helper.
    `section`: the tag as written when it was `{{#name}}` (or `{{^name}}`)
    for a name that is no helper: a `with` over the variable `name`."""

    __slots__ = ("name", "params", "hash", "body", "inverse", "section")

    def __init__(self, call: Call, section: Optional[str] = None):
        self.name = call.name
        self.params = call.params
        self.hash = call.hash
        self.body: list = []
        self.inverse: Optional[list] = None
        self.section = section


Node = Union[Text, Output, Block]


# -- whitespace ---------------------------------------------------------------------

def _line_ends_after(source: str, pos: int) -> bool:
    while pos < len(source) and source[pos] in " \t":
        pos += 1
    return pos < len(source) and source[pos] in "\r\n"


def _line_starts_before(source: str, pos: int) -> bool:
    while pos > 0 and source[pos - 1] in " \t":
        pos -= 1
    return pos == 0 or source[pos - 1] in "\r\n"


def control_whitespace(source: str, items: List[Item]) -> None:
    """Apply `~` and the standalone-line rule of handlebars-rust 4.3, in place."""
    trim_start = trim_line = False
    previous: Optional[Item] = None
    for item in items:
        if item.kind == "text":
            if trim_start:
                item.text = item.text.lstrip(RUST_WHITESPACE)
            elif trim_line:
                text = item.text.lstrip(" \t")
                item.text = text[2:] if text.startswith("\r\n") else (
                    text[1:] if text.startswith("\n") else text)
            trim_start = trim_line = False
            previous = item
            continue
        before = previous if previous is not None and previous.kind == "text" else None
        if item.omit_pre and before is not None:
            before.text = before.text.rstrip(RUST_WHITESPACE)
        trim_start = item.omit_pro
        trim_line = False
        if item.kind in _STANDALONE and _line_ends_after(source, item.end):
            leading = _line_starts_before(source, item.start)
            if leading and before is not None:
                before.text = before.text.rstrip(" \t")
            trim_line = leading
        previous = item


# -- nesting and checks --------------------------------------------------------------

def _value(value: _P) -> Union[_P, Path]:
    """`(name)` names a value unless `name` is a helper."""
    if isinstance(value, Call) and value.bare and value.name not in SPECS:
        return Path((value.name,), value.offset)
    return value


def _check_call(call: Call, block: bool) -> HelperSpec:
    call.params = [_value(value) for value in call.params]
    call.hash = {key: _value(value) for key, value in call.hash.items()}
    spec = SPECS.get(call.name)
    if spec is None:
        raise UnknownHelper(call.name)
    if spec.block != block:
        if spec.block:
            raise SyntaxTrouble("'%s' is a block helper" % call.name, call.offset,
                                "write {{#%s ...}}...{{/%s}}" % (call.name, call.name))
        raise SyntaxTrouble("'%s' is not a block helper" % call.name, call.offset,
                            "write {{ %s ... }}" % call.name)
    given = len(call.params)
    if given < spec.least or (spec.most is not None and given > spec.most):
        raise WrongArity(spec, given)
    for key in call.hash:
        if key not in spec.hash_keys:
            raise SyntaxTrouble("'%s' takes no argument '%s='" % (call.name, key), call.offset,
                                "its named arguments: %s" % (
                                    ", ".join(sorted(spec.hash_keys)) or "none"))
    for value in list(call.params) + list(call.hash.values()):
        check_param(value)
    return spec


def check_param(value: Param) -> None:
    if isinstance(value, Call):
        _check_call(value, block=False)


def _output(value: Union[Path, Call]) -> Output:
    value = _value(value)
    name = value.simple_name if isinstance(value, Path) else None
    if name is not None and name in SPECS:
        value = Call(name, [], {}, value.offset)
    if isinstance(value, Call):
        _check_call(value, block=False)
    return Output(value)


def _block(call: Call, inverted: bool) -> Block:
    if call.name in LEFT_OUT:
        raise UnknownHelper(call.name)
    if call.name not in SPECS and not call.params and not call.hash:
        # A section, {{#name}}...{{/name}}: the block with `name` as context.
        section = ("^" if inverted else "#") + call.name
        call = Call("with", [Path((call.name,), call.offset)], {}, call.offset)
        _check_call(call, block=True)
        return Block(call, section)
    _check_call(call, block=True)
    return Block(call)


class _Open:
    """A block being read: where its nodes go now, and what it may still meet."""

    __slots__ = ("block", "written", "start", "parent", "current", "had_else", "inverted")

    def __init__(self, block: Block, item: Item, parent: List[Node], inverted: bool):
        self.block = block
        self.written = item.written
        self.start = item.start
        self.parent = parent
        self.inverted = inverted
        self.had_else = False
        if inverted:  # {{^name}}: the text before any {{else}} is the inverse
            block.inverse = []
            self.current = block.inverse
        else:
            self.current = block.body


def build_tree(items: List[Item]) -> List[Node]:
    """Nest the items into blocks, checking that each is closed by its name."""
    top: List[Node] = []
    stack: List[_Open] = []
    current = top
    for item in items:
        if item.kind == "text":
            if item.text:
                current.append(Text(item.text))
        elif item.kind == "output":
            current.append(_output(item.value))
        elif item.kind == "open":
            call, inverted = item.value
            stack.append(_Open(_block(call, inverted), item, current, inverted))
            current = stack[-1].current
        elif item.kind == "else":
            current = _else_branch(stack, item)
        elif item.kind == "close":
            current = _close(stack, item)
    if stack:
        written = stack[-1].written
        raise SyntaxTrouble("block '{{#%s}}' is never closed with '{{/%s}}'"
                            % (written, written), stack[-1].start, SYNTAX_HINT)
    return top


def _else_branch(stack: List[_Open], item: Item) -> List[Node]:
    if not stack:
        raise SyntaxTrouble("'{{else}}' is not inside a block", item.start, SYNTAX_HINT)
    opened = stack[-1]
    if opened.had_else:
        raise SyntaxTrouble("'{{#%s}}' has a second '{{else}}'" % opened.written, item.start,
                            SYNTAX_HINT)
    opened.had_else = True
    if opened.inverted:
        opened.current = opened.block.body
    else:
        opened.block.inverse = []
        opened.current = opened.block.inverse
    return opened.current


def _close(stack: List[_Open], item: Item) -> List[Node]:
    name = item.written
    if not stack:
        raise SyntaxTrouble("'{{/%s}}' closes a block that was never opened" % name,
                            item.start, SYNTAX_HINT)
    opened = stack.pop()
    if opened.written != name:
        raise SyntaxTrouble("'{{/%s}}' closes '{{#%s}}'" % (name, opened.written), item.start,
                            SYNTAX_HINT)
    opened.parent.append(opened.block)
    return opened.parent


def parse(source: str) -> List[Node]:
    """The syntax tree of `source`; raises SyntaxTrouble, UnknownHelper,
    WrongArity or ElseChain."""
    items = scan(source)
    control_whitespace(source, items)
    return build_tree(items)


__all__ = ["Block", "Call", "ElseChain", "Literal", "Output", "Path", "SyntaxTrouble", "Text",
           "UnknownHelper", "WrongArity", "is_name_char", "parse"]
