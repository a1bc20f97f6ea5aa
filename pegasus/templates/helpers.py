"""The helpers a template may call, with the results Pegasus 1.4 gave.

Pegasus 1.4 rendered with handlebars-rust 4.3 and handlebars_misc_helpers
0.13 (string and json features). Its helpers are here, by the same names:
the built-ins (`if`, `unless`, `each`, `with`, `lookup`, `log`, `eq`, `ne`,
`gt`, `gte`, `lt`, `lte`, `and`, `or`, `not`, `len`), the string helpers
(case conversions, `replace`, `trim`..., `quote`, `unquote`,
`first_non_empty`), the path helpers, `env_var`, and the json helpers (in
template_json). pegasus adds `lower`, `upper`, `shell_quote` and `default`.

Every value a queue gives a template is text, as in 1.4 (which read YAML
values as strings). Where 1.4 stopped with an error, pegasus does a little
more: a helper that takes text also takes a number or a boolean (as the text
it prints as), and `gt`/`gte`/`lt`/`lte` compare text that reads as a number
as that number (1.4 only compared number literals). `eq` and `ne` compare
as 1.4 did: the text "0" is not the number 0.

No helper runs anything, imports anything or opens a file; `env_var` reads
pegasus's own environment.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Tuple

from . import inflector, jsonhelpers
from .arguments import describe, json_equal, number, text, value
from .quoting import shell_quote
from .runtime import RUST_WHITESPACE, Frame, HelperProblem, Missing, Undefined, truthy


class HelperSpec:
    """A helper: its function, how many arguments it takes, which `key=`
    arguments, whether it is a block helper, and an example for messages."""

    __slots__ = ("name", "function", "least", "most", "hash_keys", "block", "example")

    def __init__(self, name: str, function: Callable[..., Any], least: int, most: Optional[int],
                 hash_keys: FrozenSet[str] = frozenset(), block: bool = False,
                 example: str = ""):
        self.name = name
        self.function = function
        self.least = least
        self.most = most
        self.hash_keys = hash_keys
        self.block = block
        self.example = example or (
            "{{ %s name }}" % name if least == 1 else "{{ %s %s }}" % (
                name, " ".join("arg%d" % n for n in range(1, least + 1))))

    def pybars(self) -> Callable[..., Any]:
        """The function as pybars3 calls it: with the context first."""
        if self.block:
            return self.function
        function = self.function

        def call(_this: Any, *args: Any, **hash_args: Any) -> Any:
            return function(*args, **hash_args)
        return call





# -- string helpers -------------------------------------------------------------------

def _default(argument: Any, fallback: Any) -> str:
    if isinstance(argument, Missing) or argument is None or argument == "":
        return text(fallback, "default")
    return text(argument, "default")


def _first_non_empty(*arguments: Any) -> str:
    for argument in arguments:
        if isinstance(argument, str) and argument:
            return argument
    return ""


def _quote(symbol: Any, word: Any) -> str:
    quote = text(symbol, "quote")[:1] or '"'
    escaped = "".join("\\" + char if char in (quote, "\\") else char
                      for char in text(word, "quote"))
    return quote + escaped + quote


_UNESCAPES = {"\\": "\\", '"': '"', "'": "'", "`": "`", "a": "\x07", "b": "\x08",
              "f": "\x0c", "n": "\n", "r": "\r", "t": "\t", "v": "\x0b"}
# escape letter: (how many characters follow, their base, the largest value)
_NUMERIC_ESCAPES = {"x": (2, 16, 0xFF), "u": (4, 16, 0x10FFFF), "U": (8, 16, 0x10FFFF)}


def _code_point(digits: str, base: int, largest: int) -> Optional[int]:
    """Rust's from_str_radix (which takes a leading '+'), within `largest`."""
    body = digits[1:] if digits.startswith("+") and len(digits) > 1 else digits
    allowed = "01234567" if base == 8 else "0123456789abcdefABCDEF"
    if not body or any(char not in allowed for char in body):
        return None
    point = int(body, base)
    if point > largest or 0xD800 <= point <= 0xDFFF:
        return None
    return point


