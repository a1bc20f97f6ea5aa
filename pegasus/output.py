"""What a person sees: the --dry-run listing, and the live output of jobs
with their `[host (k=v)]` prefixes, colors and wrapping."""

import itertools
import os
import re
import select
import shutil
import signal
import sys
import unicodedata


def _params_text(params):
    return " ".join("%s=%s" % kv for kv in params.items())


def dry_run_lines(mode, jobs, subhosts, templates):
    """The lines `--dry-run` prints: each job, its parameters, and the
    command each sub-host would run."""
    for number, job in enumerate(jobs, 1):
        head = "job %d (%s:%d)" % (number, job.path, job.line)
        if job.params:
            head += "  " + _params_text(job.params)
        yield head
        fits = False
        for host in subhosts:
            if job.slots > host.slots:
                yield "  [%s] -- not here: the job needs %d slots, this sub-host has %d" % (
                    host.label, job.slots, host.slots)
                continue
            fits = True
            slots = ",".join(str(i) for i in range(job.slots))
            command = templates.render(job.command, job.variables(host, slots=slots),
                                       job.where, owner="sub-host %s" % host.label)
            lines = command.rstrip("\n").split("\n")
            yield "  [%s] %s" % (host.label, lines[0])
            for more in lines[1:]:
                yield "  %s %s" % (" " * (len(host.label) + 2), more)
        if not fits:
            yield "  -- no sub-host has %d slots: this job will be reported as failed" % job.slots
    hosts = len(subhosts)
    if mode == "broadcast":
        yield "%d job%s, each on all %d sub-host%s: %d runs in lockstep (nothing consumed)" % (
            len(jobs), "" if len(jobs) == 1 else "s", hosts, "" if hosts == 1 else "s",
            len(jobs) * hosts)
    else:
        yield "%d job%s over %d sub-host%s, each job run once (nothing consumed)" % (
            len(jobs), "" if len(jobs) == 1 else "s", hosts, "" if hosts == 1 else "s")


# --- live output --------------------------------------------------------------

_COLORS = ("36", "33", "35", "32", "34", "31", "96", "93", "95", "92", "94", "91")
_DIM, _RED, _BOLD, _RESET = "\x1b[2m", "\x1b[31m", "\x1b[1m", "\x1b[0m"
_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")


