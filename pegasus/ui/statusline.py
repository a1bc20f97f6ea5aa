"""Where a run stands: the counts behind the status line, the SIGUSR1
block and the final line (`Tally`, pure: events in, a `Snapshot` out), and
when the status line is drawn (`StatusLine`: in place on a terminal, a
plain line every few seconds with --progress, else not at all). What the
line says is words.py's; the Printer writes it."""

from __future__ import annotations

import enum
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Deque, Dict, Optional, Protocol, Set, Tuple

from ..events import notices
from ..events.handler import Handler, RunInfo
from ..events.outcome import Launch, Outcome, Reason

if TYPE_CHECKING:
    from ..engine.timer import Timer
    from ..spec.hosts import SubHost

RECENT = 50  # durations the ETA is estimated from: the last ones seen


@dataclass(frozen=True)
class Snapshot:
    """The run at one instant. Counts are of runs: a job on one sub-host (in
    broadcast mode a job has a run per sub-host)."""

    now: float                    # wall-clock time of the snapshot
    elapsed: float                # since the run started
    running: Tuple[Launch, ...]   # oldest first
    done: int
    failed: int
    cancelled: int
    retried: int                  # went back to the queue for another sub-host
    left: Optional[int]           # runs left in the queue; None: unknown yet
    rate: Optional[float]         # runs finished per minute of the run's busy time
    eta: Optional[float]          # seconds until what is queued now is done
    daemon: bool
    idle: bool                    # daemon with nothing running or left: waiting
    source: str

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.cancelled


class Tally(Handler):
    """Counts what the events say; `snapshot()` tells where the run stands.

    The ETA comes from the durations seen: in queue mode the mean of the
    last runs' durations, times the runs left, over the sub-hosts taking
    jobs, plus what the running ones should still take; in broadcast mode
    the mean time of a lockstep step (first start to last end of a job)
    times the jobs left. Jobs per minute count only the time some job ran,
    so an idle daemon's wait does not dilute them.
    """

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.started = clock()
        self.fans_out = False
        self.subhosts = 1
        self.fanout: Optional[int] = None   # -f
        self.daemon = False
        self.source = ""
        self.running: Dict[int, Launch] = {}
        self.done = self.failed = self.cancelled = self.retried = 0
        self.left_jobs: Optional[int] = None
        self.empty = False                # the queue was seen empty (daemon)
        self.cancelling = False           # Ctrl-C (SIGTERM, SIGHUP) stops the run
        self.ready: Set[int] = set()      # sub-hosts taking jobs
        self.durations: Deque[float] = deque(maxlen=RECENT)
        self.steps: Dict[int, Tuple[float, float]] = {}   # id(job) -> first start, last end
        self.step_times: Deque[float] = deque(maxlen=RECENT)
        self.busy = 0.0                   # seconds some job was running, before busy_since
        self.busy_since: Optional[float] = None

    # --- events ------------------------------------------------------------

    def on_run_started(self, run: RunInfo) -> None:
        self.started = run.started
        self.fans_out = run.fans_out
        self.subhosts = max(1, run.subhosts)
        self.fanout = run.fanout
        self.daemon = run.daemon
        self.source = run.source

    def on_host_ready(self, host: SubHost, was_down: bool) -> None:
        self.ready.add(host.index)

    def on_host_failed(self, host: SubHost, reason: str) -> None:
        self.ready.discard(host.index)

    def on_host_lost(self, host: SubHost, reason: str) -> None:
        self.ready.discard(host.index)

    def on_queue_left(self, count: Optional[int]) -> None:
        self.left_jobs = count
        if count:
            self.empty = False

    def on_notice(self, notice: notices.Notice) -> None:
        if isinstance(notice, notices.QueueEmpty):
            self.empty = True
        elif isinstance(notice, (notices.Cancelling, notices.OutputLost)):
            self.cancelling = True

    def on_job_started(self, launch: Launch) -> None:
        if not self.running:
            self.busy_since = self.clock()
        self.running[launch.seq] = launch
        if self.fans_out:
            first, _last = self.steps.get(id(launch.job), (launch.started, 0.0))
            self.steps[id(launch.job)] = (min(first, launch.started), 0.0)

    def on_job_finished(self, outcome: Outcome) -> None:
        now = self.clock()
        if self.running.pop(outcome.seq, None) is not None and not self.running:
            self._idle_from(now)
        if outcome.retried:
            self.retried += 1
        elif outcome.ok:
            self.done += 1
        elif outcome.reason is Reason.CANCELLED:
            self.cancelled += 1
        else:
            self.failed += 1
        if outcome.reason in (None, Reason.TIMEOUT) and outcome.host is not None:
            self.durations.append(outcome.duration)
        if self.fans_out:
            self._step_ended(outcome, now)

    def _step_ended(self, outcome: Outcome, now: float) -> None:
        key = id(outcome.job)
        first, _last = self.steps.get(key, (outcome.launch.started, 0.0))
        self.steps[key] = (first, now)
        if not any(launch.job is outcome.job for launch in self.running.values()):
            del self.steps[key]
            if outcome.reason is not Reason.CANCELLED:
                self.step_times.append(max(0.0, now - first))

    def _idle_from(self, now: float) -> None:
        if self.busy_since is not None:
            self.busy += max(0.0, now - self.busy_since)
            self.busy_since = None

    # --- where the run stands ------------------------------------------------

    def snapshot(self) -> Snapshot:
        now = self.clock()
        running = tuple(sorted(self.running.values(), key=lambda launch: launch.seq))
        left = self.left_jobs
        if left is not None and self.fans_out:
            left *= self.subhosts
        idle = self.daemon and not running and (self.empty or left == 0)
        return Snapshot(
            now=now, elapsed=max(0.0, now - self.started), running=running,
            done=self.done, failed=self.failed, cancelled=self.cancelled,
            retried=self.retried, left=left, rate=self._rate(now, running),
            eta=None if idle else self._eta(now, running), daemon=self.daemon, idle=idle,
            source=self.source)

    def _rate(self, now: float, running: Tuple[Launch, ...]) -> Optional[float]:
        """Runs per minute of busy time, counting what the running ones have
        done so far (by the mean duration), so the rate does not sag between
        the ends of runs that started together."""
        finished: float = self.done + self.failed
        busy = self.busy + (now - self.busy_since if self.busy_since is not None else 0.0)
        if not finished or busy <= 0:
            return None
        if self.durations:
            mean = sum(self.durations) / len(self.durations)
            if mean > 0:
                finished += sum(min(0.9, (now - launch.started) / mean) for launch in running)
        return finished * 60.0 / busy

    def _eta(self, now: float, running: Tuple[Launch, ...]) -> Optional[float]:
        if self.left_jobs is None or (not self.left_jobs and not running):
            return None
        if self.fans_out:
            if not self.step_times:
                return None
            step = sum(self.step_times) / len(self.step_times)
            current = min((launch.started for launch in running), default=now)
            eta = max(0.0, step - (now - current)) * bool(running) + self.left_jobs * step
            return eta if eta > 0 else None
        if not self.durations:
            return None
        mean = sum(self.durations) / len(self.durations)
        rests = [max(0.0, mean - (now - launch.started)) for launch in running]
        width = len(self.ready) if self.fanout is None else min(len(self.ready), self.fanout)
        width = max(1, width, len(running))   # -f: no more at once than that
        eta = max(max(rests, default=0.0), (sum(rests) + self.left_jobs * mean) / width)
        return eta if eta > 0 else None  # the running jobs take longer than usual