def _unescape(body: str, quote: str) -> Optional[str]:
    """The crate enquote's unescape; None where it gives an error."""
    out, pos = [], 0
    while pos < len(body):
        char = body[pos]
        pos += 1
        if char == quote:
            return None
        if char != "\\":
            out.append(char)
            continue
        if pos >= len(body):
            return None
        escape = body[pos]
        pos += 1
        if escape in _UNESCAPES:
            out.append(_UNESCAPES[escape])
            continue
        if escape.isascii() and escape.isdigit():  # octal: this digit and two more
            digits, pos = escape + body[pos:pos + 2], pos + 2
            point = _code_point(digits, 8, 0xFF) if len(digits) == 3 else None
        elif escape in _NUMERIC_ESCAPES:
            length, base, largest = _NUMERIC_ESCAPES[escape]
            digits, pos = body[pos:pos + length], pos + length
            point = _code_point(digits, base, largest) if len(digits) == length else None
        else:
            return None
        if point is None:
            return None
        out.append(chr(point))
    return "".join(out)


def _unquote(word: Any) -> str:
    word = text(word, "unquote")
    if len(word) < 2 or word[0] not in "\"'`" or word[-1] != word[0]:
        return word
    unquoted = _unescape(word[1:-1], word[0])
    return word if unquoted is None else unquoted


# -- paths, as Rust's std::path sees them on Unix, without the file system ------------

def _components(path: str) -> List[Tuple[int, str]]:
    """(start offset, component) of each component; '.' only leads."""
    found = []
    if path.startswith("/"):
        found.append((0, "/"))
    for part in re.finditer(r"[^/]+", path):
        if part.group() != "." or part.start() == 0:
            found.append((part.start(), part.group()))
    return found


def _file_name(path: Any) -> str:
    found = _components(text(path, "file_name"))
    name = found[-1][1] if found else ""
    return "" if name in ("/", ".", "..") else name


def _parent(path: Any) -> str:
    path = text(path, "parent")
    found = _components(path)
    if not found or (found[-1][1] in ("/", ".") and len(found) == 1):
        return ""
    # What is left once the last component is gone, less trailing separators
    # and "." components, but never less than a root or a leading ".".
    floor = 1 if path.startswith("/") or found[0][1] == "." else 0
    rest = path[:found[-1][0]]
    while len(rest) > floor:
        cut = rest.rfind("/")
        component = rest[cut + 1:] if cut >= floor else rest[floor:]
        if component not in ("", "."):
            break
        rest = rest[:cut] if cut >= floor else rest[:floor]
    return rest


def _extension(path: Any) -> str:
    name = _file_name(path)
    stem, dot, extension = name.rpartition(".")
    return extension if dot and stem else ""


# -- environment ----------------------------------------------------------------------

def _rust_os() -> str:
    name = sys.platform.rstrip("0123456789")
    return {"darwin": "macos", "win32": "windows"}.get(name, name)


def _env_var(name: Any) -> str:
    name = text(name, "env_var")
    dll = "dylib" if sys.platform == "darwin" else ("dll" if os.name == "nt" else "so")
    machine = platform.machine().lower()
    constants = {
        "ARCH": {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine),
        "DLL_EXTENSION": dll, "DLL_PREFIX": "" if os.name == "nt" else "lib",
        "DLL_SUFFIX": "." + dll, "EXE_EXTENSION": "exe" if os.name == "nt" else "",
        "EXE_SUFFIX": ".exe" if os.name == "nt" else "",
        "FAMILY": "windows" if os.name == "nt" else "unix", "OS": _rust_os(),
    }
    if name in constants:
        return constants[name]
    if name == "USERNAME":
        for key in ("USERNAME", "username", "USER", "user"):
            if key in os.environ:
                return os.environ[key]
        return "noname"
    return os.environ.get(name, "")


