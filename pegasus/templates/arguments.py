"""What a helper makes of its arguments, as handlebars_misc_helpers 0.13
did: a value, its text, a number, a description for messages, and JSON
equality (`eq`, `ne`)."""

from __future__ import annotations

import re
from typing import Any, Union

from .runtime import HelperProblem, Missing, Undefined, render_value


def value(argument: Any) -> Any:
    """Any JSON value; an undefined variable is an error naming it."""
    if isinstance(argument, Missing):
        raise Undefined(argument.name)
    return argument


def text(argument: Any, helper: str = "") -> str:
    """A text argument: numbers and booleans as the text they print as."""
    if isinstance(argument, str):
        return argument
    argument = value(argument)
    if isinstance(argument, (bool, int, float)):
        return render_value(argument)
    raise HelperProblem("'%s' takes text, not %s" % (helper, describe(argument)))


def describe(argument: Any) -> str:
    if argument is None:
        return "null"
    if isinstance(argument, list):
        return "a list"
    if isinstance(argument, dict):
        return "an object"
    return repr(render_value(argument))


_NUMBER_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def number(argument: Any, helper: str) -> Union[int, float]:
    argument = value(argument)
    if isinstance(argument, (int, float)) and not isinstance(argument, bool):
        return argument
    if isinstance(argument, str) and _NUMBER_TEXT.fullmatch(argument.strip()):
        written = argument.strip()
        return int(written) if written.lstrip("-").isdigit() else float(written)
    raise HelperProblem("'%s' compares numbers; %s is not one" % (helper, describe(argument)))


def json_equal(left: Any, right: Any) -> bool:
    """serde_json's equality: 1 is not 1.0, true is not 1, "1" is not 1."""
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    return bool(left == right)
