"""`pegasus l`: edit the live queue under its lock, or append to it from a
script. No runner takes a job while the lock is held; running jobs go on."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from argparse import Namespace
from typing import List, Optional, TextIO

from ..errors import Problem, SpecError, UsageError
from ..queuefile import QueueFile
from ..queuefile.editing import EditCopy
from ..spec import canonical, yamlfile
from ..spec.validate import QueueValidator
from ..templates.template import Templates
from ..ui.terminal import write_all

EXIT_EDITOR_FAILED = 1   # the editor failed: queue.yaml is as it was before
EXIT_INVALID = 2


def _say(text: str) -> None:
    write_all(sys.stderr, "pegasus: %s\n" % text)


def editor_argv(args: Namespace) -> List[str]:
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


def acquire(queue: QueueFile) -> None:
    """Take the queue lock, saying so if someone else holds it."""
    if queue.try_lock():
        return
    _say("waiting for the lock on %s (a runner is taking jobs, or someone is editing)"
         % queue.path)
    queue.lock()


def run(args: Namespace) -> int:
    # `pegasus l` knows no hosts: templates are checked for syntax only.
    validator = QueueValidator(Templates())
    queue = QueueFile(args.queue_file, validator=validator)
    if args.requeue is not None:
        return requeue(args, queue)
    if args.append is not None:
        return append(args, queue)
    argv = editor_argv(args)
    acquire(queue)
    try:
        return _edit(args, queue, argv)
    finally:
        queue.unlock()


def run_editor(argv: List[str], path: str) -> int:
    """Run the editor on `path`; its exit status (negative: the signal that
    ended it). While it runs, pegasus ignores SIGINT and SIGQUIT, as git does:
    a Ctrl-C typed in an editor that leaves the terminal's signals on (ed, a
    script) is the editor's to handle, not a reason to kill it mid-edit."""
    try:
        editor = subprocess.Popen(argv + [path])
    except OSError as exc:
        raise UsageError("cannot start the editor %r: %s (set --editor, $VISUAL or $EDITOR)"
                         % (argv[0], exc.strerror)) from None
    saved = {signum: signal.signal(signum, signal.SIG_IGN)
             for signum in (signal.SIGINT, signal.SIGQUIT)}
    try:
        return editor.wait()
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def _editor_failed(queue: QueueFile, status: int) -> int:
    """As crontab -e and visudo install nothing when the editor fails (vim's
    `:cq` is how one says so on purpose), the edited copy is dropped:
    queue.yaml is as it was, with what was appended meanwhile."""
    how = ("exited with status %d" % status if status > 0
           else "was killed by %s" % signal.Signals(-status).name)
    _say("the editor %s: %s is unchanged, the edit is dropped" % (how, queue.path))
    return EXIT_EDITOR_FAILED


def _edit(args: Namespace, queue: QueueFile, argv: List[str]) -> int:
    # The editor edits a copy: what scripts append to queue.yaml meanwhile
    # is kept whatever becomes of the edit (queuefile/editing.py).
    copy = queue.edit_copy()
    try:
        return _edit_copy(args, queue, argv, copy)
    finally:
        copy.close()


def _edit_copy(args: Namespace, queue: QueueFile, argv: List[str], copy: EditCopy) -> int:
    while True:
        status = run_editor(argv, copy.path)
        if status != 0:
            return _editor_failed(queue, status)
        after = copy.read()
        if after is None or after == copy.before:
            return 0
        try:
            queue.validator(yamlfile.decode(after, queue.path), queue.path)
        except SpecError as exc:
            for problem in exc.problems:
                _say(str(problem))
        else:
            _commit(queue, copy)
            return 0
        choice = _choose(args)
        if choice == "edit":
            continue
        if choice == "restore":
            _say("restored %s as it was before the edit" % queue.path)
            return EXIT_INVALID
        _commit(queue, copy)
        _say("kept %s as it is: runners take nothing from it until it is fixed" % queue.path)
        return EXIT_INVALID


def _commit(queue: QueueFile, copy: EditCopy) -> None:
    saved = copy.commit()
    if saved is not None:
        _say("%s was rewritten by another program while you edited it; that version is "
             "saved as %s" % (queue.path, saved))


