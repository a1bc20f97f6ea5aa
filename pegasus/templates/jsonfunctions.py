"""The functions a JMESPath query may call (`length(@)`, `sort(keys(@))`...),
as jmespath 0.3 has them, and the error of a query that cannot be answered.
jsonquery.py parses and evaluates the rest."""

from __future__ import annotations

import json
import math
import re
from typing import Any, List, NoReturn, Optional, Sequence, Tuple, Union


class QueryProblem(Exception):
    """A query that does not parse, or a function given the wrong values."""


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _one(name: str, kinds: Union[type, Tuple[type, ...]], arguments: Sequence[Any]) -> Any:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if len(arguments) != 1 or not isinstance(arguments[0], kinds) or \
            (isinstance(arguments[0], bool) and bool not in kinds):
        raise QueryProblem("%s() got the wrong argument" % name)
    return arguments[0]


def _numbers(name: str, arguments: Sequence[Any]) -> List[Union[int, float]]:
    values = _one(name, list, arguments)
    if not all(is_number(item) for item in values):
        raise QueryProblem("%s() takes a list of numbers" % name)
    return values


def _to_number(arguments: Sequence[Any]) -> Optional[Union[int, float]]:
    value = arguments[0] if len(arguments) == 1 else None
    if is_number(value):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", value):
        return float(value) if re.search(r"[.eE]", value) else int(value)
    return None


def _bad(name: str) -> NoReturn:
    raise QueryProblem("%s() got the wrong arguments" % name)


def _strings(name: str, arguments: Sequence[Any]) -> bool:
    if len(arguments) != 2 or not all(isinstance(item, str) for item in arguments):
        _bad(name)
    return True


def _type(value: Any) -> str:
    for kinds, name in ((bool, "boolean"), ((int, float), "number"), (str, "string"),
                        (list, "array"), (dict, "object")):
        if isinstance(value, kinds):
            return name
    return "null"


FUNCTIONS = {
    "length": lambda a: len(_one("length", (str, list, dict), a)),
    "keys": lambda a: list(_one("keys", dict, a)),
    "values": lambda a: list(_one("values", dict, a).values()),
    "join": lambda a: str(a[0]).join(a[1]) if len(a) == 2 and isinstance(a[0], str) and
    isinstance(a[1], list) and all(isinstance(s, str) for s in a[1]) else _bad("join"),
    "contains": lambda a: a[1] in a[0] if len(a) == 2 and isinstance(a[0], (str, list)) and
    (isinstance(a[0], list) or isinstance(a[1], str)) else _bad("contains"),
    "starts_with": lambda a: _strings("starts_with", a) and a[0].startswith(a[1]),
    "ends_with": lambda a: _strings("ends_with", a) and a[0].endswith(a[1]),
    "to_string": lambda a: a[0] if isinstance(a[0], str) else json.dumps(
        a[0], separators=(",", ":"), ensure_ascii=False),
    "to_number": _to_number,
    "type": lambda a: _type(a[0]),
    "not_null": lambda a: next((item for item in a if item is not None), None),
    "reverse": lambda a: _one("reverse", (str, list), a)[::-1],
    "sort": lambda a: sorted(_one("sort", list, a)),
    "max": lambda a: max(_numbers("max", a), default=None),
    "min": lambda a: min(_numbers("min", a), default=None),
    "sum": lambda a: sum(_numbers("sum", a)),
    "avg": lambda a: (sum(_numbers("avg", a)) / len(a[0])) if a[0] else None,
    "abs": lambda a: abs(_one("abs", (int, float), a)),
    "floor": lambda a: math.floor(_one("floor", (int, float), a)),
    "ceil": lambda a: math.ceil(_one("ceil", (int, float), a)),
    "to_array": lambda a: a[0] if isinstance(a[0], list) else [a[0]],
    "merge": lambda a: dict(item for part in a for item in _one("merge", dict, [part]).items()),
}
