"""The syntax tree written back as the only text pybars3 ever compiles, and
the variables a template uses.

The canonical form is the template's shape: tags made of helper names and
the tokens of template_runtime (letters, digits, `_`, `-`, `@`, `.`, spaces
and parentheses). Text and literals are constants beside it, which the
tokens `pgk@<n>` refer to. pybars3 pastes names into the Python it
generates: in that alphabet nothing can close its quotes. Nor can its
whitespace pre-processing change anything: it looks for `~`, and for block
tags beside line breaks, and there is no line break. Templates that differ
only in their text and literals share one shape, so pybars3 (about 10 ms a
compile) compiles a queue of a thousand such commands once.
"""

from __future__ import annotations

import re
from typing import Any, Dict, FrozenSet, Iterable, List, Set, Tuple

from .expr import Call, Literal, Param, Path
from .helpers import SPECS
from .runtime import DATA, ROOT, THIS, UP, constant_token, name_token
from .syntax import Block, Node, Output, Text

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# Names pybars3 reads as something else: literals in argument position, its
# own words, its own helpers.
_MISREAD = re.compile(r"(true|false|null|undefined)|(this|else)$")
_PYBARS_HELPERS = frozenset(["blockHelperMissing", "helperMissing", "each", "if", "unless",
                             "with", "log", "lookup"])


def _name(name: str) -> str:
    if (_PLAIN_NAME.fullmatch(name) and not _MISREAD.match(name)
            and name not in SPECS and name not in _PYBARS_HELPERS):
        return name
    return name_token(name)


def _path(path: Path) -> str:
    tokens: List[str] = []
    if path.root:
        tokens.append(ROOT)
    tokens.extend([UP] * path.ups)
    if path.data is not None:
        tokens.append(DATA + path.data)
    elif path.explicit and not path.names:
        tokens.append(THIS)
    tokens.extend(_name(name) for name in path.names)
    return ".".join(tokens) or THIS


class _Writer:
    """Writes the shape of a template and collects its constants."""

    def __init__(self) -> None:
        self.constants: List[Any] = []

    def constant(self, value: Any) -> str:
        self.constants.append(value)
        return constant_token(len(self.constants) - 1)

    def param(self, value: Param) -> str:
        if isinstance(value, Path):
            return _path(value)
        if isinstance(value, Literal):
            return self.constant(value.value)
        return "(%s)" % self.call(value)

    def call(self, call: Call) -> str:
        words = [call.name] + [self.param(value) for value in call.params]
        words.extend("%s=%s" % (key, self.param(value))
                     for key, value in sorted(call.hash.items()))
        return " ".join(words)

    def nodes(self, nodes: Iterable[Node]) -> str:
        out: List[str] = []
        for node in nodes:
            if isinstance(node, Text):
                out.append("{{ %s }}" % self.constant(node.text))
            elif isinstance(node, Output):
                value = node.value
                out.append("{{ %s }}" % (
                    self.call(value) if isinstance(value, Call) else _path(value)))
            else:
                out.append(self.block(node))
        return "".join(out)

    def block(self, block: Block) -> str:
        opening = self.call(Call(block.name, block.params, block.hash, 0))
        body = self.nodes(block.body)
        inverse = "" if block.inverse is None else "{{else}}" + self.nodes(block.inverse)
        return "{{#%s}}%s%s{{/%s}}" % (opening, body, inverse, block.name)


def canonical(nodes: Iterable[Node]) -> Tuple[str, list]:
    """The pybars3 source for `nodes`, and the constants it refers to."""
    writer = _Writer()
    return writer.nodes(nodes), writer.constants


# -- variables ----------------------------------------------------------------------

_CONTEXT_CHANGERS = frozenset(["each", "with"])


def root_variables(nodes: Iterable[Node]) -> FrozenSet[str]:
    """The names of the variables `nodes` read from the root context."""
    found: Set[str] = set()
    _collect(nodes, 0, found)
    return frozenset(found)


def _collect(nodes: Iterable[Node], depth: int, found: Set[str]) -> None:
    for node in nodes:
        if isinstance(node, Output):
            _collect_value(node.value, depth, found)
        elif isinstance(node, Block):
            for value in list(node.params) + list(node.hash.values()):
                _collect_value(value, depth, found)
            inner = depth + 1 if node.name in _CONTEXT_CHANGERS else depth
            _collect(node.body, inner, found)
            _collect(node.inverse or (), depth, found)


def sections(nodes: Iterable[Node]) -> Dict[str, str]:
    """The names opened as sections (`{{#name}}` of no helper), each with its
    tag as written."""
    found: Dict[str, str] = {}
    for node in nodes:
        if isinstance(node, Block):
            if node.section is not None:
                found.setdefault(node.section[1:], node.section)
            found.update((name, tag) for name, tag in sections(node.body).items()
                         if name not in found)
            found.update((name, tag) for name, tag in sections(node.inverse or ()).items()
                         if name not in found)
    return found


def _collect_value(value: Param, depth: int, found: Set[str]) -> None:
    if isinstance(value, Path):
        level = 0 if value.root else depth - value.ups
        if level <= 0 and value.names and value.data is None:
            found.add(value.names[0])
    elif isinstance(value, Call):
        for inner in list(value.params) + list(value.hash.values()):
            _collect_value(inner, depth, found)
