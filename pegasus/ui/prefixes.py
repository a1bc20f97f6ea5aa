"""How a job's line is shown: `[host (k=v)] text` under a prefix colored by
the sub-host's place in hosts.yaml, wrapped to the terminal's width under
it; or, for a pipeline (--prefix colon or none), `node-1(gpu=0): text` or
the text alone."""

from __future__ import annotations

import re
import shutil
from typing import TYPE_CHECKING, Dict, Optional, Tuple

from .terminal import RESET, host_color, palette, wrap

if TYPE_CHECKING:
    from ..spec.hosts import SubHost


class Prefixes:
    """The prefixes of one printer: `color`ed or not, in `style` (--prefix),
    lines wrapped to `width` columns if `wrapping`."""

    def __init__(self, color: bool, style: str, wrapping: bool, width: int):
        self.color = color
        self.colors = palette()
        self.style = style
        self._wrap = wrapping
        self.width = width
        self._prefixes: Dict[int, Tuple[str, int]] = {}
        self._tags: Dict[int, str] = {}

    def resize(self, width: int) -> None:
        """The terminal is now `width` columns wide."""
        self.width = width

    def prefix(self, host: Optional[SubHost]) -> Tuple[str, int]:
        """The prefix of `host` as shown, and its width. Colors go by the
        sub-host's place in hosts.yaml, so two sub-hosts with one label
        differ too."""
        index = host.index if host is not None else -1
        cached = self._prefixes.get(index)
        if cached is None:
            plain = "[%s]" % (host.label if host is not None else "-")
            shown = plain
            if self.color and host is not None:
                shown = host_color(host.index, self.colors) + plain + RESET
            cached = self._prefixes[index] = (shown, len(plain))
        return cached

    def tag(self, host: Optional[SubHost]) -> str:
        """A job line's prefix in --prefix colon or none: `node-1: `, with
        the sub-host's parameters and no white space, `node-1(gpu=0): `
        (`dshbak` takes what comes before the colon, up to a space)."""
        if self.style == "none":
            return ""
        index = host.index if host is not None else -1
        cached = self._tags.get(index)
        if cached is None:
            plain = colon_tag(host)
            if self.color and host is not None:
                plain = host_color(host.index, self.colors) + plain + RESET
            cached = self._tags[index] = plain + ": "
        return cached

    def job_line(self, host: Optional[SubHost], text: str) -> str:
        if self.style == "brackets":
            return self.line(host, text)
        return self.tag(host) + text + "\n"

    def line(self, host: Optional[SubHost], text: str, style: Optional[str] = None) -> str:
        shown, width = self.prefix(host)
        if self.color and style:
            text = style + text + RESET
        if not self._wrap:
            return "%s %s\n" % (shown, text)
        if "\t" in text:
            text = text.expandtabs(8)
        room = self.width - width - 1
        pieces = wrap(text, room) if room >= 20 else [text]
        # Continuation rows go under the text, not under a second prefix: a
        # row that starts with a prefix is a line the job printed (see the
        # docs/watching.md, "Output").
        indent = " " * (width + 1)
        return "%s %s\n" % (shown, pieces[0]) + "".join(
            "%s%s\n" % (indent, piece) for piece in pieces[1:])


_SPACE = re.compile(r"\s+")


def colon_tag(host: Optional[SubHost]) -> str:
    """`node-1`, `node-1(gpu=0,user=ann)`: a sub-host as one word."""
    if host is None:
        return "-"
    text = host.hostname
    if host.params:
        text += "(%s)" % ",".join("%s=%s" % pair for pair in host.params.items())
    return _SPACE.sub("_", text)


def terminal_width(wrapping: bool) -> int:
    """The width lines are wrapped to: the terminal's, if they are wrapped."""
    if not wrapping:
        return 0
    return shutil.get_terminal_size((100, 24)).columns
