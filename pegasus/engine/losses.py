"""Whether a job's end means that its sub-host was lost, or that its Slurm
allocation is over -- decided here alone, with connections.py, which sees a
master that was up exit.

A job's exit status may mean a failed connection (ssh's 255), and the
transport's own lines on a job's stderr may say the sub-host is gone (srun:
a node failure) or its allocation over (its time limit, a cancel, a node
failure that ends the job); when a step ended in a way that may be the
job's end (a signal, a cancel), Slurm is asked (allocations.py). Then every
sub-host of the allocation is down at once, and the jobs it cut off end
with ENDED: not their failure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, List, Optional, Sequence

from ..events.outcome import Reason
from .sessions import SessionJob

if TYPE_CHECKING:
    from .allocations import Allocations
    from .connections import Connection, Listener
    from .loop import Loop

# judge()'s answer: None (the job's own end), Reason.HOST_LOST, or Reason.ENDED.
Decide = Callable[[Optional[Reason]], None]


def lost_if(gone: bool) -> Optional[Reason]:
    """HOST_LOST if the master is `gone` (died, not closed by pegasus)."""
    return Reason.HOST_LOST if gone else None


class Losses:
    """The judge of the jobs' ends, for every connection of a run (`all`);
    the sub-hosts it finds gone are told to the `listener`."""

    def __init__(self, loop: Loop, all: List[Connection], listener: Listener,
                 allocations: Allocations):
        self.loop = loop
        self.all = all
        self.listener = listener
        self.allocations = allocations

    def judge(self, connection: Connection, returncode: Optional[int], said: Sequence[str],
              decide: Decide, child: object = None) -> None:
        """Whether a job that ended with `returncode` on `connection`'s sub-host,
        its transport having said `said` on its stderr, ended because the
        sub-host was lost (HOST_LOST) or its allocation is over (ENDED; the
        connection's `reason` says why), or by itself (None): `decide` is
        called with the answer, now or a moment later (a dying master may
        take that long to show it, Slurm that long to answer). A job that
        the master's session ran (`child`, a SessionJob) tells: its markers
        came through the connection, or the master died first."""
        if isinstance(child, SessionJob):
            decide(None if child.finished else lost_if(connection.gone))
            return
        transport = connection.transport
        over = transport.over_by(said)
        if over is not None:
            self._over(connection, over)
            decide(Reason.ENDED)
            return
        gone = transport.lost_by(said)
        if gone is None and not transport.exit_may_mean_lost(returncode, said):
            decide(None)   # its own end, even if its allocation ended just after
        elif transport.allocation in self.allocations.over:
            self._over(connection, self.allocations.over[transport.allocation or ""])
            decide(Reason.ENDED)
        elif transport.state_argv() is not None:
            self.allocations.ask(connection.transport,
                                 lambda over: self._asked(connection, over, gone, decide))
        elif gone is not None:
            self._left(connection, gone)
            decide(Reason.HOST_LOST)
        elif connection.state != connection.READY:
            decide(lost_if(connection.gone))   # its master's end is handled already
        else:
            connection.await_master(self.loop, decide)

    def _asked(self, connection: Connection, over: Optional[str], gone: Optional[str],
               decide: Decide) -> None:
        if over is not None:
            self._over(connection, over)
            decide(Reason.ENDED)
        elif gone is not None:
            self._left(connection, gone)
            decide(Reason.HOST_LOST)
        else:
            decide(None)

    def _left(self, connection: Connection, reason: str) -> None:
        """A job's own transport said that its sub-host is gone for good
        (srun: the node has left the allocation): no job goes there again,
        and there is no connection to open again. Its other running jobs
        hear their own fate from their own transport."""
        if connection.state == connection.READY:
            connection.state = connection.DOWN
            connection.reason = reason
            self.listener.connection_lost(connection, reason, False)

    def _over(self, connection: Connection, reason: str) -> None:
        """The allocation of `connection`'s sub-host is over: every sub-host
        of it is gone for good, at once (a job cut off on one node must not
        be sent to another node of the same ending job)."""
        allocation = connection.transport.allocation
        if allocation is None:
            self._left(connection, reason)
            return
        self.allocations.over.setdefault(allocation, reason)
        for other in self.all:
            if other.transport.allocation == allocation:
                self._left(other, reason)

    def why_over(self, connection: Connection) -> str:
        """Why the allocation of `connection`'s sub-host is over (judge said
        ENDED)."""
        over = self.allocations.over
        return over.get(connection.transport.allocation or "", connection.reason or "")
