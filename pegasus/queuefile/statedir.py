"""The state directory beside a queue, `.queue.yaml.pegasus/`: private to
its owner (0700). It holds each runner's journal (journal.py), the note of
a replace in flight (replace.py), the queue's replaced files while someone
may still be writing to them (inbox.py), and files pegasus saved rather
than overwrote (conflicts/)."""

from __future__ import annotations

import os

from ..fsutil import private_directory

INBOX = "inbox"
CONFLICTS = "conflicts"
PENDING = "pending"


def state_path(queue_target: str) -> str:
    directory, name = os.path.split(queue_target)
    return os.path.join(directory, "." + name + ".pegasus")


class StateDir:
    """The paths of the state directory of the queue at `queue_target`;
    `ensure()` makes it (and checks that it is ours) before any write."""

    def __init__(self, queue_target: str):
        self.path = state_path(queue_target)
        self.inbox = os.path.join(self.path, INBOX)
        self.conflicts = os.path.join(self.path, CONFLICTS)
        self.pending = os.path.join(self.path, PENDING)
        self._ready = False

    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def ensure(self) -> "StateDir":
        if not self._ready:
            private_directory(self.path)
            private_directory(self.inbox)
            self._ready = True
        return self

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)
