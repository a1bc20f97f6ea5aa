"""The terminal: whether to color and with which palette, how wide text is,
wrapping it without cutting an escape sequence, whether a status line may be
drawn in place, and writing it all even to a full pipe."""

from __future__ import annotations

import itertools
import os
import re
import select
import stat
import sys
import unicodedata
from typing import Dict, List, Mapping, Optional, Sequence, TextIO, Tuple

from ..errors import OutputLost

DIM, RED, BOLD, RESET = "\x1b[2m", "\x1b[31m", "\x1b[1m", "\x1b[0m"
# The status line is drawn with the cursor left at its start; a write erases
# that row first (ERASE: from its start, also if a key the user typed was
# echoed there), and a status line drawn is followed by an erase to
# the end of the screen (BELOW): a terminal that reflows lines when it gets
# narrower (tmux, most of today's) splits the old line in rows but keeps the
# cursor at its start, so the redraw after SIGWINCH takes all of them. Never
# an erase to the end of the screen from the cursor's start of row: at the
# top left that clears the whole screen, which tmux first scrolls into its
# history.
ERASE, BELOW = "\r\x1b[K", "\x1b[J"

# Sub-host prefix colors. Red is kept for FAILED, so no palette has it.
# The 16-color one: every terminal has it; cycling it, two neighbours (hosts
# next to each other in hosts.yaml) never share a color.
BASIC_COLORS = ("36", "33", "35", "32", "34", "96", "93", "95", "92", "94")
# The 256-color one: hues of the xterm color cube a golden angle (~137
# degrees) apart, so neighbours -- also across the wrap-around -- differ by
# at least 45 degrees of hue; none within 25 degrees of red; each legible on
# a dark and on a light background (contrast >= 3.5 to black, >= 2 to white).
COLORS_256 = tuple("38;5;%d" % n for n in (
    74, 28, 99, 180, 36, 200, 64, 68, 34, 135, 178, 38,
    162, 70, 62, 35, 165, 106, 33, 29, 98, 172, 30, 163))
_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")


def use_color(choice: str, stream: TextIO) -> bool:
    """--color auto|always|never; auto means a terminal and no NO_COLOR."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def palette(environ: Optional[Mapping[str, str]] = None) -> Sequence[str]:
    """The prefix palette the terminal can show: 256 colors when TERM or
    COLORTERM says so, else the 16 basic ones."""
    env = os.environ if environ is None else environ
    if "256color" in env.get("TERM", "") or env.get("COLORTERM") in ("truecolor", "24bit"):
        return COLORS_256
    return BASIC_COLORS


def host_color(index: int, colors: Sequence[str]) -> str:
    """The escape that colors sub-host `index` (its place in hosts.yaml)."""
    return "\x1b[%sm" % colors[index % len(colors)]


def columns(stream: TextIO, fallback: int = 80) -> int:
    """How wide the terminal behind `stream` is (COLUMNS wins, as for
    shutil.get_terminal_size)."""
    try:
        return max(1, int(os.environ["COLUMNS"]))
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(stream.fileno()).columns or fallback
    except (AttributeError, OSError, ValueError):
        return fallback


def _stat(stream: TextIO) -> Optional[os.stat_result]:
    try:
        return os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


def status_terminal(stdout: TextIO, stderr: TextIO) -> bool:
    """Whether a status line may be drawn in place on `stderr`: it is a
    terminal that moves the cursor, and nothing else draws on it -- stdout
    is that same terminal, or a file. When stdout is a pipe, whatever reads
    it (tee, less, grep) may write to the terminal too, and a line redrawn
    under it would garble both."""
    if os.environ.get("TERM") == "dumb" or not _isatty(stderr):
        return False
    err, out = _stat(stderr), _stat(stdout)
    if err is None or out is None:
        return False
    if _isatty(stdout):
        return os.path.samestat(out, err)
    return stat.S_ISREG(out.st_mode) or stat.S_ISCHR(out.st_mode)  # a file, /dev/null


def same_terminal(stdout: TextIO, stderr: TextIO) -> bool:
    """Both streams are one terminal: what goes to one may go to the other."""
    out, err = _stat(stdout), _stat(stderr)
    return (out is not None and err is not None and _isatty(stdout) and _isatty(stderr)
            and os.path.samestat(out, err))


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


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


def cut(text: str, width: int) -> str:
    """The first `width` columns of `text`."""
    return wrap(text, width)[0] if width > 0 else ""


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


def stream_name(stream: TextIO) -> str:
    """"stdout", "stderr", or the name of another stream."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1   # no descriptor: named by its name
    return {1: "stdout", 2: "stderr"}.get(fd, str(getattr(stream, "name", "output")))


