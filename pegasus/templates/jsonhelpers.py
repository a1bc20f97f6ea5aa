"""The json helpers of handlebars_misc_helpers 0.13, as Pegasus 1.4 had them.

    str_to_json TEXT [format=F]      the value TEXT holds ("" stays "")
    json_to_str VALUE [format=F]     VALUE as text (null and "" give "")
    json_query QUERY VALUE           the part of VALUE that QUERY selects
    json_str_query QUERY TEXT [format=F]
                                     the same on TEXT; a list or an object
                                     comes back in format F, anything else
                                     as JSON (a string keeps its quotes)
    {{#from_json [format=F]}}JSON{{/from_json}}   JSON rewritten in format F
    {{#to_json [format=F]}}TEXT{{/to_json}}       TEXT (format F) as pretty JSON

Formats: json (the default), json_pretty, yaml. JSON is written as serde_json
writes it (objects with sorted keys, floats like `1e20`); YAML is read with
the YAML 1.2 core schema (without aliases) and written by PyYAML, which may
quote some strings differently from serde_yaml. toml is not supported. QUERY is the subset of
JMESPath that template_jsonquery implements.
"""

from __future__ import annotations

import functools
import json
import re
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, NoReturn,
                    Optional, Tuple, Type, Union)

from .jsonfunctions import QueryProblem
from .jsonquery import search
from .runtime import Frame, HelperProblem, Missing, Undefined, format_float

if TYPE_CHECKING:
    import yaml

FORMATS = ("json", "json_pretty", "yaml")
_LARGEST = 2 ** 64
_SMALLEST = -(2 ** 63)


def _sorted_object(pairs: Iterable[Tuple[str, Any]]) -> Dict[str, Any]:
    return dict(sorted(dict(pairs).items()))


def _integer(text: str) -> Union[int, float]:
    number = int(text)
    return number if _SMALLEST <= number < _LARGEST else float(number)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError("%s is not JSON" % name)


