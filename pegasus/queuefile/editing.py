"""The copy of queue.yaml that `pegasus l` gives the editor.

An editor rewrites the file it edits, in place or by renaming a new one over
it, and appenders go on writing to queue.yaml meanwhile (they do not take
the lock). Were the editor given queue.yaml itself, what they append while it
runs would be overwritten by its next save, or thrown away with an edit
that is restored. So the editor gets a copy (in the state directory, under
the queue's own name) of what has settled (settle.py: an entry just
written is awaited for the settle time; one whose writer keeps its last
line open stays out), and queue.yaml gets only appends while it runs. When the editor is done:

- an edit that is kept (valid, or kept though invalid) becomes queue.yaml,
  followed by whatever was appended to queue.yaml since the copy was made;
- an edit that is thrown away (restored, or unchanged) leaves queue.yaml as
  it is: the version from before, with what was appended.

If queue.yaml was rewritten rather than appended to meanwhile (an editor
that does not take the lock), the edit is kept and the other version is
saved apart under conflicts/, never merged.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Optional

from .appends import read_bytes
from .inbox import EMPTY, Basis

if TYPE_CHECKING:
    from .queue import QueueFile


class EditCopy:
    """The editor's copy of one queue, made under the queue lock, which the
    caller holds until `commit` or `close`. It lives in the state
    directory's edit/ (statedir.py judges it as the rest), reached by its
    descriptor; the editor is given its path."""

    def __init__(self, queue: QueueFile):
        self.queue = queue
        queue.wait_settled()
        self.before: Optional[bytes] = queue.settled_bytes()
        queue.state.ensure()
        directory = queue.state.edits(create=True)
        assert directory is not None   # made if missing
        self.directory = directory
        self.name = os.path.basename(queue.target)
        self.path = self.directory.file(self.name)
        self.directory.unlink(self.name)  # one left by an editing session that was killed
        if self.before is not None:
            fd = self.directory.open(self.name, os.O_WRONLY, exclusive=True)
            try:
                os.write(fd, self.before)
            finally:
                os.close(fd)

    def read(self) -> Optional[bytes]:
        """The edited text; None if the editor left no file."""
        return self.directory.read(self.name)

    def commit(self) -> Optional[str]:
        """The edit becomes queue.yaml, followed by what was appended to
        queue.yaml since the copy was made. Returns where a version of
        queue.yaml rewritten meanwhile was saved, if one was."""
        edited = self.read() or b""
        queue = self.queue
        queue.gather()  # what appenders wrote to files kept for them
        live, info = read_bytes(queue.target, queue.path)
        before = self.before or b""
        saved = None
        if live.startswith(before):
            arrived = live[len(before):]
        else:  # rewritten meanwhile, not appended to: saved apart
            saved = queue.appends.save_apart(live)
            arrived = b""
        if arrived and edited and not edited.endswith(b"\n"):
            edited += b"\n"
        queue.replace_bytes(edited + arrived,
                            Basis.of(live, info.st_mtime_ns) if info else EMPTY)
        return saved

    def close(self) -> None:
        for name in self.directory.names():   # the copy, and what the editor left
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=self.directory.fd)