def write_all(stream: TextIO, text: str, name: Optional[str] = None) -> None:
    """Write all of `text` to `stream`, or raise OutputLost (naming the
    stream `name`, else as stream_name() does).

    Straight to the file descriptor when there is one: a blocking write to a
    full pipe that a signal (SIGCHLD, every time a job ends) interrupts
    returns short, and Python's buffered text layer was seen to drop the
    rest. Here a short write is simply continued, and a descriptor someone
    made non-blocking is waited on. A write that fails (the reader of the
    pipe left, a full disk) raises OutputLost naming the stream.
    """
    fd: Optional[int]
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    try:
        stream.flush()
        if fd is None:
            stream.write(text)
            stream.flush()
            return
        data = text.encode("utf-8", "replace")
        view = memoryview(data)
        while view:
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                select.select([], [fd], [])
                continue
            view = view[written:]
    except OSError as exc:
        raise OutputLost(name or stream_name(stream), exc) from None


def say(message: str) -> None:
    """`pegasus: MESSAGE` on stderr; nothing if stderr is gone (nowhere left
    to say it: the exit status tells)."""
    try:
        write_all(sys.stderr, "pegasus: %s\n" % message)
    except OutputLost:
        pass


class Screen:
    """Where printed text goes: stdout and stderr, and when `live`, a status
    line on stderr under the last line written. Each write erases the
    status line, writes the lines, and draws it again: one write, so it is
    never torn into a line, nor seen to flicker."""

    def __init__(self, stdout: TextIO, stderr: TextIO, live: bool, style: str = ""):
        self.stdout = stdout
        self.stderr = stderr
        self.live = live
        self.shared = same_terminal(stdout, stderr)
        self.style = style
        self.line = ""    # the status line to draw under what is written
        self.shown = ""   # the status line on the terminal now, "" if none
        self.lost: Dict[str, OutputLost] = {}   # streams that cannot be written, by name

    def write(self, out: str, err: str) -> None:
        if not self.live:
            self._put_each((out, self.stdout), (err, self.stderr))
            return
        pairs: List[Tuple[str, TextIO]] = []
        if out and not self.shared:
            pairs.append((out, self.stdout))  # a file: the terminal is stderr alone
            out = ""
        if out or err:
            pairs.append((ERASE + out + err + self._drawn(), self.stderr))
        self._put_each(*pairs)

    def draw(self, line: str, force: bool = False) -> None:
        """Show `line` as the status line (again, with `force`: the terminal
        changed under it)."""
        if line != self.shown or force:
            self.line = line
            self.put(self.stderr, self._drawn())

    def erase(self) -> None:
        """No status line from now on."""
        self.line = ""
        if self.shown:
            self.shown = ""
            self.put(self.stderr, ERASE)

    def put(self, stream: TextIO, text: str) -> None:
        """Write `text` to `stream`, unless that stream is lost: the first
        write that fails raises OutputLost, and what is written to that
        stream later is dropped (the other stream goes on)."""
        name = self.name(stream)
        if not text or name in self.lost:
            return
        try:
            write_all(stream, text, name)
        except OutputLost as exc:
            self.lost[name] = exc
            raise

    def name(self, stream: TextIO) -> str:
        """"stdout" or "stderr": what `stream` is to pegasus."""
        if stream is self.stdout:
            return "stdout"
        return "stderr" if stream is self.stderr else stream_name(stream)

    def _put_each(self, *pairs: Tuple[str, TextIO]) -> None:
        first: Optional[OutputLost] = None
        for text, stream in pairs:
            try:
                self.put(stream, text)
            except OutputLost as exc:
                first = first or exc
        if first is not None:
            raise first

    def _drawn(self) -> str:
        self.shown = self.line
        if not self.line:
            return ""
        if self.style:
            return self.style + self.line + RESET + BELOW + "\r"
        return self.line + BELOW + "\r"
