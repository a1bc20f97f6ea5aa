"""What a person sees while jobs run: each output line whole, under a
`[host (k=v)]` prefix, colored, wrapped to the terminal; a start and a done
line per run; pegasus's notices; and on a terminal, a status line at the
bottom (statusline.py says when, words.py what)."""

from __future__ import annotations

import errno
import functools
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Protocol, TextIO, Tuple

from ..errors import OutputLost
from ..events.handler import Handler, RunInfo
from ..events.notices import Notice, QueueEmpty
from ..events.outcome import Launch, Outcome
from . import words
from .prefixes import Prefixes, terminal_width
from .statusline import Mode, Snapshot, StatusLine, Tally
from .terminal import (
    BOLD,
    DIM,
    RED,
    RESET,
    Screen,
    columns,
    status_terminal,
    use_color,
)

if TYPE_CHECKING:
    from ..engine.loop import Loop
    from ..spec.hosts import SubHost

Clock = Callable[[], float]   # time.time, or a test's


class OutputListener(Protocol):
    """Who hears that pegasus's own output is lost (the runner)."""

    def output_lost(self, lost: OutputLost) -> None:
        """stdout or stderr cannot be written any more (`lost`); said once."""


class Printer(Handler):
    """Prints each job's output lines whole, under a `[host (k=v)]` prefix.

    Lines are buffered and written once per loop iteration, so two chatty
    jobs never interleave inside a line. Long lines wrap to the terminal
    width under the prefix (re-read on SIGWINCH); `print_period` N prints
    the Nth, 2Nth... line of each stream of each run (0: none).

    The Printer owns the terminal: on one, the status line sits below the
    last line written, and every write clears it, writes the lines, and
    draws it again, in one write. `progress` asks for a plain status line
    every few seconds when stderr is not a terminal.

    When stdout or stderr cannot be written any more (the reader of a pipe
    left, a full disk), the Printer keeps the first such OutputLost in
    `lost`, tells its OutputListener (the runner stops the run), and goes on
    writing to the other stream only.
    """

    def __init__(self, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None,
                 color: str = "auto", print_period: int = 1, progress: bool = False,
                 clock: Clock = time.time, prefix: str = "brackets", job_stderr: str = "stderr"):
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.color = use_color(color, self.stdout)
        self.print_period = print_period
        # --prefix: "brackets", or "colon" / "none" for a pipeline: then stdout
        # holds the jobs' lines alone, unwrapped.
        self.style = prefix
        self.job_stderr = job_stderr   # --stderr: "stderr", or "stdout" with the rest
        self._wrap = self.stdout.isatty() and prefix == "brackets"
        self.prefixes = Prefixes(self.color, prefix, self._wrap, terminal_width(self._wrap))
        self._out: List[str] = []
        self._err: List[str] = []
        self._flush_scheduled = False
        self._lines: Dict[Tuple[int, str], int] = {}   # (run seq, stream) -> lines seen
        self.loop: Optional[Loop] = None
        self.tally = Tally(clock)
        live = status_terminal(self.stdout, self.stderr)
        mode = Mode.LIVE if live else Mode.PLAIN if progress else Mode.OFF
        self.status = StatusLine(self.tally, mode, self._show_status)
        self.screen = Screen(self.stdout, self.stderr, live,
                             BOLD if use_color(color, self.stderr) else "")
        self._status_width = columns(self.stderr) if live else 0
        self._plain = ""     # the last plain status line (--progress)
        self._final: Optional[Snapshot] = None   # where the run stood when it ended
        self._waiting: Optional[Notice] = None  # a daemon's "queue empty" notice, until no job runs
        self.lost: Optional[OutputLost] = None   # the first stream that could not be written
        self._told: Optional[OutputListener] = None   # whom to tell when a stream is lost

    def tell_when_lost(self, listener: OutputListener) -> None:
        """`listener.output_lost` hears of the first stream lost (the runner,
        which stops the run)."""
        self._told = listener

    def attach(self, loop: Loop) -> None:
        """Flush once per loop iteration; follow terminal resizes; time the
        status line."""
        self.loop = loop
        for stream in (self.stdout, self.stderr):
            try:
                fd = stream.fileno()
            except (AttributeError, OSError, ValueError):
                continue
            loop.on_reader_gone(fd, functools.partial(self._reader_gone, stream))
        if (self._wrap or self.status.mode is Mode.LIVE) and hasattr(signal, "SIGWINCH"):
            loop.on_signal(signal.SIGWINCH, self._resized)
        self.status.attach(loop)

    def _resized(self, _signum: int) -> None:
        self.prefixes.resize(terminal_width(self._wrap))
        if self.status.mode is Mode.LIVE:
            self._status_width = columns(self.stderr)
            self._show_status(force=True)

    def prefix(self, host: Optional[SubHost]) -> Tuple[str, int]:
        """The prefix of `host` as shown, and its width (prefixes.py)."""
        return self.prefixes.prefix(host)

    def write_out(self, text: str) -> None:
        """Text of pegasus's own for stdout, among the jobs' lines (--joblog -)."""
        self._emit(self._out, text)

    def _emit(self, buffer: List[str], text: str) -> None:
        buffer.append(text)
        if self.loop is None:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush)

    # --- writing ---------------------------------------------------------------

    def flush(self) -> None:
        """Write what is buffered (on a terminal, under it the status line)."""
        self._flush_scheduled = False
        out, err = "".join(self._out), "".join(self._err)
        self._out.clear()
        self._err.clear()
        if self.screen.live and not self.screen.line and not self.status.stopped:
            self.screen.line = words.status_line(self.tally.snapshot(), self._status_width)
        self._write(self.screen.write, out, err)

    def _write(self, write: Callable[..., None], *args: Any) -> None:
        """Call one of the screen's writes; a stream lost there stops the run."""
        try:
            write(*args)
        except OutputLost as exc:
            self._lost(exc)

    def _reader_gone(self, stream: TextIO) -> None:
        """Whoever read `stream` (a pipe) left, before anything more was
        written to it: as if a write had found out."""
        lost = OutputLost(self.screen.name(stream), OSError(errno.EPIPE,
                                                            os.strerror(errno.EPIPE)))
        self.screen.lost.setdefault(lost.stream, lost)
        self._lost(lost)

    def _lost(self, lost: OutputLost) -> None:
        if self.lost is None:
            self.lost = lost
            if self._told is not None:
                self._told.output_lost(lost)

    def _show_status(self, force: bool = False) -> None:
        """The status line's timer: compose it again; show it if it changed
        (or, `force`, if the terminal changed under it)."""
        if self.status.stopped:
            return
        line = words.status_line(self.tally.snapshot(),
                                 self._status_width if self.screen.live else None)
        if not self.screen.live:
            if line != self._plain or self.tally.running:  # --progress: a plain line
                self._plain = line
                self._emit(self._err, line + "\n")
        elif self._out or self._err:
            self.screen.line = line
            self.flush()
        else:
            self._write(self.screen.draw, line, force)

    def _erase_status(self) -> None:
        self.status.stop()
        self.screen.line = ""
        self.flush()
        self._write(self.screen.erase)

    def close(self) -> None:
        """The run is over: write what is left, take the status line away."""
        self._erase_status()

    def finish(self) -> None:
        """The run's last line, once, on stderr: counts and wall time."""
        self._erase_status()
        snapshot = self._final or self.tally.snapshot()
        self._write(self.screen.put, self.stderr,
                    "pegasus: %s\n" % words.final(snapshot, self.tally.cancelling))

    # --- events --------------------------------------------------------------

    def on_run_started(self, run: RunInfo) -> None:
        self.tally.on_run_started(run)
        self.status.changed()

    def on_queue_left(self, count: Optional[int]) -> None:
        self.tally.on_queue_left(count)
        if count:
            self._waiting = None
        self.status.changed()

    def on_status_requested(self) -> None:
        lines = words.status_block(self.tally.snapshot())
        self._emit(self._err, "pegasus: " + "\n".join(lines) + "\n")

    def on_run_finished(self) -> None:
        self._final = self.tally.snapshot()
        self._erase_status()

    def on_host_ready(self, host: SubHost, was_down: bool) -> None:
        self.tally.on_host_ready(host, was_down)
        if was_down:
            self._emit(self._err, self.prefixes.line(host, "connected again: taking jobs"))

    def on_host_failed(self, host: SubHost, reason: str) -> None:
        self.tally.on_host_failed(host, reason)
        self._emit(self._err, self.prefixes.line(host, "cannot connect: %s (skipped)" % reason,
                                                 RED))

    def on_host_lost(self, host: SubHost, reason: str) -> None:
        self.tally.on_host_lost(host, reason)
        self._emit(self._err, self.prefixes.line(host, "connection lost: %s" % reason, RED))

    def on_job_started(self, launch: Launch) -> None:
        self.tally.on_job_started(launch)
        self._waiting = None
        self.status.changed()
        self.show_started(launch)

    def on_job_line(self, launch: Launch, stream: str, text: str) -> None:
        self.show_line(launch, stream, text)

    def on_job_finished(self, outcome: Outcome) -> None:
        self.tally.on_job_finished(outcome)
        self.status.changed()
        self.show_finished(outcome)
        if self._waiting is not None and not self.tally.running:
            self._say(self._waiting)
            self._waiting = None

    def on_notice(self, notice: Notice) -> None:
        self.tally.on_notice(notice)
        self.status.changed()
        if isinstance(notice, QueueEmpty) and self.tally.running:
            # The queue is empty but jobs still run: pegasus waits only once
            # they are done, and says so then, above the status line.
            self._waiting = notice
            return
        self._say(notice)

    def _say(self, notice: Notice) -> None:
        text = words.notice(notice)
        if notice.warning and self.color:
            text = RED + text + RESET
        self._emit(self._err, "pegasus: %s\n" % text)

    # --- what a run shows (the Gatherer shows it otherwise) --------------------

    def show_started(self, launch: Launch) -> None:
        if launch.host is not None and self.style == "brackets":
            self._emit(self._out, self.prefixes.line(launch.host, words.run_started(launch), DIM))

    def show_line(self, launch: Launch, stream: str, text: str) -> None:
        period = self.print_period
        if period != 1:
            key = (launch.seq, stream)
            seen = self._lines[key] = self._lines.get(key, 0) + 1
            if period == 0 or seen % period:
                return
        to_stdout = stream == "out" or self.job_stderr == "stdout"
        self._emit(self._out if to_stdout else self._err, self.prefixes.job_line(launch.host, text))

    def show_finished(self, outcome: Outcome) -> None:
        self._lines.pop((outcome.seq, "out"), None)
        self._lines.pop((outcome.seq, "err"), None)
        style = DIM if outcome.ok else BOLD + RED
        if self.style == "brackets":
            self._emit(self._out, self.prefixes.line(outcome.host, words.run_ended(outcome), style))
        elif not outcome.ok:
            # stdout is the jobs' alone: a run that did not succeed says so on stderr.
            self._emit(self._err, self.prefixes.line(outcome.host, words.run_ended(outcome), style))


