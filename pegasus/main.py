"""Entry point: dispatches to the mode asked for (modes/), and is the one
place where errors become messages and exit statuses."""

from __future__ import annotations

import os
import sys
from typing import Callable, Dict, List, Optional

from .cli.parser import parse_args
from .errors import (
    EXIT_CANCELLED, EXIT_FAILED, EXIT_READER_LEFT, EXIT_USAGE, OutputLost, PegasusError,
    SpecError,
)
from .ui.terminal import say as _say


def main(argv: Optional[List[str]] = None) -> int:
    """Run the `pegasus` command; return its exit status."""
    closed = [name for fd, name in ((1, "stdout"), (2, "stderr")) if not _is_open(fd)]
    if closed:
        return _refuse_closed(closed)
    try:
        return _main(argv)
    finally:
        _settle_streams()


def _main(argv: Optional[List[str]]) -> int:
    try:
        args = parse_args(argv)
        for note in args.notes:
            _say("note: " + note)
        return _modes()[args.mode](args)
    except SpecError as exc:
        for problem in exc.problems:
            _say(str(problem))
        return EXIT_USAGE
    except OutputLost as exc:
        return output_lost_status(exc)
    except PegasusError as exc:
        _say(str(exc))
        return exc.exit_status
    except KeyboardInterrupt:
        return EXIT_CANCELLED
    except BrokenPipeError:
        # A write to stdout that bypassed write_all (argparse's --help):
        # the reader left.
        return EXIT_READER_LEFT
    except OSError as exc:
        # A file pegasus must write cannot be (a full disk, a read-only
        # directory): say which and why; nothing was taken.
        _say("cannot write %s: %s" % (exc.filename or "a file", exc.strerror or exc))
        return EXIT_USAGE


def output_lost_status(lost: OutputLost) -> int:
    """A reader that left is said by the status alone (as `head` expects);
    a stream that cannot be written is said on the other one."""
    if lost.reader_left:
        return EXIT_READER_LEFT
    _say(str(lost))
    return EXIT_FAILED


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _refuse_closed(closed: List[str]) -> int:
    """stdout or stderr closed at the start (`pegasus q >&-`): refused before
    anything is read or taken; said on the other stream if that one is open."""
    message = ("pegasus: %s closed: pegasus writes the jobs' output and what it does there; "
               "to throw that away, redirect to /dev/null (>/dev/null 2>&1) instead of "
               "closing it\n" % " and ".join(closed))
    if len(closed) == 1:
        try:
            os.write(2 if closed == ["stdout"] else 1, message.encode())
        except OSError:
            pass
    return EXIT_USAGE


def _settle_streams() -> None:
    """Whatever Python still buffers for a stream that cannot be written goes
    to /dev/null, so that the interpreter's last flush neither fails (exit
    status 120) nor prints a traceback."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)


def _modes() -> Dict[str, Callable[..., int]]:
    """What runs each mode (asked once a mode is known: `--help` and
    `--version` import nothing more than the command line needs)."""
    from .modes import lock, run, status
    return {"queue": run.run, "broadcast": run.run, "lock": lock.run, "add": lock.add,
            "status": status.run}
