"""What is known of the Slurm allocations of a run's sub-hosts: which are
over, and why (their time limit, a cancel, a node failure that ended the
job), and Slurm asked whether one is (`state_argv`), one question at a
time per allocation. connections.py decides what that means for the
sub-hosts."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Callable, Dict, List, Optional

if TYPE_CHECKING:
    from ..transports.transport import Transport
    from .loop import Child, Loop

STATE_TIMEOUT = 30.0       # asking Slurm about an allocation: no answer within this is none

# The answer to a question: why the allocation is over, or None.
Answer = Callable[[Optional[str]], None]


class Allocations:
    """The allocations of one run's sub-hosts, by job id."""

    def __init__(self, loop: Loop):
        self.loop = loop
        self.over: Dict[str, str] = {}              # allocation -> why it is over
        self.asking: Dict[str, List[Answer]] = {}   # Slurm asked, answers awaited

    def ask(self, transport: Transport, answer: Answer) -> None:
        """Ask Slurm whether the allocation of a sub-host (its `transport`)
        is over: `answer(why or None)`. One question at a time per
        allocation; those asked meanwhile share its answer."""
        allocation = transport.allocation or ""
        waiting = self.asking.get(allocation)
        if waiting is not None:
            waiting.append(answer)
            return
        self.asking[allocation] = [answer]
        lines: List[str] = []
        argv = transport.state_argv()
        assert argv is not None   # judge asks only a transport that can be asked

        def answered(child: Child) -> None:
            timer.cancel()
            over = transport.state_says(lines, child.returncode)
            if over is not None:
                self.over.setdefault(allocation, over)
            for each in self.asking.pop(allocation, []):
                each(over)

        try:
            child = self.loop.spawn(argv, lines.append, lines.append, answered,
                                    stdin_pipe=False, env=transport.job_env(self.loop.environ))
        except OSError:
            for each in self.asking.pop(allocation, []):
                each(None)   # no answer: the job's end is its own
            return
        timer = self.loop.call_later(STATE_TIMEOUT, lambda: child.signal(signal.SIGKILL))
