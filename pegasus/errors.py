"""Typed errors. Each layer raises its own; main.py alone turns them into a
message and an exit status."""

from __future__ import annotations

import errno
from typing import Iterable, Optional, Union

# The exit statuses of every mode.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
# The reader of pegasus's output left (`pegasus q | head`): the status of a
# writer that SIGPIPE ended, 128 + 13, which `set -o pipefail` scripts know.
EXIT_READER_LEFT = 141


class PegasusError(Exception):
    """Base class of every error pegasus reports to the user."""

    exit_status = 1


class UsageError(PegasusError):
    """The command line asks for something impossible."""

    exit_status = 2


class Problem:
    """One thing wrong in a file: where it is, what it is, what to do."""

    __slots__ = ("path", "line", "message", "hint")

    def __init__(self, path: str, line: Optional[int], message: str,
                 hint: Optional[str] = None):
        self.path = path
        self.line = line
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        where = self.path if self.line is None else "%s:%d" % (self.path, self.line)
        text = "%s: %s" % (where, self.message)
        if self.hint:
            text += "\n  hint: " + self.hint
        return text

    def __repr__(self) -> str:
        return "Problem(%r, %r, %r)" % (self.path, self.line, self.message)


class SpecError(PegasusError):
    """hosts.yaml or queue.yaml is malformed; carries every problem found."""

    exit_status = 2

    def __init__(self, problems: Union[Problem, Iterable[Problem]]):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, path: str, line: Optional[int], message: str,
           hint: Optional[str] = None) -> SpecError:
        return cls(Problem(path, line, message, hint))

    @property
    def first(self) -> Problem:
        return self.problems[0]


class TemplateError(SpecError):
    """A command or hostname template does not compile or does not render."""


class LockError(PegasusError):
    """An fcntl lock cannot be taken at all (not: is held by someone else),
    e.g. on an NFS mount without a working lock service."""

    exit_status = 2

    def __init__(self, path: str, reason: str):
        super().__init__(
            "cannot lock %s: %s\n  hint: pegasus needs fcntl locks on the queue's "
            "directory; on NFS they need the lock service (rpc.statd/lockd for "
            "NFSv3, built into NFSv4) and a mount without 'nolock'" % (path, reason))


class OutputLost(PegasusError):
    """pegasus's own stdout or stderr can no longer be written: its reader
    left (`pegasus q | head`: a broken pipe), or the file behind it is full,
    gone, or was closed. `stream` is "stdout" or "stderr"."""

    def __init__(self, stream: str, error: OSError):
        self.stream = stream
        self.errno = error.errno
        self.strerror = error.strerror or str(error)
        super().__init__(
            "%s: %s" % (stream, "its reader left (broken pipe)" if self.reader_left
                        else "cannot write: %s" % self.strerror))

    @property
    def reader_left(self) -> bool:
        """A pipe whose reader closed it: what `head` does, not a fault."""
        return self.errno == errno.EPIPE
