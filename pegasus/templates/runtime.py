"""What a compiled template calls while it renders: lookups, value rendering
and truthiness, as handlebars-rust 4.3 (the engine of Pegasus 1.4) has them.

pybars3 compiles the canonical form that template_emit writes: the shape of
a template, whose text and literals are constants kept beside it. Every
name in it is a token of letters, digits, `_`, `-` and `@`:

    x, gpu_1          a variable (names that pybars3 could misread are encoded)
    pgv@<hex>         a variable, its UTF-8 name in hex
    pgk@<n>           the n-th constant: a piece of text, or a literal
    pgt@ pgp@ pgr@    this, the parent context (`../`), the root (`@root`)
    pgd@index         a data variable of {{#each}} (@index, @key, @first, @last)

Values are JSON values as Python holds them: str, int, float, bool, None,
list, and dict (with sorted keys, as serde_json keeps them).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

NAME, CONSTANT = "pgv@", "pgk@"
THIS, UP, ROOT, DATA = "pgt@", "pgp@", "pgr@", "pgd@"
# char::is_whitespace, which Rust's trims use (str.isspace has a few more).
RUST_WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                   "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


class Missing:
    """What a lookup of an undefined variable yields: false in a condition,
    an error naming the variable anywhere else."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "Missing(%r)" % self.name


class Undefined(Exception):
    """A template printed, passed to a helper, or opened a block (`block`:
    its helper, "each" or "with") over a variable nobody defines."""

    def __init__(self, name: str, block: Optional[str] = None):
        super().__init__(name)
        self.name = name
        self.block = block


class HelperProblem(Exception):
    """A helper cannot do its work with the values it got (`hint`: what to
    do instead, if there is more to say than the helpers of docs/files.md)."""

    def __init__(self, message: str, hint: Optional[str] = None):
        super().__init__(message)
        self.hint = hint


class Frame:
    """A context: the value `this` is, its parent, the root, @-variables;
    the root also holds the template's constants."""

    __slots__ = ("value", "parent", "root", "local", "constants")

    def __init__(self, value: Any, parent: Optional[Frame] = None,
                 local: Optional[Dict[str, Any]] = None, constants: Sequence[Any] = ()):
        self.value = value
        self.parent = parent
        self.root: Frame = self if parent is None else parent.root
        self.local = local
        self.constants = constants


# -- tokens --------------------------------------------------------------------------

def _hex(text: str) -> str:
    return text.encode("utf-8", "surrogatepass").hex()


def _unhex(digits: str) -> str:
    return bytes.fromhex(digits).decode("utf-8", "surrogatepass")


def name_token(name: str) -> str:
    return NAME + _hex(name)


def constant_token(index: int) -> str:
    return CONSTANT + str(index)


def decode_name(segment: str) -> str:
    return _unhex(segment[4:]) if segment.startswith(NAME) else segment


def _child(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return value.get(name, _ABSENT)
    if isinstance(value, list) and name.isascii() and name.isdigit():
        index = int(name)
        return value[index] if index < len(value) else _ABSENT
    return _ABSENT


_ABSENT = object()
_UNSET = object()


def resolve(frame: Frame, *segments: str) -> Any:
    """The value a path of tokens leads to from `frame`, or Missing."""
    value = _UNSET
    names = []
    for segment in segments:
        if not segment:
            continue  # pybars3 splits 'a.b' into 'a', '', 'b'
        prefix = segment[:4]
        if prefix == CONSTANT:
            return frame.root.constants[int(segment[4:])]
        if prefix == UP:
            frame = frame.parent or frame
        elif prefix == THIS:
            value = frame.value
        elif prefix == ROOT:
            value = frame.root.value
        elif prefix == DATA:
            name = segment[4:]
            if frame.local is None or name not in frame.local:
                return Missing("@" + name)
            value = frame.local[name]
        else:
            names.append(decode_name(segment))
            value = _child(frame.value if value is _UNSET else value, names[-1])
            if value is _ABSENT:
                return Missing(".".join(names))
    return frame.value if value is _UNSET else value


def ensure_scope(context: Any, _root: Any) -> Frame:
    """What pybars3 calls at the start of each block: the context as a Frame."""
    return context if isinstance(context, Frame) else Frame(context)


def resolve_subexpr(helpers: Mapping[str, Callable[..., Any]], name: str, context: Any,
                    *args: Any, **kwargs: Any) -> Any:
    return helpers[name](context, *args, **kwargs)


def helper_missing(_this: Any, _name: str, *_args: Any) -> None:
    """pybars3 asks this when a value is None: JSON null renders as ''."""
    return None


# -- rendering -----------------------------------------------------------------------

def format_float(number: float) -> str:
    """A float as serde_json prints it (ryu): shortest digits, `1e20`,
    `1.5e-7`, `100.0`, `0.0001`."""
    if math.isnan(number) or math.isinf(number):
        return "null"
    if number == 0:
        return "-0.0" if math.copysign(1.0, number) < 0 else "0.0"
    mantissa, _, exponent = repr(abs(number)).partition("e")
    point = mantissa.index(".") if "." in mantissa else len(mantissa)
    digits = mantissa.replace(".", "")
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    point += int(exponent or 0)
    sign = "-" if number < 0 else ""
    length = len(digits)
    if length <= point <= 16:
        return sign + digits + "0" * (point - length) + ".0"
    if 0 < point <= 16:
        return sign + digits[:point] + "." + digits[point:]
    if -5 < point <= 0:
        return sign + "0." + "0" * -point + digits
    tail = "." + digits[1:] if length > 1 else ""
    return "%s%s%se%d" % (sign, digits[0], tail, point - 1)


def render_value(value: Any) -> str:
    """A value as `{{ value }}` prints it in handlebars-rust: null is empty,
    a list `[a, b, ]`, an object `[object]`."""
    if isinstance(value, str):
        return value
    if isinstance(value, Missing):
        raise Undefined(value.name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, list):
        return "[" + "".join(render_value(item) + ", " for item in value) + "]"
    if isinstance(value, dict):
        return "[object]"
    return str(value)  # pybars3's own strlist, from a block


def prepare(value: Any, _should_escape: bool) -> str:
    """Stands in for pybars3's `prepare`: no HTML escaping, strict."""
    return render_value(value)


def truthy(value: Any, include_zero: bool = False) -> bool:
    """handlebars-rust's truthiness: 0 and "" and [] and {} are false."""
    if isinstance(value, Missing) or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if include_zero:
            return not math.isnan(value)
        return math.isfinite(value) and abs(value) >= 2.2250738585072014e-308
    if isinstance(value, (str, list, dict)):
        return len(value) > 0
    return bool(value)
