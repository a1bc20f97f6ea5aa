"""Where a job may run at all: the one placement planner, pure logic.

A job's slot count and allocation policy decide, for every sub-host, whether
it can ever run there (see slots.py); the answer depends on nothing else, so
it is worked out once per (slots, policy). The mode policies (policy.py) and
`--dry-run` (dryrun.py) both ask here, so a dry run shows exactly the
placement, or the reason, that a run would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Sequence, Tuple

from .slots import Misfit, misfit

if TYPE_CHECKING:
    from ..spec.hosts import SubHost
    from ..spec.jobs import Job


class Plan:
    """A job's possible places: for each sub-host (by index) None if the job
    fits there, else the Misfit saying why it never will."""

    __slots__ = ("count", "misfits")

    def __init__(self, count: int, misfits: Tuple[Optional[Misfit], ...]):
        self.count = count
        self.misfits = misfits

    def fits(self, index: int) -> bool:
        return self.misfits[index] is None

    @property
    def nowhere(self) -> Optional[Misfit]:
        """Why the job fits no sub-host at all (the first sub-host's reason),
        or None if it fits some."""
        if all(m is not None for m in self.misfits):
            return self.misfits[0]
        return None

    @property
    def first_slots(self) -> Tuple[int, ...]:
        """The slots a job gets on an idle sub-host where it fits: 0..k-1
        (aligned, so a buddy job gets them too)."""
        return tuple(range(self.count))


class Planner:
    """Plans for the jobs of one run over its sub-hosts."""

    def __init__(self, subhosts: Sequence[SubHost]):
        self.sizes = [host.slots for host in subhosts]
        self._plans: Dict[Tuple[int, str], Plan] = {}

    def plan(self, job: Job) -> Plan:
        key = (job.slots, job.allocation_policy)
        found = self._plans.get(key)
        if found is None:
            count, policy = key
            found = Plan(count, tuple(misfit(size, count, policy) for size in self.sizes))
            self._plans[key] = found
        return found