class Mode(enum.Enum):
    LIVE = "live"      # redrawn in place at the bottom of a terminal
    PLAIN = "plain"    # --progress off a terminal: a line every few seconds
    OFF = "off"


REDRAW = 0.25      # at most this often, on a terminal
REFRESH = 1.0      # while jobs run, the clock moves the ETA: redraw this often
PLAIN_EVERY = 5.0  # --progress off a terminal


class Timers(Protocol):
    """What the status line needs of the event loop (engine/loop.py)."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """`callback()` once, `delay` seconds from now, unless cancelled."""


class StatusLine:
    """Decides when the status line is shown. `changed()` is called on every
    event that moves a count; it costs a flag and, at most once per
    `REDRAW`, a timer: never a redraw per event. `show(text)` is the
    Printer's (it owns the terminal)."""

    def __init__(self, tally: Tally, mode: Mode, show: Callable[[], None],
                 monotonic: Callable[[], float] = time.monotonic):
        self.tally = tally
        self.mode = mode
        self.show = show
        self.monotonic = monotonic
        self.loop: Optional[Timers] = None
        self._timer: Optional[Timer] = None
        self._due = 0.0
        self._last = -REDRAW   # the first change is drawn at once
        self.stopped = False

    def attach(self, loop: Timers) -> None:
        self.loop = loop
        if self.mode is Mode.PLAIN:
            self._timer = loop.call_later(PLAIN_EVERY, self._plain_tick)

    def changed(self) -> None:
        """A count moved: redraw soon, but not sooner than REDRAW after the
        last redraw."""
        if self.mode is not Mode.LIVE or self.stopped or self.loop is None:
            return
        now = self.monotonic()
        due = max(now, self._last + REDRAW)
        if self._timer is not None:
            if self._due <= due:
                return
            self._timer.cancel()  # the slow refresh: a change comes first
        self._schedule(due, now)

    def _schedule(self, due: float, now: float) -> None:
        self._due = due
        assert self.loop is not None   # attached: only then is anything scheduled
        self._timer = self.loop.call_later(due - now, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.stopped:
            return
        self._last = now = self.monotonic()
        self.show()
        if self.tally.running and self.loop is not None:
            self._schedule(now + REFRESH, now)

    def _plain_tick(self) -> None:
        self._timer = None
        if self.stopped or self.loop is None:
            return
        self.show()
        self._timer = self.loop.call_later(PLAIN_EVERY, self._plain_tick)

    def stop(self) -> None:
        self.stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