def parse_json(text: str) -> Any:
    """`text` as serde_json reads it."""
    try:
        return json.loads(text, object_pairs_hook=_sorted_object, parse_int=_integer,
                          parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise HelperProblem("not valid JSON: %s" % exc) from None


def dump_json(value: Any, pretty: bool = False, indent: str = "") -> str:
    """`value` as serde_json writes it, compact or pretty (two spaces)."""
    if isinstance(value, dict):
        items = [json.dumps(key, ensure_ascii=False) + (": " if pretty else ":")
                 + dump_json(item, pretty, indent + "  ") for key, item in value.items()]
        return _enclose("{", items, "}", pretty, indent)
    if isinstance(value, list):
        return _enclose("[", [dump_json(item, pretty, indent + "  ") for item in value], "]",
                        pretty, indent)
    if isinstance(value, float):
        return format_float(value)
    return json.dumps(value, ensure_ascii=False)


def _enclose(opening: str, items: List[str], closing: str, pretty: bool, indent: str) -> str:
    if not items:
        return opening + closing
    if not pretty:
        return opening + ",".join(items) + closing
    inner = indent + "  "
    return opening + "\n" + ",\n".join(inner + item for item in items) + "\n" + indent + closing


@functools.lru_cache(maxsize=None)
def _yaml_loader() -> Type[yaml.SafeLoader]:
    import yaml

    class Core(yaml.SafeLoader):
        """YAML 1.2 core schema: `on`, `yes`, `010` and `1_000` stay strings.
        No aliases: `*a` repeated could make a few bytes expand without end."""

        def compose_node(self, parent: Optional[yaml.Node], index: int) -> Optional[yaml.Node]:
            if self.check_event(yaml.AliasEvent):
                raise yaml.YAMLError("aliases (*name) are not supported")
            return super().compose_node(parent, index)

    Core.yaml_implicit_resolvers = {}
    for tag, pattern, first in (
            ("bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
            ("null", r"~|null|Null|NULL|", "~nN"),
            ("int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
            ("float", r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
                      r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)", "-+0123456789.")):
        Core.add_implicit_resolver("tag:yaml.org,2002:" + tag, re.compile("(?:%s)$" % pattern),
                                   list(first) + ([""] if tag == "null" else []))

    def integer(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Union[int, float]:
        written = loader.construct_scalar(node)
        base = {"0o": 8, "0x": 16}.get(written[:2], 10)
        return _integer(str(int(written[2:] if base != 10 else written, base)))

    Core.add_constructor("tag:yaml.org,2002:int", integer)
    return Core


def _read(text: str, format_name: str) -> Any:
    if text == "":
        return ""
    if format_name == "yaml":
        import yaml
        try:
            return _json_values(yaml.load(text, Loader=_yaml_loader()))
        except yaml.YAMLError as exc:
            raise HelperProblem("not valid YAML: %s" % exc) from None
    return parse_json(text)


def _json_values(value: Any) -> Any:
    """What PyYAML read, as JSON values (keys as text, sorted)."""
    if isinstance(value, dict):
        return _sorted_object((str(key), _json_values(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_json_values(item) for item in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _write(value: Any, format_name: str) -> str:
    if value is None or value == "":
        return ""
    if format_name == "yaml":
        import yaml
        written = yaml.safe_dump(value, default_flow_style=False, sort_keys=False,
                                 allow_unicode=True)
        return written[:-4] if written.endswith("\n...\n") else written
    return dump_json(value, pretty=format_name == "json_pretty")


def _format(hash_args: Mapping[str, Any]) -> str:
    name = hash_args.get("format", "json")
    name = name.lower() if isinstance(name, str) else name
    if name not in FORMATS:
        raise HelperProblem("format %r is not supported; formats: %s" % (
            name, ", ".join(FORMATS)))
    return name


def _text_or_empty(argument: Any) -> str:
    """What the crate's find_str_param gives: a string, or ""."""
    if isinstance(argument, Missing):
        raise Undefined(argument.name)
    return argument if isinstance(argument, str) else ""


def _query(expression: str, data: Any) -> Any:
    try:
        return search(expression, data)
    except QueryProblem as exc:
        raise HelperProblem("json query %r: %s" % (expression, exc)) from None


def str_to_json(data: Any, **hash_args: Any) -> Any:
    return _read(_text_or_empty(data), _format(hash_args))


def json_to_str(data: Any, **hash_args: Any) -> str:
    if isinstance(data, Missing):
        raise Undefined(data.name)
    return _write(data, _format(hash_args))


def json_query(expression: Any, data: Any) -> Any:
    for argument in (expression, data):
        if isinstance(argument, Missing):
            raise Undefined(argument.name)
    if not isinstance(expression, str):
        raise HelperProblem("'json_query' takes its query as text")
    return _query(expression, data)


def json_str_query(expression: Any, data: Any, **hash_args: Any) -> str:
    format_name = _format(hash_args)
    found = _query(_text_or_empty(expression), _read(_text_or_empty(data), format_name))
    if isinstance(found, (list, dict)):
        return _write(found, format_name)
    return _write(found, "json").strip()


def from_json(this: Frame, options: Dict[str, Any], **hash_args: Any) -> str:
    format_name = _format(hash_args)
    return _write(_read(str(options["fn"](this) or ""), "json"), format_name)


def to_json(this: Frame, options: Dict[str, Any], **hash_args: Any) -> str:
    format_name = _format(hash_args)
    return _write(_read(str(options["fn"](this) or ""), format_name), "json_pretty")


# (name, function, least and most arguments, block helper?, example)
HELPERS: List[Tuple[str, Callable[..., Any], int, int, bool, str]] = [
    ("str_to_json", str_to_json, 1, 1, False, "{{ str_to_json text }}"),
    ("json_to_str", json_to_str, 1, 1, False, "{{ json_to_str (str_to_json text) }}"),
    ("json_query", json_query, 2, 2, False, '{{ json_query "a.b" (str_to_json text) }}'),
    ("json_str_query", json_str_query, 2, 2, False, '{{ json_str_query "a.b" text }}'),
    ("from_json", from_json, 0, 0, True, "{{#from_json}}...{{/from_json}}"),
    ("to_json", to_json, 0, 0, True, '{{#to_json format="yaml"}}...{{/to_json}}'),
]
