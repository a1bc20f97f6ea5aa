"""The terminal: whether to color, how wide text is, wrapping it without
cutting an escape sequence, and writing it all even to a full pipe."""

from __future__ import annotations

import itertools
import os
import re
import select
import unicodedata
from typing import List

COLORS = ("36", "33", "35", "32", "34", "31", "96", "93", "95", "92", "94", "91")
DIM, RED, BOLD, RESET = "\x1b[2m", "\x1b[31m", "\x1b[1m", "\x1b[0m"
_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")


def use_color(choice: str, stream) -> bool:
    """--color auto|always|never; auto means a terminal and no NO_COLOR."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal: escapes take none, wide East Asian
    characters two, combining marks none."""
    if text.isascii():
        return len(_ESCAPE.sub("", text)) if "\x1b" in text else len(text)
    width = 0
    for piece in _ESCAPE.split(text):
        for char in piece:
            if unicodedata.combining(char):
                continue
            width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
    return width


def wrap(text: str, width: int) -> List[str]:
    """Cut `text` into pieces of at most `width` columns, never inside an
    escape sequence."""
    if width < 1 or display_width(text) <= width:
        return [text]
    pieces: List[str] = []
    current: List[str] = []
    used = 0
    position = 0
    for match in itertools.chain(_ESCAPE.finditer(text), [None]):
        end = match.start() if match else len(text)
        for char in text[position:end]:
            size = 0 if unicodedata.combining(char) else (
                2 if not char.isascii() and unicodedata.east_asian_width(char) in "WF" else 1)
            if used + size > width and current:
                pieces.append("".join(current))
                current, used = [], 0
            current.append(char)
            used += size
        if match:
            current.append(match.group())
            position = match.end()
    if current:
        pieces.append("".join(current))
    return pieces


def write_all(stream, text: str) -> None:
    """Write all of `text` to `stream`.

    Straight to the file descriptor when there is one: a blocking write to a
    full pipe that a signal (SIGCHLD, every time a job ends) interrupts
    returns short, and Python's buffered text layer was seen to drop the
    rest. Here a short write is simply continued, and a descriptor someone
    made non-blocking is waited on.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        stream.write(text)
        stream.flush()
        return
    stream.flush()
    data = text.encode("utf-8", "replace")
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[written:]
