"""Slot allocation on one sub-host (GPU sharing): which of its N slots a
job of k slots gets. Pure logic.

first_fit: a contiguous block starting at an even index if there is one,
    else any contiguous block, else any free slots. A single slot goes
    into a hole first (a free slot whose even/odd partner is taken), so
    that pairs stay whole for the jobs that need two.
buddy: a block of k slots aligned to k (k a power of two), or nothing.
"""

from typing import List, Optional

FIRST_FIT = "first_fit"
BUDDY = "buddy"


def is_power_of_two(number: int) -> bool:
    return number > 0 and number & (number - 1) == 0


class Misfit:
    """Why a job of `count` slots can never run on a host of `size` slots:
    too few slots (`kind` "size"), or a buddy job whose count is not a
    power of two (`kind` "buddy"). str() says it in a few words."""

    __slots__ = ("kind", "count", "size")

    def __init__(self, kind: str, count: int, size: int):
        self.kind = kind
        self.count = count
        self.size = size

    def __str__(self) -> str:
        if self.kind == "buddy":
            return "buddy allocation needs a power-of-two slot count, not %d" % self.count
        return "needs %d slots, the host has %d" % (self.count, self.size)

    def __repr__(self) -> str:
        return "Misfit(%r, %r, %r)" % (self.kind, self.count, self.size)


def misfit(size: int, count: int, policy: str) -> Optional[Misfit]:
    """Why a job of `count` slots can never run on a host of `size` slots,
    or None if it can."""
    if count > size:
        return Misfit("size", count, size)
    if policy == BUDDY and not is_power_of_two(count):
        return Misfit("buddy", count, size)
    return None


class SlotAllocator:
    """The free and used slots of one sub-host."""

    def __init__(self, size: int):
        self.size = size
        self._used = [False] * size

    @property
    def free(self) -> int:
        return self._used.count(False)

    def _run_free(self, start: int, count: int) -> bool:
        return start + count <= self.size and not any(self._used[start:start + count])

    def find(self, count: int, policy: str = FIRST_FIT) -> Optional[List[int]]:
        """The slots a job of `count` would get now, or None."""
        if misfit(self.size, count, policy) or self.free < count:
            return None
        if policy == BUDDY:
            for start in range(0, self.size - count + 1, count):
                if self._run_free(start, count):
                    return list(range(start, start + count))
            return None
        if count == 1:
            holes = [i for i in range(self.size)
                     if not self._used[i] and (i ^ 1) < self.size and self._used[i ^ 1]]
            if holes:
                return holes[:1]
        for step in (2, 1):
            for start in range(0, self.size - count + 1, step):
                if self._run_free(start, count):
                    return list(range(start, start + count))
        return [index for index, used in enumerate(self._used) if not used][:count]

    def take(self, indices: List[int]) -> None:
        for index in indices:
            if self._used[index]:
                raise ValueError("slot %d is already in use" % index)
            self._used[index] = True

    def release(self, indices: List[int]) -> None:
        for index in indices:
            self._used[index] = False
