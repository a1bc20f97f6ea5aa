"""Everything written beside a queue, and only this folder writes it:
queue.yaml taken from, put back to and appended to under its lock
(queue.py, lock.py; read and checked once: reading.py; a take's own
writes: take.py; the text surgery: text.py), replaced atomically losing
nothing (replace.py), replaced files kept for their appenders
(inbox.py, appends.py), the last entry awaited while it is written
(settle.py), the copy `pegasus l` edits (editing.py), each runner's
journal for crash recovery (journal.py, recovery.py), the outcome record
(outcomerecord.py), the state directory (statedir.py), and the queue as a
runner's source (live.py).

May import: engine, policy, transports, events, spec, templates, fsutil, settings, errors.
"""

from .live import LiveQueue
from .queue import LOCK_SUFFIX, QueueFile
from .take import QueueChanged

__all__ = ["LOCK_SUFFIX", "LiveQueue", "QueueChanged", "QueueFile"]