# -- built-ins of handlebars-rust -------------------------------------------------------

def _compare(name: str, test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    return lambda left, right: test(number(left, name), number(right, name))


def _len(argument: Any) -> int:
    argument = value(argument)
    if isinstance(argument, str):
        return len(argument.encode("utf-8", "surrogatepass"))  # Rust's str::len
    return len(argument) if isinstance(argument, (list, dict)) else 0


def _lookup(collection: Any, key: Any) -> Any:
    collection, key = value(collection), value(key)
    if isinstance(collection, list) and isinstance(key, int) and not isinstance(key, bool):
        return collection[key] if 0 <= key < len(collection) else None
    if isinstance(collection, dict) and isinstance(key, str):
        return collection.get(key)
    return None


def _if(this: Frame, options: Dict[str, Any], condition: Any, includeZero: Any = False) -> Any:
    include_zero = includeZero is True
    return options["fn" if truthy(condition, include_zero) else "inverse"](this)


def _unless(this: Frame, options: Dict[str, Any], condition: Any,
            includeZero: Any = False) -> Any:
    include_zero = includeZero is True
    return options["inverse" if truthy(condition, include_zero) else "fn"](this)


def _block_subject(argument: Any, helper: str) -> Any:
    """What `{{#each}}` or `{{#with}}` opens: an undefined name is an error
    (strict, as handlebars-rust's strict mode; only `#if` and `#unless`
    take an undefined name), with an `{{else}}` or without."""
    if isinstance(argument, Missing):
        raise Undefined(argument.name, block=helper)
    return argument


def _with(this: Frame, options: Dict[str, Any], context: Any) -> Any:
    context = _block_subject(context, "with")
    if truthy(context):
        return options["fn"](Frame(context, this))
    return options["inverse"](this)


def _each(this: Frame, options: Dict[str, Any], collection: Any) -> Any:
    collection = _block_subject(collection, "each")
    if isinstance(collection, (str, int, float)):   # bool too
        raise HelperProblem(
            "'#each' goes over a list or an object, not %s%s" % (
                "the text " if isinstance(collection, str) else "", describe(collection)),
            "a list in queue.yaml or hosts.yaml makes one job or sub-host per value, so a "
            "template sees one value; to hand one job a list, write it as JSON text "
            "(ids: '[1, 2]') and go over {{#each (str_to_json ids)}}")
    if isinstance(collection, dict):
        collection = dict(sorted(collection.items()))  # serde_json's order
    if isinstance(collection, list) and collection:
        last = len(collection) - 1
        return "".join(str(options["fn"](Frame(item, this, {
            "index": index, "first": index == 0, "last": index == last})) or "")
            for index, item in enumerate(collection))
    if isinstance(collection, dict) and collection:
        last = len(collection) - 1
        return "".join(str(options["fn"](Frame(item, this, {
            "key": key, "first": index == 0, "last": index == last})) or "")
            for index, (key, item) in enumerate(collection.items()))
    return options["inverse"](this)


def _string_helper(name: str, function: Callable[..., str], arity: int = 1,
                   **kwargs: Any) -> HelperSpec:
    def helper(*arguments: Any) -> str:
        return function(*(text(argument, name) for argument in arguments))
    return HelperSpec(name, helper, arity, arity, **kwargs)


_FORMAT = frozenset(["format"])
_CONDITION = frozenset(["includeZero"])
_CASES = ["to_camel_case", "to_pascal_case", "to_snake_case", "to_screaming_snake_case",
          "to_kebab_case", "to_train_case", "to_sentence_case", "to_title_case",
          "to_class_case", "to_table_case", "to_plural", "to_singular"]


def _specs() -> Dict[str, HelperSpec]:
    specs = [
        _string_helper("replace", lambda s, old, new: s.replace(old, new), 3,
                       example='{{ replace model "/" "--" }}'),
        _string_helper("lower", str.lower), _string_helper("to_lower_case", str.lower),
        _string_helper("upper", str.upper), _string_helper("to_upper_case", str.upper),
        _string_helper("trim", lambda s: s.strip(RUST_WHITESPACE)),
        _string_helper("trim_start", lambda s: s.lstrip(RUST_WHITESPACE)),
        _string_helper("trim_end", lambda s: s.rstrip(RUST_WHITESPACE)),
        _string_helper("shell_quote", shell_quote),
        HelperSpec("default", _default, 2, 2, example='{{ default gpu "0" }}'),
        HelperSpec("first_non_empty", _first_non_empty, 0, None,
                   example='{{ first_non_empty tag "latest" }}'),
        HelperSpec("quote", _quote, 2, 2, example="{{ quote \"'\" name }}"),
        HelperSpec("unquote", _unquote, 1, 1),
        HelperSpec("file_name", _file_name, 1, 1), HelperSpec("parent", _parent, 1, 1),
        HelperSpec("extension", _extension, 1, 1),
        HelperSpec("env_var", _env_var, 1, 1, example='{{ env_var "USER" }}'),
        HelperSpec("eq", lambda a, b: json_equal(value(a), value(b)), 2, 2,
                   example='{{#if (eq gpu "0")}}...{{/if}}'),
        HelperSpec("ne", lambda a, b: not json_equal(value(a), value(b)), 2, 2,
                   example='{{#if (ne gpu "0")}}...{{/if}}'),
        HelperSpec("and", lambda a, b: truthy(a) and truthy(b), 2, 2),
        HelperSpec("or", lambda a, b: truthy(a) or truthy(b), 2, 2),
        HelperSpec("not", lambda a: not truthy(a), 1, 1),
        HelperSpec("len", _len, 1, 1),
        HelperSpec("lookup", _lookup, 2, 2, example="{{ lookup list 0 }}"),
        # At least one argument, so that `{{ log }}` for a variable named log
        # is an error with a hint, not silently empty.
        HelperSpec("log", lambda *arguments: None, 1, None, example='{{ log "text" }}'),
        HelperSpec("if", _if, 1, 1, _CONDITION, block=True, example="{{#if x}}...{{/if}}"),
        HelperSpec("unless", _unless, 1, 1, _CONDITION, block=True,
                   example="{{#unless x}}...{{/unless}}"),
        HelperSpec("each", _each, 1, 1, block=True, example="{{#each list}}...{{/each}}"),
        HelperSpec("with", _with, 1, 1, block=True, example="{{#with x}}...{{/with}}"),
    ]
    for name, test in (("gt", lambda a, b: a > b), ("gte", lambda a, b: a >= b),
                       ("lt", lambda a, b: a < b), ("lte", lambda a, b: a <= b)):
        specs.append(HelperSpec(name, _compare(name, test), 2, 2,
                                example="{{#if (%s gpu 1)}}...{{/if}}" % name))
    specs.extend(_string_helper(name, getattr(inflector, name)) for name in _CASES)
    specs.extend(HelperSpec(name, function, least, most, _FORMAT, block=block, example=example)
                 for name, function, least, most, block, example in jsonhelpers.HELPERS)
    return {spec.name: spec for spec in specs}


SPECS = _specs()
HELPER_NAMES = sorted(SPECS)
BLOCK_HELPER_NAMES = sorted(name for name, spec in SPECS.items() if spec.block)

# Helpers of Pegasus 1.4 (handlebars_misc_helpers) left out on purpose: they
# reach the files or the network of the machine running pegasus, or (assign)
# set a variable from inside a template. A queue that calls one, also as a
# block, is told the helper is unknown, and why.
LEFT_OUT = frozenset(["read_to_str", "canonicalize", "http_get", "gitignore_io", "jsonnet",
                      "assign"])
