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
from typing import Optional

from . import events
from .connections import Connections
from .jobs import Jobs
from .loop import Loop
from .outcome import Reason
from .policy import for_mode
from .ssh import ControlDirectory
from .sweep import raise_open_file_limit, sweep
from .taking import Taker

CLOSE_GRACE = 3.0          # masters get this long to exit once told to
# Asking a running pegasus what it does, as one asks dd (SIGINFO: BSD, macOS).
STATUS_SIGNALS = tuple(getattr(signal, name) for name in ("SIGUSR1", "SIGINFO")
                       if hasattr(signal, name))


@dataclass
class RunResult:
    """How a run ended, for the exit status."""

    cancelled: bool
    aborted: bool
    halted: Optional[str]          # the --halt rule met, if one was
    paused_out: bool               # every sub-host left was paused (black holes)
    queue_problem: Optional[str]   # why the queue could not be taken from, at the end
    queue_unwritable: bool
    stranded: bool                 # no sub-host was left while jobs were left
    runs: int
    failed: int
    connected: int


class Runner:
    """Runs the queue once (or, in daemon mode, until cancelled)."""

    def __init__(self, settings, subhosts, source, templates, handler: events.Handler):
        self.settings = settings
        self.subhosts = subhosts
        self.source = source
        self.events = events.Fanout([handler])
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
        self.runs = 0
        self.failed = 0
        self.connected = 0
        self.put_back = 0         # jobs this run put back in the queue to run again
        self.stranded = False
        self.paused_out = False   # ... because every sub-host left is paused

    # --- the run ---------------------------------------------------------

    def run(self) -> RunResult:
        """Run to the end."""
        raise_open_file_limit(len(self.subhosts), sum(
            min(host.slots, host.transport.sessions or host.slots) for host in self.subhosts))
        self.source.start()
        watcher = self.source.watcher()
        if watcher is not None:
            self.events.handlers.insert(0, watcher)
        self.control = ControlDirectory()
        self.connections = Connections(self.loop, self.subhosts, self.control,
                                       self.settings.connect_parallel, self)
        self.jobs = Jobs(self.loop, self.settings, self.connections, self.templates,
                         self.events, self._run_ended)
        clean = False
        try:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                self.loop.on_signal(signum, self._on_cancel_signal)
            for signum in STATUS_SIGNALS:
                self.loop.on_signal(signum, lambda _signum: self.events.on_status_requested())
            self.events.on_run_started(events.RunInfo(
                self.settings.mode, self.policy.fans_out, len(self.subhosts), self.settings.daemon,
                self.source.name, time.time(), getattr(self.settings, "fanout", None)))
            self.connections.start()
            self.taker.pump_soon()
            self.loop.run(until=self._done)
            late = self.connections.never_up()
            if late and self.runs:
                self.events.on_notice(events.HostsStillConnecting(tuple(late)))
            self.events.on_run_finished()
            self._shutdown()
            clean = not self.taker.pending
        finally:
            sweep(self.loop.children)
            self.control.remove()
            self.loop.close()
            self.source.close(clean)
        problem = self.taker.broken if not self.cancelled else None
        return RunResult(cancelled=bool(self.cancelled), aborted=self.policy.aborted,
                         halted=str(self.policy.halted) if self.policy.halted else None,
                         paused_out=self.paused_out,
                         queue_problem=problem, queue_unwritable=self.taker.unwritable,
                         stranded=self.stranded, runs=self.runs, failed=self.failed,
                         connected=self.connected)

    def _done(self) -> bool:
        if self.jobs.busy or self.taker.pending:
            return False
        if not self.policy.taking:
            return True
        if self.settings.daemon:
            return False
        if not self.policy.usable and not self.connections.settling:
            # No sub-host left to run anything on: did that leave jobs unrun?
            self.stranded = not self.taker.exhausted
            self.paused_out = bool(self.policy.ready)
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
        self.taker.pump_soon()

    def connection_lost(self, connection, reason, jobs_lost):
        self.policy.host_down(connection.host.index, Reason.HOST_LOST)
        self.events.on_host_lost(connection.host, reason)
        if jobs_lost:
            self.jobs.host_lost(connection.host.index)
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
            self.put_back += 1
            self.taker.put_back(run.job)
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
            self.events.on_notice(events.Aborting())
        if verdict.halting is not None:
            now = verdict.halting.when == "now"
            self.events.on_notice(events.Halting(str(verdict.halting), now,
                                                 self.policy.halt.failed, self.policy.halt.done))
            if now:
                self.jobs.cancel_all(reason=Reason.HALTED)
                self.connections.stop_opening()
        if verdict.pause is not None:
            index = run.host.index
            self.events.on_notice(events.HostPaused(
                run.host, self.settings.black_hole[0], self.settings.black_hole[1],
                verdict.pause))
            self.loop.call_later(verdict.pause, lambda: self._resume(index))

    def _resume(self, index: int) -> None:
        if self.policy.taking:
            self.policy.resume(index)
            self.events.on_notice(events.HostResumed(self.subhosts[index]))
            self.taker.pump_soon()

    # --- cancelling ----------------------------------------------------------

    def _on_cancel_signal(self, signum):
        self.cancelled += 1
        name = signal.Signals(signum).name
        if self.cancelled == 1:
            self.events.on_notice(events.Cancelling(name, len(self.jobs.running),
                                                    self.settings.kill_grace))
            self.policy.stop()
            self.jobs.cancel_all()
            self.connections.stop_opening()
        else:
            self.events.on_notice(events.KillingNow(name))
            self.jobs.cancel_all(kill=True)

    # --- the end -----------------------------------------------------------

    def _shutdown(self):
        """Close every master and wait for it, politely first."""
        self.taker.closed = True
        self.connections.close()
        deadline = time.monotonic() + CLOSE_GRACE
        self.loop.call_later(CLOSE_GRACE, lambda: None)
        self.loop.run(until=lambda: not self.loop.children or time.monotonic() >= deadline)
