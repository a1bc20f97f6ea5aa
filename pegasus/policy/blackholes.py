"""Black holes: a sub-host whose last few jobs all failed soon after they
started (a full disk, a missing environment, a broken GPU) would otherwise
be free again at once and eat the queue while the healthy sub-hosts are
busy. Such a sub-host is paused, and given one job again after a pause
that doubles each time, up to MAX_PAUSE; a job there that does not fail
fast ends its probation.

A pause only protects the queue for the healthy sub-hosts: when none is
left (a single host, every host failing, the healthy ones lost), there is
nothing to protect, and a pause would only hold the queue back or end the
run with jobs it could have run. Then no sub-host is paused, and those
that were take jobs again at once: the jobs run, and fail fast, recorded.
The caller says whether another healthy sub-host is there (`ended`) and
asks when none is (`lift`). Pure logic: the queue policy asks, the engine
keeps the time.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

FIRST_PAUSE = 15.0
MAX_PAUSE = 600.0


class HostHealth:
    """The fast failures in a row of each sub-host, and which are paused.
    `rule` is (K, S): K failures in a row, each within S seconds."""

    def __init__(self, rule: Optional[Tuple[int, float]]):
        self.rule = rule
        self.streak: Dict[int, int] = {}
        self.pauses: Dict[int, int] = {}      # times paused without recovering
        self.paused: Set[int] = set()
        self.probation: Set[int] = set()       # resumed: one job at a time, to see

    def healthy(self, index: int) -> bool:
        """Whether the sub-host runs its jobs without the rule's streak of
        fast failures (and is neither paused nor on probation)."""
        if self.rule is None:
            return True
        return (index not in self.paused and index not in self.probation
                and self.streak.get(index, 0) < self.rule[0])

    def ended(self, index: int, failed: bool, duration: float,
              others_healthy: bool = True) -> Optional[float]:
        """A job on sub-host `index` ended; the pause to start now, if any.
        Without a healthy sub-host beside it (`others_healthy`), it is not
        paused, whatever its streak."""
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
        if not others_healthy:
            return None
        times = self.pauses.get(index, 0)
        self.pauses[index] = times + 1
        self.paused.add(index)
        return min(MAX_PAUSE, FIRST_PAUSE * 2 ** times)

    def resume(self, index: int) -> None:
        """The pause is over: one job, on probation."""
        if index in self.paused:
            self.paused.discard(index)
            self.probation.add(index)
            self.streak[index] = 0

    def lift(self) -> List[int]:
        """No healthy sub-host is left to protect: every pause and probation
        ends now. The sub-hosts that were paused, in order."""
        lifted = sorted(self.paused)
        self.paused.clear()
        self.probation.clear()
        return lifted

    def room(self, index: int, free: int, running: int) -> int:
        if index in self.paused:
            return 0
        if index in self.probation:
            return min(free, 1 - running)
        return free
