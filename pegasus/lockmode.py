"""`pegasus l`: edit the live queue under its lock, or append to it from a
script. No runner takes a job while the lock is held; running jobs go on."""

import os
import shlex
import subprocess
import sys

from . import yamlfile
from .errors import PegasusError, Problem, SpecError, UsageError
from .queuefile import QueueFile, atomic_write, insert_top, scan_head
from .spec import expand_queue
from .template import Templates

EXIT_INVALID = 2


def _say(text):
    sys.stderr.write("pegasus: %s\n" % text)
    sys.stderr.flush()


def editor_argv(args):
    """The editor command: --editor, $VISUAL, $EDITOR, vi; split as a shell
    would split it (`code --wait`), never run through a shell."""
    command = args.editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError("cannot split the editor command %r: %s" % (command, exc)) from None
    if not argv:
        raise UsageError("the editor command is empty")
    return argv


def check(text, path, templates):
    """Check `text` as a runner would: YAML, entry shapes, special keys and
    template syntax. Raises SpecError."""
    return check_entries(yamlfile.entries(yamlfile.compose(text, path), path, "command"),
                         templates)


def check_entries(entries, templates):
    """Special keys and template syntax of `entries`; raises SpecError with
    every problem found."""
    expand_queue(entries)
    problems = []
    for entry in entries:
        for source in entry.values["command"].items:
            try:
                templates.compile(source, _where(entry))
            except SpecError as exc:
                problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    return entries


def _where(entry):
    from .template import Where
    return Where(entry.path, entry.values["command"].line, "command")


def acquire(queue):
    """Take the queue lock, saying so if someone else holds it."""
    if queue.try_lock():
        return
    _say("waiting for the lock on %s (a runner is taking jobs, or someone is editing)"
         % queue.path)
    queue.lock()


def run(args):
    queue = QueueFile(args.queue_file)
    if args.append is not None:
        return append(args, queue)
    argv = editor_argv(args)
    templates = Templates()
    acquire(queue)
    try:
        return _edit(args, queue, argv, templates)
    finally:
        queue.unlock()


def _read_or_empty(path):
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except FileNotFoundError:
        return None


def _edit(args, queue, argv, templates):
    before = _read_or_empty(queue.target)
    while True:
        try:
            status = subprocess.call(argv + [queue.target])
        except OSError as exc:
            raise PegasusError("cannot start the editor %r: %s (set --editor, $VISUAL "
                               "or $EDITOR)" % (argv[0], exc.strerror)) from None
        if status != 0:
            _say("the editor exited with status %d" % status)
        after = _read_or_empty(queue.target)
        if after is None or after == before:
            return 0
        try:
            check(yamlfile.decode(after, queue.path), queue.path, templates)
            return 0
        except SpecError as exc:
            for problem in exc.problems:
                _say(str(problem))
        choice = _choose(args)
        if choice == "edit":
            continue
        if choice == "restore":
            if before is None:
                os.unlink(queue.target)
            else:
                atomic_write(queue.target, before.decode("utf-8", "surrogateescape"))
            _say("restored %s as it was before the edit" % queue.path)
            return EXIT_INVALID
        _say("kept %s as it is: runners take nothing from it until it is fixed" % queue.path)
        return EXIT_INVALID


def _choose(args):
    """Ask what to do with an invalid edit (on a terminal), or follow
    --on-invalid."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return args.on_invalid
    while True:
        sys.stderr.write("What now? (e)dit again, (r)estore the version from before, "
                         "(k)eep it anyway [e]: ")
        sys.stderr.flush()
        answer = sys.stdin.readline()
        if not answer:
            return args.on_invalid
        answer = answer.strip().lower() or "e"
        for choice in ("edit", "restore", "keep"):
            if choice.startswith(answer):
                return choice


# --- appending ----------------------------------------------------------------

def _entries_from_stdin(text):
    """stdin holds a YAML list of entries, or one command per line."""
    try:
        node = yamlfile.compose(text, "<stdin>")
    except SpecError:
        node = None
    if node is not None and node.tag == "tag:yaml.org,2002:seq":
        return yamlfile.entries(node, "<stdin>", "command")
    lines = [line for line in text.splitlines() if line.strip()]
    return [yamlfile.Entry("<stdin>", number, {"command": yamlfile.Value([line], False, number)},
                           True) for number, line in enumerate(lines, 1)]


def new_entries(args, stdin=None):
    """The entries --append asks for, checked."""
    entries = []
    for number, item in enumerate(args.append, 1):
        if item == "-":
            text = (stdin or sys.stdin).read()
            entries.extend(_entries_from_stdin(text))
        else:
            where = "--append #%d" % number
            if not item.strip():
                raise SpecError.at(where, None, "the command is empty")
            entries.append(yamlfile.Entry(where, None,
                                          {"command": yamlfile.Value([item], False, None)}, True))
    return check_entries(entries, Templates())


def entries_text(entries):
    """YAML list items for `entries`: a plain command stays a one-line item."""
    parts = []
    for entry in entries:
        if entry.bare:
            parts.append("- %s\n" % yamlfile.scalar(entry.values["command"].items[0], 0))
        else:
            parts.append(yamlfile.dump_values(entry))
    return "".join(parts)


def append(args, queue, stdin=None):
    entries = new_entries(args, stdin)
    if not entries:
        _say("nothing to add")
        return 0
    items = entries_text(entries)
    acquire(queue)
    try:
        try:
            text = queue.read()
        except SpecError as exc:
            if exc.first.message != "no such file":
                raise
            text = ""
        try:
            check(text, queue.path, Templates())
        except SpecError as exc:
            raise SpecError(exc.problems + [Problem(
                queue.path, None, "is invalid, so nothing was added",
                "fix it first, e.g. with `pegasus l`")]) from None
        head = scan_head(text, queue.path, 1)
        if args.prepend or head.empty_flow is not None:
            new_text = insert_top(text, head, items)
        else:
            new_text = _append_bottom(text, head, items)
        check(new_text, queue.path, Templates())
        atomic_write(queue.target, new_text)
    finally:
        queue.unlock()
    _say("%s %d entr%s %s %s" % ("put" if args.prepend else "added", len(entries),
                                 "y" if len(entries) == 1 else "ies",
                                 "at the top of" if args.prepend else "to", queue.path))
    return 0


def _append_bottom(text, head, items):
    if head.column:
        items = "".join(" " * head.column + line if line.strip() else line
                        for line in items.splitlines(True))
    if text and not text.endswith("\n"):
        text += "\n"
    return text + items
