"""The life of each run of a job: render its command for its sub-host, start
it through the sub-host's transport, pass its output on, time it out, stop
it, and, once it has ended, hand its Outcome to the engine.

A run whose place is a failure decided beforehand (it fits nowhere, unreachable)
or that cannot start (template error, command too long, spawn failure)
ends at once with that reason; nothing about it crashes the runner. A
spawn that fails for want of something on pegasus's own machine (file
descriptors, processes, memory) ends with LOCAL_LIMIT: not the job's
failure. At most `cap` runs hold their processes at once (the smaller of
-f N and the descriptor budget, engine/processes.py); a run beyond it waits for one to
end.
"""

from __future__ import annotations

import errno
import time
from typing import TYPE_CHECKING, Dict, List, Optional, Protocol, Sequence, Set, Union, cast

from ..errors import SpecError
from ..events.handler import Handler
from ..events.outcome import SIGKILL, SIGTERM, Launch, Outcome, Reason, Tail
from ..transports import wrapper

if TYPE_CHECKING:
    from ..policy.base import Place
    from ..settings import Settings
    from ..spec.hosts import SubHost
    from ..spec.jobs import Job
    from ..templates.template import Templates
    from ..transports.transport import Transport
    from .connections import Connections
    from .loop import Child, Loop, Timer
    from .sessions import SessionJob

SAID_KEPT = 20   # lines of a transport's own per run, for judging its end
# A spawn that failed for these reasons says nothing about the job or its host.
LOCAL_ERRNOS = frozenset([errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.ENOMEM])


class Run:
    """One job on one sub-host while it runs (mutable; the engine's own)."""

    __slots__ = ("seq", "job", "host", "place", "command", "child", "started_wall",
                 "started", "returncode", "reason", "detail", "received", "lines", "timer",
                 "stop_signal", "launch", "said", "tails")

    def __init__(self, seq: int, job: Job, host: Optional[SubHost], place: Place):
        self.seq = seq
        self.job = job
        self.host = host
        self.place = place
        self.command = job.command
        # Its own process, or the job its sub-host's master runs in its session.
        self.child: Union[Child, SessionJob, None] = None
        self.started_wall = time.time()
        self.started = time.monotonic()
        self.returncode: Optional[int] = None
        self.reason: Optional[Reason] = None
        self.detail = ""
        self.received = 0
        self.lines = 0
        self.timer: Optional[Timer] = None
        self.stop_signal = 0
        self.launch: Optional[Launch] = None
        self.said: List[str] = []   # the transport's own lines on its stderr (some)
        self.tails = {"out": Tail(), "err": Tail()}   # its last lines, for the record

    @property
    def subhost(self) -> SubHost:
        """Its sub-host: every run that starts has one (only a run that ends
        before it starts, its place a failure, has none)."""
        assert self.host is not None
        return self.host

    @property
    def transport(self) -> Transport:
        """How the job reaches its sub-host (attached once hosts are loaded)."""
        return cast("Transport", self.subhost.transport)

    def fail(self, reason: Reason, detail: str = "") -> None:
        if self.reason is None:
            self.reason, self.detail = reason, detail

    def started_now(self) -> Launch:
        self.started_wall, self.started = time.time(), time.monotonic()
        slots = tuple(self.place.slots) if self.place.slots else None
        self.launch = Launch(self.seq, self.job, self.host, slots, self.command,
                             self.started_wall, self.place.attempt)
        return self.launch

    def outcome(self, retried: bool) -> Outcome:
        assert self.launch is not None
        return Outcome(self.launch, time.monotonic() - self.started, self.returncode,
                       self.reason, self.detail, self.stop_signal, self.received,
                       self.lines, retried, self.tails["out"].kept(),
                       self.tails["err"].kept())


class Owner(Protocol):
    """What the runs report to (the runner)."""

    def run_ended(self, run: Run) -> None:
        """`run` is over, however it ended (its outcome: `run.outcome`)."""


