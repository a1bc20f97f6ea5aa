"""JMESPath queries for `json_query` and `json_str_query` (Pegasus 1.4 used
the Rust crate jmespath 0.3). Parsed top-down by operator precedence.

Supported: names (`a`, `"a b"`), sub-expressions (`a.b`), indexes (`[0]`,
`[-1]`), slices (`[1:3]`, `[::2]`), projections (`[*]`, `*`, `[]`), filters
(`[?a == 'x']` with `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`, `!`,
parentheses), `@`, pipes (`|`), multi-selects (`[a, b]`, `{x: a, y: b}`),
literals (`` `json` ``, `'raw string'`) and the functions length, keys,
values, join, contains, starts_with, ends_with, to_string, to_number, type,
not_null, reverse, sort, max, min, sum, avg, abs, floor, ceil, to_array,
merge. Not supported: expression references (`&a`) and the functions that
take them (sort_by, max_by, min_by, map).
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, ClassVar, Dict, List, Optional, Tuple

from .jsonfunctions import FUNCTIONS, QueryProblem, is_number

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>-?[0-9]+)
  | (?P<quoted>"(?:[^"\\]|\\.)*")
  | (?P<raw>'(?:[^'\\]|\\.)*')
  | (?P<literal>`(?:[^`\\]|\\.)*`)
  | (?P<op>\[\?|\[\]|\|\||&&|==|!=|<=|>=|[.*\[\](){}:,|@<>!&])
""", re.X)
# How strongly each token binds what is on its left (0: it cannot).
_POWER = {"|": 1, "||": 2, "&&": 3, "==": 5, "!=": 5, "<": 5, "<=": 5, ">": 5, ">=": 5,
          "[]": 9, "[?": 21, ".": 40, "[": 55}
_STAR, _NOT = 20, 45
# Below this, a token ends a projection's right-hand side.
_PROJECTION_STOP = 10

Token = Tuple[str, Any]  # (kind, text or value)
Tree = Tuple[Any, ...]  # (kind, operands...): see _Parser


def _tokens(query: str) -> List[Token]:
    pos, found = 0, []
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if match is None:
            raise QueryProblem("unexpected %r at %d" % (query[pos], pos))
        pos = match.end()
        kind = match.lastgroup
        if kind == "space":
            continue
        text = match.group()
        if kind == "quoted":
            found.append(("name", json.loads(text)))
        elif kind == "raw":
            found.append(("value", text[1:-1].replace("\\'", "'")))
        elif kind == "literal":
            found.append(("value", _literal(text[1:-1].replace("\\`", "`"))))
        elif kind == "number":
            found.append(("number", int(text)))
        else:
            found.append((text if kind == "op" else str(kind), text))
    found.append(("end", None))
    return found


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise QueryProblem("`%s` is not a JSON literal" % text) from None


