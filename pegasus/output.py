"""What a person sees while jobs run: each output line whole, under a
`[host (k=v)]` prefix, colored, wrapped to the terminal; a start and a done
line per run; pegasus's notices."""

from __future__ import annotations

import shutil
import signal
import sys
from typing import Dict, List, Optional, Tuple

from . import words
from .events import Handler
from .terminal import BOLD, COLORS, DIM, RED, RESET, use_color, wrap, write_all


class Printer(Handler):
    """Prints each job's output lines whole, under a `[host (k=v)]` prefix.

    Lines are buffered and written once per loop iteration, so two chatty
    jobs never interleave inside a line. Long lines wrap to the terminal
    width under the prefix (re-read on SIGWINCH); `print_period` N prints
    every Nth line of each job (0: none).
    """

    def __init__(self, stdout=None, stderr=None, color="auto", print_period=1):
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.color = use_color(color, self.stdout)
        self.print_period = print_period
        self._wrap = self.stdout.isatty()
        self.width = self._terminal_width()
        self._out: List[str] = []
        self._err: List[str] = []
        self._prefixes: Dict[str, Tuple[str, int]] = {}
        self._flush_scheduled = False
        self._lines: Dict[int, int] = {}   # run seq -> lines seen
        self.loop = None

    def attach(self, loop) -> None:
        """Flush once per loop iteration; follow terminal resizes."""
        self.loop = loop
        if self._wrap and hasattr(signal, "SIGWINCH"):
            loop.on_signal(signal.SIGWINCH, self._resized)

    def _terminal_width(self) -> int:
        if not self._wrap:
            return 0
        return shutil.get_terminal_size((100, 24)).columns

    def _resized(self, _signum):
        self.width = self._terminal_width()

    # --- formatting ----------------------------------------------------------

    def prefix(self, host) -> Tuple[str, int]:
        label = host.label if host is not None else "-"
        cached = self._prefixes.get(label)
        if cached is None:
            plain = "[%s]" % label
            shown = plain
            if self.color:
                index = host.index if host is not None else 0
                shown = "\x1b[%sm%s%s" % (COLORS[index % len(COLORS)], plain, RESET)
            cached = self._prefixes[label] = (shown, len(plain))
        return cached

    def _format(self, host, text: str, style: Optional[str] = None) -> str:
        shown, width = self.prefix(host)
        if self.color and style:
            text = style + text + RESET
        if not self._wrap:
            return "%s %s\n" % (shown, text)
        if "\t" in text:
            text = text.expandtabs(8)
        room = self.width - width - 1
        pieces = wrap(text, room) if room >= 20 else [text]
        indent = " " * (width + 1)
        return "%s %s\n" % (shown, pieces[0]) + "".join(
            "%s%s\n" % (indent, piece) for piece in pieces[1:])

    def _emit(self, buffer: List[str], text: str) -> None:
        buffer.append(text)
        if self.loop is None:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        for buffer, stream in ((self._out, self.stdout), (self._err, self.stderr)):
            if buffer:
                text = "".join(buffer)
                buffer.clear()
                write_all(stream, text)

    # --- events --------------------------------------------------------------

    def on_host_ready(self, host, was_down):
        if was_down:
            self._emit(self._err, self._format(host, "connected again: taking jobs"))

    def on_host_failed(self, host, reason):
        self._emit(self._err, self._format(host, "cannot connect: %s (skipped)" % reason, RED))

    def on_host_lost(self, host, reason):
        self._emit(self._err, self._format(host, "connection lost: %s" % reason, RED))

    def on_job_started(self, launch):
        if launch.host is None:
            return
        text = "$ " + words.first_line(launch.command)
        if launch.host.slots > 1 and launch.slots is not None:
            text += "   (slots %s)" % launch.slots_text
        self._emit(self._out, self._format(launch.host, text, DIM))

    def on_job_line(self, launch, stream, text):
        period = self.print_period
        if period != 1:
            seen = self._lines.get(launch.seq, 0) + 1
            self._lines[launch.seq] = seen
            if period == 0 or (seen - 1) % period:
                return
        self._emit(self._out if stream == "out" else self._err, self._format(launch.host, text))

    def on_job_finished(self, outcome):
        self._lines.pop(outcome.seq, None)
        took = words.seconds(outcome.duration)
        if outcome.retried:
            text = "LOST: %s after %s; the job goes back to the queue for another host" % (
                words.ending(outcome), took)
            self._emit(self._out, self._format(outcome.host, text, BOLD + RED))
            return
        if outcome.ok:
            text, style = "done: exit 0 after %s" % took, DIM
        elif outcome.host is None:
            text, style = "FAILED: %s" % words.ending(outcome), BOLD + RED
        else:
            text, style = "FAILED: %s after %s" % (words.ending(outcome), took), BOLD + RED
        self._emit(self._out, self._format(outcome.host, text, style))

    def on_notice(self, notice):
        text = words.notice(notice)
        if notice.warning and self.color:
            text = RED + text + RESET
        self._emit(self._err, "pegasus: %s\n" % text)
