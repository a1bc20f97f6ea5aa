"""The engine: connects the sub-hosts, takes jobs from the queue source as
the mode's policy allows, runs them, and reports what happens as events.
It never prints; the handlers in output.py and report.py decide what is
shown.

The parts, each in its own module: connections.py (the sub-hosts'
connections, and whether a host is lost), taking.py (taking from the
source), jobs.py (each run from start to Outcome), policy.py (where jobs
go and what their ends mean). This class wires them, handles Ctrl-C, and
cleans up.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from typing import Dict, Optional

from ..events import notices
from ..events.handler import Fanout, Handler, RunInfo
from ..events.outcome import Reason
from ..policy.modes import for_mode
from ..transports.ssh import ControlDirectory
from .connections import Connections
from .intake import Taker
from .loop import Loop, Timer
from .processes import PIPES, fit_open_files, sweep
from .runs import Jobs

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
    """Runs the queue once (or, in daemon mode, until cancelled)."""

    def __init__(self, settings, subhosts, source, templates, handler: Handler):
        self.settings = settings
        self.subhosts = subhosts
        self.source = source
        self.events = Fanout([handler])
        self.loop = Loop()
        self.policy = for_mode(settings.mode, subhosts, settings)
        self.templates = templates
        # Made when the run starts (the control directory is a real one).
        self.control: ControlDirectory
        self.connections: Connections
        self.jobs: Jobs
        self.taker = Taker(self.loop, source, self.policy, self.events, settings.daemon,
                           self._start_job, lambda: self.jobs.busy)
        self.cancelled = 0        # 1 after the first Ctrl-C, 2 after the second
        self.stopping = False     # cancelled, or stopped because the output was lost
        self.over = False         # every job is over: nothing left to stop
        self.runs = 0
        self.failed = 0
        self.connected = 0
        self.stranded = False
        self._pauses: Dict[int, Timer] = {}   # paused sub-hosts: the end of their pause

    # --- the run ---------------------------------------------------------

    def run(self) -> RunResult:
        """Run to the end."""
        budget = fit_open_files(
            sum(1 for host in self.subhosts if host.transport.needs_connection),
            sum(min(host.slots, host.transport.sessions or host.slots) for host in self.subhosts),
            PIPES + self.settings.files_per_job)
        # At most this many jobs at once, all sub-hosts together: -f N, and what
        # the descriptors allow.
        caps = [n for n in (self.settings.fanout, budget.jobs if budget.capped else None)
                if n is not None]
        cap = min(caps) if caps else None
        self.policy.max_running = cap
        self.source.start()
        watcher = self.source.watcher()
        if watcher is not None:
            self.events.handlers.insert(0, watcher)
        self.control = ControlDirectory()
        self.connections = Connections(self.loop, self.subhosts, self.control,
                                       self.settings.connect_parallel, self)
        self.jobs = Jobs(self.loop, self.settings, self.connections, self.templates,
                         self.events, self._run_ended, cap)
        clean = False
        try:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                self.loop.on_signal(signum, self._on_cancel_signal)
            for signum in STATUS_SIGNALS:
                self.loop.on_signal(signum, lambda _signum: self.events.on_status_requested())
            self.events.on_run_started(RunInfo(
                self.settings.mode, self.policy.fans_out, len(self.subhosts), self.settings.daemon,
                self.source.name, time.time(), cap))
            if budget.capped:
                self.events.on_notice(notices.DescriptorsShort(budget.limit, budget.hard,
                                                              budget.jobs, budget.wanted))
            self.connections.start()
            self.taker.pump_soon()
            self.loop.run(until=self._done)
            self.over = True
            late = self.connections.never_up()
            if late and self.runs:
                self.events.on_notice(notices.HostsStillConnecting(tuple(late)))
            self.events.on_run_finished()
            self._shutdown()
            clean = not self.taker.pending
        finally:
            sweep(self.loop.children)
            self.control.remove()
            self.loop.close()
            self.source.close(clean)
        problem = self.taker.broken if not self.stopping else None
        return RunResult(cancelled=bool(self.cancelled), aborted=self.policy.aborted,
                         halted=str(self.policy.halted) if self.policy.halted else None,
                         queue_problem=problem, queue_unwritable=self.taker.unwritable,
                         stranded=self.stranded, left=self.source.left(), runs=self.runs,
                         failed=self.failed, connected=self.connected)

    def _done(self) -> bool:
        if self.jobs.busy or self.taker.pending:
            return False
        if not self.policy.taking:
            return True
        if self.settings.daemon:
            return False
        if not self.policy.usable and not self.connections.settling:
            if self.taker.retries and not self.taker.give_back_now():
                return False   # the lock is busy: its retry timer comes back here
            # No sub-host left to run anything on: did that leave jobs unrun?
            self.stranded = not self.taker.exhausted
            return True
        return self.taker.exhausted

    # --- connections (Connections calls these) ------------------------------

    def connection_ready(self, connection, was_down):
        self.connected += 1
        self.policy.host_up(connection.host.index)
        self.events.on_host_ready(connection.host, was_down)
        self.jobs.host_ready(connection.host.index)
        self.taker.pump_soon()

    def connection_failed(self, connection, reason, first):
        self.policy.host_down(connection.host.index, Reason.UNREACHABLE, reason)
        if first:
            self.events.on_host_failed(connection.host, reason)
        self.jobs.host_failed(connection.host.index, Reason.UNREACHABLE, reason)
        self._lifted(self.policy.lift_pauses())
        self.taker.pump_soon()

    def connection_lost(self, connection, reason, jobs_lost):
        self.policy.host_down(connection.host.index, Reason.HOST_LOST)
        self.events.on_host_lost(connection.host, reason)
        if jobs_lost:
            self.jobs.host_lost(connection.host.index)
        self._lifted(self.policy.lift_pauses())
        self.taker.pump_soon()

    # --- jobs ------------------------------------------------------------------

    def _start_job(self, job, places):
        self.jobs.start(job, places, self.subhosts)

    def _run_ended(self, run):
        """A run is over: the policy says what it means; the source and the
        handlers are told."""
        verdict = self.policy.finished(run.outcome(retried=False), run.place)
        outcome = run.outcome(retried=verdict.retry)
        self.source.record(outcome)  # before the job can leave the journal
        if verdict.retry:
            self.taker.retry(run.seq, run.job)
        elif verdict.requeue:
            self.taker.requeue(run.seq, run.job)
        elif verdict.job_done:
            self.source.finished(run.job)
        self.runs += 1
        self.failed += outcome.counts_as_failed
        self.events.on_job_finished(outcome)
        self._consequences(verdict, run)
        self.taker.pump_soon()

    def _consequences(self, verdict, run) -> None:
        """What the end of a run means for the others."""
        if verdict.aborting:
            self.events.on_notice(notices.Aborting())
        if verdict.halting is not None:
            now = verdict.halting.when == "now"
            self.events.on_notice(notices.Halting(str(verdict.halting), now,
                                                 self.policy.halt.failed, self.policy.halt.done))
            if now:
                self.jobs.cancel_all(reason=Reason.HALTED)
                self.connections.stop_opening()
        if verdict.hold:
            self.taker.hold(LOCAL_HOLD)
        if verdict.pause is not None:
            index = run.host.index
            self.events.on_notice(notices.HostPaused(
                run.host, self.settings.black_hole[0], self.settings.black_hole[1],
                verdict.pause))
            self._pauses[index] = self.loop.call_later(verdict.pause,
                                                       lambda: self._resume(index))
        self._lifted(verdict.lifted)

    def _resume(self, index: int) -> None:
        self._pauses.pop(index, None)
        if self.policy.taking:
            self.policy.resume(index)
            self.events.on_notice(notices.HostResumed(self.subhosts[index]))
            self.taker.pump_soon()

    def _lifted(self, indices) -> None:
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

    def _on_cancel_signal(self, signum):
        self.cancelled += 1
        name = signal.Signals(signum).name
        if not self.stopping:
            self.events.on_notice(notices.Cancelling(name, len(self.jobs.running),
                                                    self.settings.kill_grace))
            self._stop()
        else:
            self.events.on_notice(notices.KillingNow(name))
            self.jobs.cancel_all(kill=True)

    def output_lost(self, lost) -> None:
        """The printer cannot write stdout or stderr any more (`lost`, an
        OutputLost: the reader of a pipe left, a full disk). Nobody sees the
        run now, so it stops as on a first Ctrl-C: no further job, the
        running ones cancelled and put back (--on-cancel)."""
        if self.stopping or self.over:
            return
        self.events.on_notice(notices.OutputLost(lost.stream, lost.strerror, lost.reader_left,
                                                len(self.jobs.running),
                                                self.settings.kill_grace))
        self._stop()

    def _stop(self) -> None:
        self.stopping = True
        self.policy.stop()
        self.jobs.cancel_all()
        self.connections.stop_opening()

    # --- the end -----------------------------------------------------------

    def _shutdown(self):
        """Close every master and wait for it, politely first."""
        self.taker.closed = True
        self.connections.close()
        deadline = time.monotonic() + CLOSE_GRACE
        self.loop.call_later(CLOSE_GRACE, lambda: None)
        self.loop.run(until=lambda: not self.loop.children or time.monotonic() >= deadline)
