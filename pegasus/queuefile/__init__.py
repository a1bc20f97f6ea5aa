"""Everything pegasus writes beside a queue: queue.yaml itself (queue.py,
made safe by replace.py and inbox.py), consumed.yaml, the state directory
(statedir.py) with each runner's journal (journal.py). Only this package
writes them; the text surgery is ../queuetext.py."""

from .live import LiveQueue
from .queue import LOCK_SUFFIX, QueueChanged, QueueFile

__all__ = ["LOCK_SUFFIX", "LiveQueue", "QueueChanged", "QueueFile"]