def _choose(args: Namespace) -> str:
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

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _entries_from_stdin(text: str) -> List[yamlfile.Entry]:
    """stdin holds a YAML list of entries, or one command per line."""
    control = _CONTROL.search(text)
    if control is not None:
        line = text.count("\n", 0, control.start()) + 1
        raise SpecError.at("<stdin>", line, "holds a control character (0x%02x)" % ord(
            control.group()), "commands are text: check what is piped into --append -")
    try:
        node = yamlfile.compose(text, "<stdin>")
    except SpecError:
        node = None
    if node is not None and node.tag == "tag:yaml.org,2002:seq":
        return yamlfile.entries(node, "<stdin>", "command")
    return [yamlfile.Entry("<stdin>", number, {"command": yamlfile.Value([line], False, number)},
                           True) for number, line in enumerate(text.splitlines(), 1)
            if line.strip()]


def new_entries(args: Namespace, validator: QueueValidator,
                stdin: Optional[TextIO] = None) -> List[yamlfile.Entry]:
    """The entries --append asks for, checked."""
    entries = []
    for number, item in enumerate(args.append, 1):
        if item == "-":
            text = (stdin or sys.stdin).read()
            entries.extend(_entries_from_stdin(text))
        else:
            where = getattr(args, "append_where", None) or "--append #%d" % number
            if not item.strip():
                raise SpecError.at(where, None, "the command is empty")
            entries.append(yamlfile.Entry(where, None,
                                          {"command": yamlfile.Value([item], False, None)}, True))
    validator.check_entries(entries)
    return entries


def entries_text(entries: List[yamlfile.Entry]) -> str:
    """YAML list items for `entries`: a plain command stays a one-line item."""
    parts = []
    for entry in entries:
        if entry.bare:
            parts.append("- %s\n" % canonical.scalar(entry.values["command"].items[0], 0))
        else:
            parts.append(canonical.dump_values(entry))
    return "".join(parts)


def append(args: Namespace, queue: QueueFile, stdin: Optional[TextIO] = None) -> int:
    validator = queue.validator
    assert isinstance(validator, QueueValidator)   # as run() made the queue
    entries = new_entries(args, validator, stdin)
    if not entries:
        _say("nothing to add")
        return 0
    acquire(queue)
    try:
        try:
            queue.insert_locked(entries_text(entries), top=args.prepend)
        except SpecError as exc:
            if exc.problems and exc.problems[-1].path == queue.path:
                raise SpecError(exc.problems + [Problem(
                    queue.path, None, "is invalid, so nothing was added",
                    "fix it first, e.g. with `pegasus l`")]) from None
            raise
    finally:
        queue.unlock()
    _say("%s %d entr%s %s %s" % ("put" if args.prepend else "added", len(entries),
                                 "y" if len(entries) == 1 else "ies",
                                 "at the top of" if args.prepend else "to", queue.path))
    return 0


def requeue(args: Namespace, queue: QueueFile) -> int:
    """--requeue KIND: jobs back from the outcome record (requeue.py)."""
    from ..spec.jobs import canonical_command
    from ..ui.words import first_line, plural
    from .requeue import choose
    acquire(queue)
    try:
        jobs = choose(queue, args.requeue, args.since)
        if args.dry_run:
            write_all(sys.stdout, "".join(jobs))
            _say("would put back %s" % plural(len(jobs), "job"))
            return 0
        if jobs:
            queue.insert_locked("".join(jobs), top=not args.bottom)
    finally:
        queue.unlock()
    for job in jobs:
        _say("put back: %s" % first_line(canonical_command(job)))
    _say("put back %s %s %s" % (plural(len(jobs), "job"),
                                "at the end of" if args.bottom else "at the top of", queue.path))
    return 0


def add(args: Namespace) -> int:
    """`pegasus add WORDS...`: `pegasus l --append 'WORDS...'`."""
    args.append, args.requeue, args.editor = [args.command], None, None
    args.append_where = "pegasus add"   # what its errors call the command
    return run(args)
