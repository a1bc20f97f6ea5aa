"""Which job runs where: the queue and broadcast policies. Pure logic; the
runner asks them and does the I/O.

Both answer the same three questions:
- capacity(): how many jobs could start now (an upper bound for a take);
- accept(job): place the next job of the queue, or refuse it (FIFO: taking
  stops at the first refused job);
- release(place): a job ended, its room is free again.
"""

from collections import deque

from .slots import SlotAllocator, impossible


class Place:
    """Where one run of a job goes: a sub-host index and its slots, or a
    failure decided before anything ran (`failure` says why)."""

    __slots__ = ("host", "slots", "failure")

    def __init__(self, host, slots=None, failure=None):
        self.host = host
        self.slots = slots
        self.failure = failure

    @property
    def slots_text(self):
        return ",".join(str(i) for i in self.slots) if self.slots else "0"

    def __repr__(self):
        return "Place(%r, %r, %r)" % (self.host, self.slots, self.failure)


class _Policy:
    def __init__(self, subhosts, sessions=None):
        self.subhosts = subhosts
        self.ready = set()
        self.down = {}         # index -> why
        self.refused = False
        self.pending = deque()  # lists of Place, one list per accepted job
        # At most this many jobs at once on one remote sub-host: its master
        # multiplexes every job as a session and sshd caps sessions per
        # connection (MaxSessions, 10 by default, one used by the master).
        self.sessions = sessions

    def host_up(self, index):
        self.ready.add(index)
        self.down.pop(index, None)

    def host_down(self, index, why):
        self.ready.discard(index)
        self.down[index] = why

    def start_take(self):
        self.refused = False

    def placements(self):
        return self.pending.popleft()

    def rollback(self):
        """A take failed after accepting: forget what it placed."""
        while self.pending:
            for place in self.pending.pop():
                self.release(place)


class QueuePolicy(_Policy):
    """Queue mode: each job once, on the first ready sub-host (in hosts.yaml
    order) with room for its slots; the head job waits if none has."""

    def __init__(self, subhosts, sessions=None):
        super().__init__(subhosts, sessions)
        self.allocators = [SlotAllocator(host.slots) for host in subhosts]
        self.running = [0] * len(subhosts)

    def _room(self, index):
        free = self.allocators[index].free
        if self.sessions is not None and not self.subhosts[index].is_local:
            free = min(free, self.sessions - self.running[index])
        return max(0, free)

    def capacity(self):
        return sum(self._room(index) for index in self.ready)

    def accept(self, job):
        count, policy = job.slots, job.allocation_policy
        reasons = [impossible(host.slots, count, policy) for host in self.subhosts]
        if all(reasons):
            self.pending.append([Place(None, None, "cannot run anywhere: " + reasons[0])])
            return True
        for index in sorted(self.ready):
            if reasons[index] or self._room(index) == 0:
                continue
            slots = self.allocators[index].find(count, policy)
            if slots is None:
                continue
            self.allocators[index].take(slots)
            self.running[index] += 1
            self.pending.append([Place(index, slots)])
            return True
        self.refused = True
        return False

    def release(self, place):
        if place.host is not None and place.failure is None:
            self.allocators[place.host].release(place.slots)
            self.running[place.host] -= 1


class BroadcastPolicy(_Policy):
    """Broadcast mode: each job on every sub-host, in lockstep. A job is
    taken when every sub-host is done with the previous one and some
    sub-host is connected. Unreachable sub-hosts fail it; those still
    connecting get their place all the same and run it once they are up
    (the runner holds it), so a cold start overlaps connecting and
    running."""

    def __init__(self, subhosts, sessions=None):
        super().__init__(subhosts, sessions)
        self.outstanding = 0

    def capacity(self):
        if self.outstanding or not self.ready:
            return 0
        return 1

    def accept(self, job):
        if self.outstanding:
            self.refused = True
            return False
        places = []
        for index, host in enumerate(self.subhosts):
            why = impossible(host.slots, job.slots, job.allocation_policy)
            if why:
                places.append(Place(index, None, why))
            elif index in self.down:
                places.append(Place(index, None, self.down[index]))
            else:
                places.append(Place(index, list(range(job.slots))))
        self.outstanding = len(places)
        self.pending.append(places)
        return True

    def release(self, place):
        self.outstanding -= 1
