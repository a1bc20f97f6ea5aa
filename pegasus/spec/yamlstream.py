"""A big queue read one top-level item at a time: each item of the
top-level list is composed from the parser's events, shaped and handed on
before the next one is read, so that a queue of 100,000 entries is never a
tree in memory. What this shortcut does not handle (anchors, aliases, a
root that is not a block list, several documents) is read whole, by
yamlfile.compose."""

from __future__ import annotations

from typing import Any, Iterator, List, Sequence

import yaml

from ..errors import Problem
from .yamlerrors import syntax_error
from .yamlfile import Entry, check_characters, compose, entry_of, root_sequence

_STR, _SEQ, _MAP = ("tag:yaml.org,2002:" + kind for kind in ("str", "seq", "map"))


def stream_entries(text: str, path: str, main_key: str, problems: List[Problem],
                   instead: Sequence[str] = ()) -> Iterator[Entry]:
    """The entries of `text`, one at a time, as `entries(compose(text))`
    lists them, with its problems appended to `problems` in the same order
    (complete once the stream is exhausted): for the caller to raise.

    A big queue is never a tree in memory: each top-level item is composed
    from the parser's events, shaped and handed on before the next one is
    read (a YAML syntax error anywhere still raises at once, as the whole
    file was parsed: the caller drops what it has seen).
    """
    characters: List[Problem] = []
    for item in items(text, path, main_key):
        entry = entry_of(item, path, main_key, instead, problems)
        if entry is not None:
            check_characters(entry, characters)
            yield entry
    problems.extend(characters)


class _Whole(Exception):
    """This text is read whole, by `compose`: its root is not a block list,
    it uses anchors or aliases, or it is not a single document."""


def _event_parser(text: str) -> Any:
    """libyaml's event parser when PyYAML was built with it, else PyYAML's.
    libyaml is handed the text in pieces: given it whole, it would first
    make a copy of all of it."""
    parser = getattr(getattr(yaml, "_yaml", None), "CParser", None)
    return parser(Pieces(text)) if parser is not None else yaml.SafeLoader(text)


class Pieces:
    """A text read as a stream (what libyaml asks for, a piece at a time)."""

    __slots__ = ("text", "offset")

    def __init__(self, text: str) -> None:
        self.text = text
        self.offset = 0

    def read(self, size: int) -> str:
        start = self.offset
        self.offset = start + size
        return self.text[start:self.offset]


def items(text: str, path: str, main_key: str) -> Iterator[yaml.Node]:
    """The top-level items of `text`, as `root_sequence(compose(text))` gives
    them, each composed on its own. Whatever this shortcut does not handle
    (see _Whole) is handed to `compose` instead, from the item reached."""
    parser = _event_parser(text)
    done = 0
    try:
        try:
            parser.get_event()  # stream start
            if parser.check_event(yaml.StreamEndEvent):
                return
            parser.get_event()  # document start
            if not parser.check_event(yaml.SequenceStartEvent) \
                    or parser.peek_event().anchor is not None:
                raise _Whole()
            parser.get_event()
            while not parser.check_event(yaml.SequenceEndEvent):
                if parser.check_event(yaml.ScalarEvent):  # the usual entry: a command
                    event = parser.get_event()
                    if event.anchor is not None:
                        raise _Whole()
                    yield yaml.ScalarNode(_STR, event.value, event.start_mark, event.end_mark,
                                          event.style)
                else:
                    yield _compose(parser)
                done += 1
            parser.get_event()  # sequence end
            parser.get_event()  # document end
            if not parser.check_event(yaml.StreamEndEvent):
                raise _Whole()
            return
        except yaml.YAMLError as exc:
            raise syntax_error(exc, path, text) from None
        except (_Whole, RecursionError):
            pass
    finally:
        parser.dispose()
    yield from root_sequence(compose(text, path), path, main_key)[done:]


def _compose(parser: Any) -> yaml.Node:
    """The next node from `parser`'s events, every scalar kept as its text
    (no tag is resolved: nothing here reads one). Raises _Whole at an anchor
    or an alias."""
    event = parser.get_event()
    kind = type(event)
    if kind is yaml.AliasEvent or event.anchor is not None:
        raise _Whole()
    if kind is yaml.ScalarEvent:
        return yaml.ScalarNode(_STR, event.value, event.start_mark, event.end_mark, event.style)
    if kind is yaml.SequenceStartEvent:
        items = []
        while not parser.check_event(yaml.SequenceEndEvent):
            items.append(_compose(parser))
        end = parser.get_event()
        return yaml.SequenceNode(_SEQ, items, event.start_mark, end.end_mark, event.flow_style)
    pairs = []
    while not parser.check_event(yaml.MappingEndEvent):
        key = _compose(parser)
        pairs.append((key, _compose(parser)))
    end = parser.get_event()
    return yaml.MappingNode(_MAP, pairs, event.start_mark, end.end_mark, event.flow_style)
