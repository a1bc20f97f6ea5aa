"""Black holes: a sub-host whose last few jobs all failed soon after they
started (a full disk, a missing environment, a broken GPU) would otherwise
be free again at once and eat the queue while the healthy sub-hosts are
busy. Such a sub-host is paused, and given one job again after a pause
that doubles each time, up to MAX_PAUSE; a job there that does not fail
fast ends its probation. Pure logic: the queue policy asks, the engine
keeps the time.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

FIRST_PAUSE = 15.0
MAX_PAUSE = 600.0


class HostHealth:
    """The fast failures in a row of each sub-host, and which are paused.
    `rule` is (K, S): K failures in a row, each within S seconds."""

    def __init__(self, rule: Optional[Tuple[int, float]]):
        self.rule = rule
        self.streak: Dict[int, int] = {}
        self.pauses: Dict[int, int] = {}      # times paused without recovering
        self.paused: set = set()
        self.probation: set = set()            # resumed: one job at a time, to see

    def ended(self, index: int, failed: bool, duration: float) -> Optional[float]:
        """A job on sub-host `index` ended; the pause to start now, if any."""
        if self.rule is None:
            return None
        count, within = self.rule
        if not failed or duration > within:
            self.streak[index] = 0
            self.pauses.pop(index, None)
            self.probation.discard(index)
            return None
        self.streak[index] = self.streak.get(index, 0) + 1
        if self.streak[index] < count and index not in self.probation:
            return None
        self.probation.discard(index)
        times = self.pauses.get(index, 0)
        self.pauses[index] = times + 1
        self.paused.add(index)
        return min(MAX_PAUSE, FIRST_PAUSE * 2 ** times)

    def resume(self, index: int) -> None:
        """The pause is over: one job, on probation."""
        self.paused.discard(index)
        self.probation.add(index)
        self.streak[index] = 0

    def room(self, index: int, free: int, running: int) -> int:
        if index in self.paused:
            return 0
        if index in self.probation:
            return min(free, 1 - running)
        return free