def use_color(choice, stream):
    """--color auto|always|never; auto means a terminal and no NO_COLOR."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def display_width(text):
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


def wrap(text, width):
    """Cut `text` into pieces of at most `width` columns, never inside an
    escape sequence."""
    if width < 1 or display_width(text) <= width:
        return [text]
    pieces, current, used = [], [], 0
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


def write_all(stream, text):
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


def _first_line(command, limit=200):
    line, _, rest = command.partition("\n")
    if rest or len(line) > limit:
        line = line[:limit] + " ..."
    return line


def _seconds(duration):
    return "%.1f s" % duration if duration < 600 else "%d min %02d s" % divmod(int(duration), 60)


class Printer:
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
        self._out = []
        self._err = []
        self._prefixes = {}
        self._flush_scheduled = False
        self.loop = None

    def attach(self, loop):
        """Flush once per loop iteration; follow terminal resizes."""
        self.loop = loop
        if self._wrap and hasattr(signal, "SIGWINCH"):
            loop.on_signal(signal.SIGWINCH, self._resized)

    def _terminal_width(self):
        if not self._wrap:
            return 0
        return shutil.get_terminal_size((100, 24)).columns

    def _resized(self, _signum):
        self.width = self._terminal_width()

    # --- formatting ----------------------------------------------------------

    def prefix(self, host):
        label = host.label if host is not None else "-"
        cached = self._prefixes.get(label)
        if cached is None:
            plain = "[%s]" % label
            shown = plain
            if self.color:
                index = host.index if host is not None else 0
                shown = "\x1b[%sm%s%s" % (_COLORS[index % len(_COLORS)], plain, _RESET)
            cached = self._prefixes[label] = (shown, len(plain))
        return cached

    def _format(self, host, text, style=None):
        shown, width = self.prefix(host)
        if self.color and style:
            text = style + text + _RESET
        if not self._wrap:
            return "%s %s\n" % (shown, text)
        if "\t" in text:
            text = text.expandtabs(8)
        room = self.width - width - 1
        pieces = wrap(text, room) if room >= 20 else [text]
        indent = " " * (width + 1)
        return "%s %s\n" % (shown, pieces[0]) + "".join(
            "%s%s\n" % (indent, piece) for piece in pieces[1:])

    def _emit(self, buffer, text):
        buffer.append(text)
        if self.loop is None:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self):
        self._flush_scheduled = False
        for buffer, stream in ((self._out, self.stdout), (self._err, self.stderr)):
            if buffer:
                text = "".join(buffer)
                buffer.clear()
                write_all(stream, text)

    # --- events --------------------------------------------------------------

    def host_ready(self, host, was_down=False):
        if was_down:
            self._emit(self._err, self._format(host, "connected again: taking jobs"))

    def host_failed(self, host, reason):
        self._emit(self._err, self._format(host, "cannot connect: %s (skipped)" % reason, _RED))

    def host_lost(self, host, reason):
        self._emit(self._err, self._format(host, "connection lost: %s" % reason, _RED))

    def job_started(self, run):
        if run.host is None:
            return
        text = "$ " + _first_line(run.command)
        if run.host.slots > 1 and run.slots is not None:
            text += "   (slots %s)" % run.slots
        self._emit(self._out, self._format(run.host, text, _DIM))

    def job_line(self, run, stream, text):
        period = self.print_period
        if period == 0 or (period > 1 and (run.lines - 1) % period):
            return
        self._emit(self._out if stream == "out" else self._err, self._format(run.host, text))

    def job_finished(self, run):
        if run.retried:
            text = "LOST: %s after %s; the job goes back to the queue for another host" % (
                run.describe(), _seconds(run.duration))
            self._emit(self._out, self._format(run.host, text, _BOLD + _RED))
            return
        if run.ok:
            text = "done: exit 0 after %s" % _seconds(run.duration)
            style = _DIM
        else:
            text = "FAILED: %s after %s" % (run.describe(), _seconds(run.duration))
            if run.host is None:
                text = "FAILED: %s" % run.describe()
            style = _BOLD + _RED
        self._emit(self._out, self._format(run.host, text, style))

    def notice(self, text):
        self._emit(self._err, "pegasus: %s\n" % text)

    def warning(self, text):
        self._emit(self._err, "pegasus: %s%s%s\n" % (
            _RED if self.color else "", text, _RESET if self.color else ""))


class Gatherer(Printer):
    """--gather: nothing is streamed; when every run of a job has ended
    (one run in queue mode, one per sub-host in broadcast mode), each
    distinct output is printed once, under the folded list of the sub-hosts
    that produced it, grouped by how they ended (as `dshbak -c` and
    `clush -b` do)."""

    def __init__(self, runs_per_job, **options):
        super().__init__(**options)
        self.runs_per_job = runs_per_job
        self._jobs = {}   # id(job) -> [finished runs]
        self._lines = {}  # run -> its output lines
        self._count = 0

    def job_started(self, run):
        self._lines[run] = []

    def job_line(self, run, stream, text):
        self._lines.setdefault(run, []).append(text)

    def job_finished(self, run):
        runs = self._jobs.setdefault(id(run.job), [])
        runs.append(run)
        if run.retried:
            runs.remove(run)
            self._lines.pop(run, None)
            return
        if len(runs) >= self.runs_per_job:
            del self._jobs[id(run.job)]
            self._print_job(runs)

    def _print_job(self, runs):
        from .nodeset import fold_hosts
        self._count += 1
        groups = {}
        for run in sorted(runs, key=lambda r: r.host.index if r.host is not None else -1):
            lines = tuple(self._lines.pop(run, ()))
            how = "exit 0" if run.ok else "FAILED: " + run.describe()
            groups.setdefault((how, lines), []).append(run)
        head = "=== %s" % _first_line(runs[0].job.command)
        if self.runs_per_job > 1:
            head += "   (%d sub-hosts)" % len(runs)
        out = [self._style(head, _BOLD) + "\n"]
        for (how, lines), members in groups.items():
            hosts = fold_hosts([(r.host.hostname, r.host.params) if r.host is not None
                                else ("-", {}) for r in members])
            style = _DIM if how == "exit 0" else _BOLD + _RED
            out.append(self._style("--- %s: %s" % (hosts, how), style) + "\n")
            out.extend(line + "\n" for line in lines)
        self._emit(self._out, "".join(out))

    def _style(self, text, style):
        return style + text + _RESET if self.color else text