class _Parser:
    """A query as nested tuples: ("field", name), ("sub", left, right)..."""

    def __init__(self, query: str) -> None:
        self.tokens = _tokens(query)
        self.at = 0

    def kind(self, ahead: int = 0) -> str:
        return self.tokens[self.at + ahead][0]

    def take(self, kind: Optional[str] = None) -> Token:
        token = self.tokens[self.at]
        if kind is not None and token[0] != kind:
            raise QueryProblem("expected %r, found %r" % (kind, token[1] or "the end"))
        self.at += 1
        return token

    def parse(self) -> Tree:
        tree = self.expression(0)
        if self.kind() != "end":
            raise QueryProblem("unexpected %r" % (self.tokens[self.at][1],))
        return tree

    def expression(self, power: int) -> Tree:
        left = self.prefix(self.take())
        while _POWER.get(self.kind(), 0) > power:
            left = self.infix(self.take(), left)
        return left

    def prefix(self, token: Token) -> Tree:
        kind, text = token
        if kind == "name":
            if self.kind() == "(":
                return self.function(text)
            return ("field", text)
        if kind == "value":
            return ("value", text)
        if kind == "(":
            inner = self.expression(0)
            self.take(")")
            return inner
        start = self._STARTS.get(kind)
        if start is None:
            raise QueryProblem("unexpected %r" % (text or "the end"))
        return start(self)

    # What the other tokens start, on the current node.
    _STARTS: ClassVar[Dict[str, Callable[[Any], Any]]] = {
        "@": lambda self: ("current",),
        "!": lambda self: ("not", self.expression(_NOT)),
        "*": lambda self: ("values", ("current",), self.projected(_STAR)),
        "[]": lambda self: ("flatten", ("current",), self.projected(_POWER["[]"])),
        "[?": lambda self: self.filter(("current",)),
        "[": lambda self: self.bracket(("current",)),
        "{": lambda self: self.hash(),
    }

    def infix(self, token: Token, left: Tree) -> Tree:
        kind = token[0]
        if kind == ".":
            if self.kind() == "*":
                self.take()
                return ("values", left, self.projected(_STAR))
            return ("sub", left, self.dotted())
        if kind == "|":
            return ("pipe", left, self.expression(_POWER["|"]))
        if kind in ("||", "&&"):
            return ("or" if kind == "||" else "and", left, self.expression(_POWER[kind]))
        if kind in ("==", "!=", "<", "<=", ">", ">="):
            return ("compare", kind, left, self.expression(_POWER[kind]))
        if kind == "[]":
            return ("flatten", left, self.projected(_POWER["[]"]))
        if kind == "[?":
            return self.filter(left)
        return self.bracket(left)

    def dotted(self) -> Tree:
        if self.kind() == "*":
            self.take()
            return ("values", ("current",), self.projected(_STAR))
        if self.kind() == "[":
            self.take()
            return self.multi_list()
        if self.kind() == "{":
            self.take()
            return self.hash()
        name = self.take("name")[1]
        return self.function(name) if self.kind() == "(" else ("field", name)

    def projected(self, power: int) -> Tree:
        """What follows a projection, applied to each of its elements."""
        if _POWER.get(self.kind(), 0) < _PROJECTION_STOP:
            return ("current",)
        if self.kind() == ".":
            self.take()
            return self.dotted_rest(power)
        if self.kind() not in ("[", "[?"):
            raise QueryProblem("unexpected %r after a projection" % (self.tokens[self.at][1],))
        return self.expression(power)

    def dotted_rest(self, power: int) -> Tree:
        left = self.dotted()
        while _POWER.get(self.kind(), 0) > power:
            left = self.infix(self.take(), left)
        return left

    def bracket(self, left: Tree) -> Tree:
        if self.kind() == "*" and self.kind(1) == "]":
            self.take()
            self.take()
            return ("project", left, self.projected(_STAR))
        if self.kind() in ("number", ":"):
            return self.index_or_slice(left)
        return ("sub", left, self.multi_list())

    def index_or_slice(self, left: Tree) -> Tree:
        parts, current = [None, None, None], 0
        while self.kind() != "]":
            if self.kind() == ":":
                self.take()
                current += 1
                if current > 2:
                    raise QueryProblem("a slice has at most three parts")
            else:
                parts[current] = self.take("number")[1]
        self.take("]")
        if current == 0:
            return ("index", left, parts[0])
        return ("project", ("slice", left, parts[0], parts[1], parts[2]),
                self.projected(_STAR))

    def filter(self, left: Tree) -> Tree:
        condition = self.expression(0)
        self.take("]")
        return ("filter", left, condition, self.projected(_POWER["[?"]))

    def multi_list(self) -> Tree:
        items = [self.expression(0)]
        while self.kind() == ",":
            self.take()
            items.append(self.expression(0))
        self.take("]")
        return ("list",) + tuple(items)

    def hash(self) -> Tree:
        pairs = []
        while True:
            key = self.take("name")[1]
            self.take(":")
            pairs.append((key, self.expression(0)))
            if self.kind() != ",":
                break
            self.take()
        self.take("}")
        return ("hash", tuple(pairs))

    def function(self, name: str) -> Tree:
        if name not in FUNCTIONS:
            raise QueryProblem("unknown function %s()" % name)
        self.take("(")
        arguments: list = []
        while self.kind() != ")":
            if arguments:
                self.take(",")
            arguments.append(self.expression(0))
        self.take(")")
        return ("call", name, tuple(arguments))


