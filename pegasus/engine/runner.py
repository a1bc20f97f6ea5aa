"""The engine: connects the sub-hosts, takes jobs from the queue source as
the mode's policy allows, runs them, and reports what happens as events.
It never prints; the handlers in ui/printer.py and ui/report.py decide what is
shown.

The parts, each in its own module: connections.py (the sub-hosts'
connections, and whether a host is lost), intake.py (taking from the
source), runs.py (each run from start to Outcome), policy/ (where jobs
go and what their ends mean). The Runner builds them all at once, is the
owner each of them reports to (connections.Listener, intake.Owner,
runs.Owner), handles Ctrl-C, and cleans up.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

from ..events import notices
from ..events.handler import Fanout, Handler, RunInfo
from ..events.outcome import Reason
from ..policy.modes import for_mode
from ..transports.ssh import ControlDirectory
from .connections import Connection, Connections
from .intake import Intake
from .loop import Loop, Timer
from .processes import PIPES, Budget, fit_open_files, sweep
from .runs import Run, Runs
from .sources import QueueSource

if TYPE_CHECKING:
    from ..errors import OutputLost
    from ..policy.base import Place, Verdict
    from ..settings import Settings
    from ..spec.hosts import SubHost
    from ..spec.jobs import Job
    from ..templates.template import Templates

CLOSE_GRACE = 3.0          # masters get this long to exit once told to
LOCAL_HOLD = 1.0           # pegasus could not start a process: start nothing for this long
# Asking a running pegasus what it does, as one asks dd (SIGINFO: BSD, macOS).
STATUS_SIGNALS = tuple(getattr(signal, name) for name in ("SIGUSR1", "SIGINFO")
                       if hasattr(signal, name))


@dataclass
class RunResult:
    """How a run ended, for the exit status."""

    cancelled: bool
    aborted: bool
    halted: Optional[str]          # the --halt rule met, if one was
    queue_problem: Optional[str]   # why the queue could not be taken from, at the end
    queue_unwritable: bool
    stranded: bool                 # no sub-host was left while jobs were left
    left: Optional[int]            # jobs left in the source, as far as it knows
    runs: int
    failed: int
    connected: int


class Runner:
    """Runs the queue once (or, in daemon mode, until cancelled). Made whole
    at once: what it holds of the machine (the file-descriptor budget, the
    private directory of the control sockets) is taken here, and given back
    by `run`, which is called once."""

    def __init__(self, settings: Settings, subhosts: Sequence[SubHost], source: QueueSource,
                 templates: Templates, handler: Handler):
        self.settings = settings
        self.subhosts = subhosts
        self.source = source
        self.events = Fanout([handler])
        self.loop = Loop()
        self.budget = _budget(subhosts, settings)
        # At most this many jobs at once, all sub-hosts together: -f N, and what
        # the descriptors allow.
        self.cap = _cap(settings.fanout, self.budget)
        self.policy = for_mode(settings.mode, subhosts, settings, self.cap)
        self.control = ControlDirectory()
        self.connections = Connections(self.loop, subhosts, self.control,
                                       settings.connect_parallel, self)
        self.runs = Runs(self.loop, settings, self.connections, templates, self.events, self,
                         self.cap)
        self.intake = Intake(self.loop, source, self.policy, self.events, settings.daemon, self)
        self.cancelled = 0        # 1 after the first Ctrl-C, 2 after the second
        self.stopping = False     # cancelled, or stopped because the output was lost
        self.over = False         # every job is over: nothing left to stop
        self.runs_ended = 0
        self.failed = 0
        self.connected = 0
        self.stranded = False     # the run ended with jobs left and no sub-host to run them
        self._pauses: Dict[int, Timer] = {}   # paused sub-hosts: the end of their pause

    # --- the run ---------------------------------------------------------

    def run(self) -> RunResult:
        """Run to the end."""
        clean = False
        try:
            self.source.start()
            watcher = self.source.watcher()
            if watcher is not None:
                self.events.insert_first(watcher)
            self._start()
            self.loop.run(until=self._done)
            self.over = True
            # No sub-host was left to run anything on: did that leave jobs unrun?
            self.stranded = (self.policy.taking and not self.settings.daemon
                             and self.nowhere_to_run() and not self.intake.exhausted)
            late = self.connections.never_up()
            if late and self.runs_ended:
                self.events.on_notice(notices.HostsStillConnecting(tuple(late)))
            self.events.on_run_finished()
            self._shutdown()
            clean = not self.intake.pending
        finally:
            sweep(self.loop.children)
            self.control.remove()
            self.loop.close()
            self.source.close(clean)
        return self._result()

    def _start(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self.loop.on_signal(signum, self._on_cancel_signal)
        for signum in STATUS_SIGNALS:
            self.loop.on_signal(signum, lambda _signum: self.events.on_status_requested())
        self.events.on_run_started(RunInfo(
            self.settings.mode, self.policy.fans_out, len(self.subhosts), self.settings.daemon,
            self.source.name, time.time(), self.cap))
        budget = self.budget
        if budget.capped:
            self.events.on_notice(notices.DescriptorsShort(budget.limit, budget.hard,
                                                           budget.jobs, budget.wanted))
        self.connections.start()
        self.intake.pump_soon()

    def _result(self) -> RunResult:
        policy, intake = self.policy, self.intake
        problem = intake.broken if not self.stopping else None
        return RunResult(cancelled=bool(self.cancelled), aborted=policy.aborted,
                         halted=str(policy.halted) if policy.halted else None,
                         queue_problem=problem, queue_unwritable=intake.unwritable,
                         stranded=self.stranded, left=self.source.left(), runs=self.runs_ended,
                         failed=self.failed, connected=self.connected)

    def _done(self) -> bool:
        """Whether the run is over (asked after each turn of the loop)."""
        if self.runs.busy or self.intake.pending:
            return False
        if not self.policy.taking:
            return True
        if self.settings.daemon:
            return False
        if self.nowhere_to_run():
            # Jobs to run again go back to the queue first (the intake's pump).
            return not self.intake.retries
        return self.intake.exhausted

    # --- what the intake asks (intake.Owner) ---------------------------------

    @property
    def busy(self) -> bool:
        return self.runs.busy

    def nowhere_to_run(self) -> bool:
        return not self.policy.usable and not self.connections.settling

    def start(self, job: Job, places: List[Place]) -> None:
        self.runs.start(job, places, self.subhosts)

    # --- connections (connections.Listener) ----------------------------------

    def connection_ready(self, connection: Connection, was_down: bool) -> None:
        self.connected += 1
        self.policy.host_up(connection.host.index)
        self.events.on_host_ready(connection.host, was_down)
        self.runs.host_ready(connection.host.index)
        self.intake.pump_soon()

    def connection_failed(self, connection: Connection, reason: str, first: bool) -> None:
        self.policy.host_down(connection.host.index, Reason.UNREACHABLE, reason)
        if first:
            self.events.on_host_failed(connection.host, reason)
        self.runs.host_failed(connection.host.index, Reason.UNREACHABLE, reason)
        self._lifted(self.policy.lift_pauses())
        self.intake.pump_soon()

    def connection_lost(self, connection: Connection, reason: str, jobs_lost: bool) -> None:
        self.policy.host_down(connection.host.index, Reason.HOST_LOST)
        self.events.on_host_lost(connection.host, reason)
        if jobs_lost:
            self.runs.host_lost(connection.host.index)
        self._lifted(self.policy.lift_pauses())
        self.intake.pump_soon()

    # --- runs (runs.Owner) -----------------------------------------------------

    def run_ended(self, run: Run) -> None:
        """A run is over: the policy says what it means; the source and the
        handlers are told."""
        verdict = self.policy.finished(run.outcome(retried=False), run.place)
        outcome = run.outcome(retried=verdict.retry)
        self.source.record(outcome)  # before the job can leave the journal
        if verdict.retry:
            self.intake.retry(run.seq, run.job)
        elif verdict.requeue:
            self.intake.requeue(run.seq, run.job)
        elif verdict.job_done:
            self.source.finished(run.job)
        self.runs_ended += 1
        self.failed += outcome.counts_as_failed
        self.events.on_job_finished(outcome)
        self._consequences(verdict, run)
        self.intake.pump_soon()

    def _consequences(self, verdict: Verdict, run: Run) -> None:
        """What the end of a run means for the others."""
        if verdict.aborting:
            self.events.on_notice(notices.Aborting())
        if verdict.halting is not None:
            now = verdict.halting.when == "now"
            self.events.on_notice(notices.Halting(str(verdict.halting), now,
                                                 self.policy.halt.failed, self.policy.halt.done))
            if now:
                self.runs.cancel_all(reason=Reason.HALTED)
                self.connections.stop_opening()
        if verdict.hold:
            self.intake.hold(LOCAL_HOLD)
        if verdict.pause is not None:
            index = run.subhost.index
            rule = self.settings.black_hole
            assert rule is not None   # only a --black-hole rule pauses
            self.events.on_notice(notices.HostPaused(run.subhost, rule[0], rule[1], verdict.pause))
            self._pauses[index] = self.loop.call_later(verdict.pause,
                                                       lambda: self._resume(index))
        self._lifted(verdict.lifted)

    def _resume(self, index: int) -> None:
        self._pauses.pop(index, None)
        if self.policy.taking:
            self.policy.resume(index)
            self.events.on_notice(notices.HostResumed(self.subhosts[index]))
            self.intake.pump_soon()

    def _lifted(self, indices: List[int]) -> None:
        """Paused sub-hosts take jobs again before their pause is over: no
        healthy sub-host is left for the pause to protect."""
        if not indices:
            return
        for index in indices:
            timer = self._pauses.pop(index, None)
            if timer is not None:
                timer.cancel()
        self.events.on_notice(notices.PausesLifted(tuple(self.subhosts[i] for i in indices)))

    # --- cancelling ----------------------------------------------------------

    def _on_cancel_signal(self, signum: int) -> None:
        self.cancelled += 1
        name = signal.Signals(signum).name
        if not self.stopping:
            self.events.on_notice(notices.Cancelling(name, len(self.runs.running),
                                                    self.settings.kill_grace))
            self._stop()
        else:
            self.events.on_notice(notices.KillingNow(name))
            self.runs.cancel_all(kill=True)

    def output_lost(self, lost: OutputLost) -> None:
        """The printer cannot write stdout or stderr any more (`lost`, an
        OutputLost: the reader of a pipe left, a full disk). Nobody sees the
        run now, so it stops as on a first Ctrl-C: no further job, the
        running ones cancelled and put back (--on-cancel)."""
        if self.stopping or self.over:
            return
        self.events.on_notice(notices.OutputLost(lost.stream, lost.strerror, lost.reader_left,
                                                len(self.runs.running),
                                                self.settings.kill_grace))
        self._stop()

    def _stop(self) -> None:
        self.stopping = True
        self.policy.stop()
        self.runs.cancel_all()
        self.connections.stop_opening()

    # --- the end -----------------------------------------------------------

    def _shutdown(self) -> None:
        """Close every master and wait for it, politely first."""
        self.intake.close()
        self.connections.close()
        deadline = time.monotonic() + CLOSE_GRACE
        self.loop.call_later(CLOSE_GRACE, lambda: None)
        self.loop.run(until=lambda: not self.loop.children or time.monotonic() >= deadline)


def _budget(subhosts: Sequence[SubHost], settings: Settings) -> Budget:
    """The descriptors the run may hold: its masters' and its jobs'."""
    masters = jobs = 0
    for host in subhosts:
        transport = host.transport
        assert transport is not None   # attached once the hosts are loaded
        masters += transport.needs_connection
        jobs += min(host.slots, transport.sessions or host.slots)
    return fit_open_files(masters, jobs, PIPES + settings.files_per_job)


def _cap(fanout: Optional[int], budget: Budget) -> Optional[int]:
    caps = [n for n in (fanout, budget.jobs if budget.capped else None) if n is not None]
    return min(caps) if caps else None