class Runs:
    """Every run of the engine, from its start to its Outcome.

    `owner.run_ended(run)` is called once per run, when it is over.
    """

    def __init__(self, loop: Loop, settings: Settings, connections: Connections,
                 templates: Templates, events: Handler, owner: Owner,
                 cap: Optional[int] = None):
        self.loop = loop
        self.settings = settings
        self.connections = connections
        self.templates = templates
        self.events = events
        self.owner = owner
        self.seq = 0
        self.running: Set[Run] = set()
        self.waiting: Dict[int, Run] = {}   # sub-host -> its run, until it connects
        # At most `cap` runs at once (-f N, and the descriptor budget): runs
        # beyond it wait here, in order (broadcast; the queue policy takes no
        # more than that), until a run ends.
        self.cap = cap
        self.held: List[Run] = []
        self._unhold_soon = False
        self.runs_on: Dict[int, Set[Run]] = {}
        self.stopping: Optional[Reason] = None   # why every run is being stopped

    @property
    def busy(self) -> bool:
        return bool(self.running or self.waiting or self.held)

    def _room(self) -> bool:
        """Whether one more run may start (or wait for its connection): at most
        `cap` at once."""
        return self.cap is None or len(self.running) + len(self.waiting) < self.cap

    def start(self, job: Job, places: List[Place], subhosts: Sequence[SubHost]) -> None:
        """Start one run of `job` per place (or end it at once, for a place
        that is a failure)."""
        for place in places:
            host = subhosts[place.host] if place.host is not None else None
            self.seq += 1
            run = Run(self.seq, job, host, place)
            if place.reason is not None:
                run.fail(place.reason, place.detail)
                self._end_unstarted(run)
            elif self.held or not self._room():
                self.held.append(run)
            else:
                self._place(run)

    def _place(self, run: Run) -> None:
        """Start `run` now, or once its sub-host is connected."""
        index = run.subhost.index
        down = self.connections.down_reason(index)
        if self.connections.is_ready(index):
            self._launch(run)
        elif down is not None:  # it went down while the run was held
            run.fail(Reason.UNREACHABLE, down)
            self._end_unstarted(run)
        else:
            self.waiting[index] = run  # connecting: it starts once up

    def _over(self, run: Run) -> None:
        """A run is over: the engine is told; a held run may start."""
        self.owner.run_ended(run)
        if self.held and not self._unhold_soon:
            self._unhold_soon = True
            self.loop.call_soon(self._unhold)

    def _unhold(self) -> None:
        self._unhold_soon = False
        while self.held and self._room():
            run = self.held.pop(0)
            if self.stopping:
                run.fail(self.stopping)
                self._end_unstarted(run)
            else:
                self._place(run)

    # --- the connections of the sub-hosts -------------------------------------

    def host_ready(self, index: int) -> None:
        run = self.waiting.pop(index, None)
        if run is not None:
            self._launch(run)

    def host_failed(self, index: int, reason: Reason, detail: str = "") -> None:
        """The run held for a sub-host that will not connect now ends."""
        run = self.waiting.pop(index, None)
        if run is not None:
            run.fail(reason, detail)
            self._end_unstarted(run)

    def host_lost(self, index: int) -> None:
        for run in self.runs_on.get(index, ()):
            run.fail(Reason.HOST_LOST)

    # --- starting --------------------------------------------------------------

    def _end_unstarted(self, run: Run) -> None:
        self.events.on_job_started(run.started_now())
        self._over(run)

    def _launch(self, run: Run) -> None:
        host = run.subhost
        try:
            run.command = self.templates.render(
                run.job.command, run.job.variables(host, _slots_text(run.place)),
                run.job.where, owner="sub-host %s" % host.label)
        except SpecError as exc:
            run.fail(Reason.TEMPLATE, exc.first.message)
            return self._end_unstarted(run)
        problem = run.transport.command_problem(run.command)
        if problem is not None:
            run.fail(Reason.TOO_LONG, problem)
            return self._end_unstarted(run)
        self.events.on_job_started(run.started_now())
        # In the master's own session if it can take the job now (no
        # process of its own), else a process of its own.
        run.child = self.connections.run_in_session(
            host.index, run.command, self.settings.kill_grace,
            lambda stream, text: self._line(run, stream, text),
            lambda session: self._session_over(run, session))
        if run.child is None and not self._spawn(run):
            return self._over(run)
        self.running.add(run)
        self.runs_on.setdefault(host.index, set()).add(run)
        timeout = run.job.timeout if run.job.timeout is not None else self.settings.timeout
        if timeout:
            run.timer = self.loop.call_later(timeout, lambda: self._timed_out(run))
        if self.stopping:
            self.stop(run)
        return None

    def _spawn(self, run: Run) -> bool:
        """Start the run's own process; False if it could not be started
        (the run has failed with why)."""
        host = run.subhost
        argv = run.transport.job_argv(run.command, self.connections[host.index].control_path,
                                       run.place.slots)
        try:
            run.child = self.loop.spawn(
                argv,
                lambda text: self._line(run, "out", text),
                lambda text: self._line(run, "err", text),
                lambda child: self._exited(run),
                env=run.transport.job_env(self.loop.environ))
        except (OSError, ValueError) as exc:
            local = isinstance(exc, OSError) and exc.errno in LOCAL_ERRNOS
            run.fail(Reason.LOCAL_LIMIT if local else Reason.NOT_STARTED,
                     getattr(exc, "strerror", None) or str(exc))
            run.child = None
            return False
        return True

    def _session_over(self, run: Run, session: SessionJob) -> None:
        """The master's session is done with the run: it ended there, or
        the session refused it (it never ran): then it runs by itself."""
        if not session.refused:
            self._exited(run)
        elif not self._spawn(run):
            self._end(run)
        elif run.stop_signal:
            run.stop_signal = 0   # asked to stop while it was refused: ask again
            self.stop(run)

    def _line(self, run: Run, stream: str, text: str) -> None:
        said = run.transport.own_message(text) if stream == "err" else None
        if said is not None:
            # The transport's own words, not the job's output: kept for
            # judging the end (the first few are enough).
            if len(run.said) < SAID_KEPT:
                run.said.append(said)
            return
        run.received += len(text) + 1
        run.lines += 1
        run.tails[stream].add(text)
        assert run.launch is not None
        self.events.on_job_line(run.launch, stream, text)

    # --- stopping ----------------------------------------------------------------

    def _timed_out(self, run: Run) -> None:
        run.timer = None
        if run.reason is None and run in self.running:
            run.fail(Reason.TIMEOUT)
            self.stop(run)

    def stop(self, run: Run, kill: bool = False) -> None:
        """Ask the job's wrapper to stop the job: SIGTERM now and SIGKILL
        after the grace period (or SIGKILL at once)."""
        if run.child is None or run.child.done:
            return
        if kill:
            run.stop_signal = SIGKILL
            run.child.write(wrapper.KILL)
            return
        if run.stop_signal:
            return
        run.stop_signal = SIGTERM
        run.child.write(wrapper.CANCEL)
        self.loop.call_later(self.settings.kill_grace, lambda: self.stop(run, kill=True))

    def cancel_all(self, kill: bool = False, reason: Reason = Reason.CANCELLED) -> None:
        """Stop every run (kill: at once); runs held for a connection end
        too. They end with `reason` (CANCELLED, or HALTED by --halt now)."""
        self.stopping = self.stopping or reason
        for run in list(self.running):
            self.stop(run, kill)
        for index in list(self.waiting):
            self.host_failed(index, self.stopping)
        held, self.held = self.held, []
        for run in held:
            run.fail(self.stopping)
            self._end_unstarted(run)

    # --- the end -------------------------------------------------------------------

    def _exited(self, run: Run) -> None:
        assert run.child is not None
        run.returncode, unstarted = run.transport.job_ended(run.child.returncode, run.said)
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        if run.reason is not None:
            return self._end(run)

        def decide(reason: Optional[Reason]) -> None:
            if reason is Reason.ENDED:
                run.fail(reason, self.connections.why_over(run.subhost.index))
            elif reason is not None:
                run.fail(reason)
            elif unstarted is not None:
                run.fail(Reason.NOT_STARTED, unstarted)
            self._end(run)
        self.connections.judge(run.subhost.index, run.returncode, run.said, decide, run.child)
        return None

    def _end(self, run: Run) -> None:
        self.running.discard(run)
        self.runs_on[run.subhost.index].discard(run)
        if self.stopping and run.reason is None and run.returncode != 0:
            run.fail(self.stopping)
        self._over(run)


def _slots_text(place: Place) -> str:
    return ",".join(str(i) for i in place.slots) if place.slots else "0"