def _true(value: Any) -> bool:
    return not (value is None or value is False or value in ("", [], {}))


def _evaluate(node: Tree, data: Any) -> Any:
    kind = node[0]
    if kind == "field":
        return data.get(node[1]) if isinstance(data, dict) else None
    if kind == "current":
        return data
    if kind == "value":
        return node[1]
    if kind in ("sub", "pipe"):
        left = _evaluate(node[1], data)
        return None if left is None and kind == "sub" else _evaluate(node[2], left)
    if kind == "index":
        left = _evaluate(node[1], data)
        if not isinstance(left, list) or not -len(left) <= node[2] < len(left):
            return None
        return left[node[2]]
    if kind in ("project", "values", "flatten", "filter"):
        return _project(node, data)
    if kind == "slice":
        return _slice(_evaluate(node[1], data), node[2], node[3], node[4])
    return _evaluate_more(node, data)


def _evaluate_more(node: Tree, data: Any) -> Any:
    kind = node[0]
    if kind == "or":
        left = _evaluate(node[1], data)
        return left if _true(left) else _evaluate(node[2], data)
    if kind == "and":
        left = _evaluate(node[1], data)
        return _evaluate(node[2], data) if _true(left) else left
    if kind == "not":
        return not _true(_evaluate(node[1], data))
    if kind == "compare":
        return _compare(node[1], _evaluate(node[2], data), _evaluate(node[3], data))
    if data is None and kind in ("list", "hash"):
        return None
    if kind == "list":
        return [_evaluate(item, data) for item in node[1:]]
    if kind == "hash":
        return {key: _evaluate(item, data) for key, item in node[1]}
    return FUNCTIONS[node[1]]([_evaluate(item, data) for item in node[2]])


def _project(node: Tree, data: Any) -> Any:
    kind, left = node[0], _evaluate(node[1], data)
    if kind == "values":
        items = list(left.values()) if isinstance(left, dict) else None
    elif kind == "flatten":
        items = None if not isinstance(left, list) else [
            inner for item in left for inner in (item if isinstance(item, list) else [item])]
    else:
        items = left if isinstance(left, list) else None
    if items is None:
        return None
    if kind == "filter":
        items = [item for item in items if _true(_evaluate(node[2], item))]
    results = (_evaluate(node[-1], item) for item in items)
    return [result for result in results if result is not None]


def _slice(value: Any, start: Optional[int], stop: Optional[int], step: Optional[int]) -> Any:
    if not isinstance(value, list):
        return None
    if step == 0:
        raise QueryProblem("a slice's step cannot be 0")
    return value[slice(start, stop, step)]


def _compare(operator: str, left: Any, right: Any) -> Optional[bool]:
    if operator in ("==", "!="):
        same = (type(left) is type(right) and left == right) or (
            is_number(left) and is_number(right) and left == right)
        return same if operator == "==" else not same
    if not (is_number(left) and is_number(right)):
        return None
    return {"<": left < right, "<=": left <= right, ">": left > right,
            ">=": left >= right}[operator]


def search(query: str, data: Any) -> Any:
    """The part of `data` that the JMESPath `query` selects."""
    try:
        return _evaluate(_Parser(query).parse(), data)
    except (TypeError, IndexError, RecursionError) as exc:
        raise QueryProblem(str(exc)) from None
