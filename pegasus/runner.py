"""The engine: connects the sub-hosts, takes jobs from the queue as the
policy allows, runs them, and reports what happens as events. It never
prints; the handlers in output.py and report.py decide what is shown.

Events (methods of the `events` object):
    host_ready(host, was_down)  host_failed(host, reason)
    host_lost(host, reason)     job_started(run)
    job_line(run, stream, text) job_finished(run)
    notice(text)                warning(text)
"""

import signal
import time

from . import ssh
from .connections import Connections
from .errors import LockError, PegasusError, SpecError
from .loop import Loop
from .queuefile import QueueChanged
from .schedule import BroadcastPolicy, QueuePolicy

# Outcomes of a run besides an exit status.
TIMEOUT = "timeout"
CANCELLED = "cancelled"
HOST_LOST = "host lost"

POLL_INTERVAL = 0.5        # daemon mode: how often an idle runner looks at queue.yaml
LOCK_RETRY = 0.05          # queue lock busy (someone is editing): try again soon
SETTLE_DELAY = 0.5         # after ssh exits 255: time for a dying master to show it
CLOSE_GRACE = 3.0          # masters get this long to exit once told to
RECOVERY_INTERVAL = 30.0   # daemon mode: how often to look for dead runners' jobs


class Settings:
    """Everything a run needs to know, from the command line."""

    def __init__(self, mode="queue", daemon=False, timeout=None, kill_grace=5.0,
                 ssh_settings=None, connect_parallel=64, error_aborts=False,
                 sessions=9, retries=0):
        self.mode = mode
        self.daemon = daemon
        self.timeout = timeout
        self.kill_grace = kill_grace
        self.ssh = ssh_settings or ssh.SshSettings()
        self.connect_parallel = connect_parallel
        self.error_aborts = error_aborts
        self.sessions = sessions
        self.retries = retries


class JobRun:
    """One job on one sub-host: what ran, when, and how it ended."""

    __slots__ = ("seq", "job", "host", "place", "command", "child", "started", "ended",
                 "start_time", "returncode", "reason", "received", "timer", "lines",
                 "cancel_sent", "kill_sent", "retried")

    def __init__(self, seq, job, host, place, command):
        self.seq = seq
        self.job = job
        self.host = host
        self.place = place
        self.command = command
        self.child = None
        self.start_time = time.time()
        self.started = time.monotonic()
        self.ended = None
        self.returncode = None
        self.reason = None
        self.received = 0
        self.timer = None
        self.lines = 0
        self.cancel_sent = False
        self.kill_sent = False
        self.retried = False   # put back in the queue for another host

    @property
    def ok(self):
        return self.reason is None and self.returncode == 0

    @property
    def counts_as_failed(self):
        return not self.ok and not self.retried

    @property
    def duration(self):
        end = self.ended if self.ended is not None else time.monotonic()
        return end - self.started

    @property
    def signal(self):
        """The signal that ended the command: the one pegasus sent when it
        stopped the job (SIGTERM, or SIGKILL after the grace), else as far
        as the exit status tells."""
        if self.reason in (TIMEOUT, CANCELLED) and self.cancel_sent:
            return signal.SIGKILL if self.kill_sent else signal.SIGTERM
        if self.returncode is not None and self.returncode < 0:
            return -self.returncode
        return 0

    @property
    def exit_value(self):
        """The exit status as a shell reports it (128+N for signal N); -1 if
        the command never ran or its end is unknown."""
        if self.reason in (TIMEOUT, CANCELLED) and self.cancel_sent:
            return 128 + self.signal
        if self.returncode is None:
            return -1
        return 128 - self.returncode if self.returncode < 0 else self.returncode

    @property
    def slots(self):
        return self.place.slots_text if self.place.slots else None

    def describe(self):
        """How it ended, in a few words: 'exit 3', 'timeout', 'host lost'."""
        if self.reason is not None:
            return self.reason
        if self.returncode is not None and self.returncode < 0:
            return "killed by signal %d" % -self.returncode
        return "exit %s" % self.returncode


def raise_open_file_limit(subhosts, sessions):
    """Each sub-host's master holds three pipes and so does each job; with
    hundreds of sub-hosts the usual soft limit of 1024 descriptors is too
    low. Raise it as far as needed (and allowed)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 64 + subhosts * 3 * (1 + max(1, sessions)) + 64
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if target > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class Runner:
    """Runs the queue once (or, in daemon mode, until cancelled)."""

    def __init__(self, settings, subhosts, queue, templates, events):
        self.settings = settings
        self.subhosts = subhosts
        self.queue = queue
        self.templates = templates
        self.events = events
        self.loop = Loop()
        policy_class = BroadcastPolicy if settings.mode == "broadcast" else QueuePolicy
        self.policy = policy_class(subhosts, settings.sessions)
        self.control = None
        self.connections = None
        self.running = set()
        self.waiting = {}             # sub-host -> its run of a broadcast job, until it connects
        self.runs_on = {host.index: set() for host in subhosts}  # sub-host -> running
        self.seq = 0
        self.queue_empty = False
        self.queue_seen = None        # queue.yaml's stat when last found empty/bad
        self.queue_broken = None      # the message last warned about
        self.poll_timer = None
        self.lock_timer = None
        self.cancelled = 0            # 1 after the first Ctrl-C, 2 after the second
        self.aborted = False          # broadcast -e: a job failed
        self.finished = False
        self.broadcast_failed = False
        self.journal = None
        self.recovery_due = True
        self.open_runs = {}           # journal ticket -> runs of that job not yet ended
        self.retried = {}             # canonical job -> times put back after a lost host
        self.to_put_back = []         # jobs waiting for the lock to go back in the queue

    # --- the run ---------------------------------------------------------

    def run(self):
        """Run to the end; returns True unless cancelled."""
        from .journal import Journal
        raise_open_file_limit(len(self.subhosts), self.settings.sessions)
        try:
            self.journal = Journal(self.queue.target)
        except OSError as exc:
            raise PegasusError("cannot write the journal beside %s: %s (pegasus needs a "
                               "writable directory for the queue)" % (
                                   self.queue.path, exc.strerror or exc)) from None
        self.queue.journal = self.journal
        self.control = ssh.ControlDirectory()
        self.connections = Connections(self.loop, self.settings.ssh, self.subhosts,
                                       self.control, self.settings.connect_parallel, self)
        clean = False
        try:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                self.loop.on_signal(signum, self._on_cancel_signal)
            self.connections.start()
            self.loop.call_soon(self._pump)
            self.loop.run(until=self._done)
            self._shutdown()
            clean = not self.to_put_back
        finally:
            self._sweep()
            self.control.remove()
            self.loop.close()
            self.queue.journal = None
            if clean:
                self.journal.close()  # every job it took has ended
        return not self.cancelled

    def _done(self):
        if self.running or self.waiting or self.to_put_back:
            return False
        if self.cancelled:
            return True
        if self.settings.daemon and not self.aborted:
            return False
        if self.aborted:
            return True
        if not self.policy.ready and not self.connections.settling:
            return True  # no sub-host left to run anything on
        return self.queue_empty and not self.policy.pending

    # --- connections (Connections calls these) ------------------------------

    def connection_ready(self, connection, was_down):
        self.policy.host_up(connection.host.index)
        self.events.host_ready(connection.host, was_down)
        run = self.waiting.pop(connection.host.index, None)
        if run is not None:
            self._launch(run)
        self.loop.call_soon(self._pump)

    def connection_failed(self, connection, reason, first):
        self.policy.host_down(connection.host.index, "unreachable: " + reason)
        if first:
            self.events.host_failed(connection.host, reason)
        self._fail_waiting(connection.host.index, "unreachable: " + reason)
        self.loop.call_soon(self._pump)

    def connection_lost(self, connection, reason):
        self.policy.host_down(connection.host.index, HOST_LOST)
        self.events.host_lost(connection.host, reason)
        for run in self.runs_on[connection.host.index]:
            run.reason = run.reason or HOST_LOST
        self.loop.call_soon(self._pump)

    def _fail_waiting(self, index, reason):
        """The run held for a sub-host that will not connect now ends."""
        run = self.waiting.pop(index, None)
        if run is not None:
            run.reason = reason
            self.events.job_started(run)
            self._finish(run)

    # --- taking jobs -------------------------------------------------------

    def _pump(self):
        """Take as many jobs as there is room for, in one locked transaction
        (after putting back what must go back)."""
        if self.finished:
            return
        if self.cancelled or self.aborted:
            if self.to_put_back:
                self._with_lock(self._put_back)
            return
        want = self.policy.capacity()
        if want == 0 and not self.to_put_back:
            return
        if not self.to_put_back and not self.recovery_due and self.queue_seen is not None \
                and self.queue.stat_key() == self.queue_seen:
            self._poll_later()
            return
        self._with_lock(lambda: self._take(want))

    def _with_lock(self, work):
        try:
            locked = self.queue.try_lock()
        except LockError as exc:
            if self.seq == 0:
                raise  # locking does not work here at all: say so and stop
            self._queue_broken(exc)  # a hiccup mid-run: warn, try again later
            return
        if not locked:
            if self.lock_timer is None:
                self.lock_timer = self.loop.call_later(LOCK_RETRY, self._lock_retry)
            return
        try:
            work()
        finally:
            self.queue.unlock()

    def _put_back(self):
        """Jobs whose host was lost go back to the top of the queue."""
        try:
            self.queue.put_back_locked([run.job for run in self.to_put_back])
        except (SpecError, OSError) as exc:
            self.events.warning("could not put jobs back in %s: %s" % (self.queue.path, exc))
        else:
            for run in self.to_put_back:
                self.events.notice("put back at the top of %s: %s" % (
                    self.queue.path, run.job.command.split("\n")[0]))
        for run in self.to_put_back:
            self._journal_done(run)
        self.to_put_back = []

    def _recover(self):
        """Put back the jobs of runners on this queue that died."""
        from .errors import PegasusError as _Error
        try:
            recovered = self.queue.recover_locked()
        except (SpecError, OSError, _Error) as exc:
            self.events.warning("could not recover the jobs of a dead runner: %s" % exc)
            return
        for owner, count in recovered:
            self.events.warning(
                "runner %s died with %d job%s it had taken and not finished: put back at "
                "the top of %s" % (owner, count, "" if count == 1 else "s", self.queue.path))
        self.recovery_due = False
        if self.settings.daemon:
            self.loop.call_later(RECOVERY_INTERVAL, self._recovery_timer)

    def _recovery_timer(self):
        self.recovery_due = True
        self.loop.call_soon(self._pump)

    def _take(self, want):
        if self.to_put_back:
            self._put_back()
        if self.recovery_due:
            self._recover()
        if want == 0:
            return
        self.policy.start_take()
        try:
            jobs = self.queue.take_locked(want, accept=self.policy.accept)
        except QueueChanged:
            self.policy.rollback()
            self.loop.call_later(LOCK_RETRY, self._pump)
            return
        except SpecError as exc:
            self.policy.rollback()
            self._queue_broken(exc)
            return
        except PegasusError:
            self.policy.rollback()
            raise
        except OSError as exc:
            self.policy.rollback()
            self._queue_broken(PegasusError("cannot update %s: %s" % (
                self.queue.path, exc.strerror)))
            return
        if self.queue_broken is not None:
            self.queue_broken = None
            self.events.notice("%s is valid again; taking jobs" % self.queue.path)
        exhausted = len(jobs) < want and not self.policy.refused
        self.queue_empty = exhausted
        self.queue_seen = self.queue.stat_key() if exhausted else None
        for job in jobs:
            self._start_places(job, self.policy.placements())
        if exhausted:
            self._poll_later()

    def _lock_retry(self):
        self.lock_timer = None
        self._pump()

    def _queue_broken(self, exc):
        message = str(exc)
        if message != self.queue_broken:
            self.queue_broken = message
            self.events.warning("%s\n  nothing is taken until the file is fixed" % message)
        self.queue_empty = not self.settings.daemon and not self.running
        self.queue_seen = self.queue.stat_key()
        self._poll_later()

    def _poll_later(self):
        if self.poll_timer is None and (self.settings.daemon or self.queue_broken):
            self.poll_timer = self.loop.call_later(POLL_INTERVAL, self._poll)

    def _poll(self):
        self.poll_timer = None
        if self.queue.stat_key() != self.queue_seen:
            self.queue_seen = None
            self._pump()
        else:
            self._poll_later()

    # --- running jobs --------------------------------------------------------

    def _start_places(self, job, places):
        if job.ticket is not None:
            self.open_runs[job.ticket] = len(places)
        for place in places:
            host = self.subhosts[place.host] if place.host is not None else None
            self.seq += 1
            run = JobRun(self.seq, job, host, place, job.command)
            if place.failure is not None:
                run.reason = place.failure
                self.events.job_started(run)
                self._finish(run)
            elif place.host in self.policy.ready:
                self._launch(run)
            else:
                self.waiting[place.host] = run  # connecting: it starts when it is up

    def _launch(self, run):
        try:
            run.command = self.templates.render(
                run.job.command, run.job.variables(run.host, run.place.slots_text),
                run.job.where, owner="sub-host %s" % run.host.label)
        except SpecError as exc:
            run.reason = "template error: %s" % exc.first.message
            self.events.job_started(run)
            self._finish(run)
            return
        grace = self.settings.kill_grace
        if run.host.is_local:
            argv = ssh.wrapped_local(run.command, grace)
        else:
            remote = ssh.wrapped_remote(run.command, grace)
            if len(remote.encode("utf-8")) > ssh.MAX_REMOTE_COMMAND:
                run.reason = "command too long for ssh (%d bytes once quoted)" % len(remote)
                self.events.job_started(run)
                self._finish(run)
                return
            argv = ssh.job_argv(self.settings.ssh, run.host.hostname,
                                self.connections[run.host.index].control_path, remote)
        self.running.add(run)
        self.runs_on[run.host.index].add(run)
        run.start_time, run.started = time.time(), time.monotonic()
        self.events.job_started(run)
        try:
            run.child = self.loop.spawn(
                argv,
                lambda text: self._line(run, "out", text),
                lambda text: self._line(run, "err", text),
                lambda child: self._exited(run))
        except OSError as exc:
            self.running.discard(run)
            self.runs_on[run.host.index].discard(run)
            run.reason = "could not start: %s" % exc.strerror
            self._finish(run)
            return
        timeout = run.job.timeout if run.job.timeout is not None else self.settings.timeout
        if timeout:
            run.timer = self.loop.call_later(timeout, lambda: self._timed_out(run))
        if self.cancelled:
            self._cancel_run(run)

    def _line(self, run, stream, text):
        run.received += len(text) + 1
        run.lines += 1
        self.events.job_line(run, stream, text)

    def _timed_out(self, run):
        run.timer = None
        if run.reason is None and run in self.running:
            run.reason = TIMEOUT
            self._cancel_run(run)

    def _cancel_run(self, run, kill=False):
        """Ask the job's wrapper to stop the job: SIGTERM now and SIGKILL
        after the grace period (or SIGKILL at once)."""
        if run.child is None or run.child.done:
            return
        if kill:
            run.kill_sent = run.cancel_sent = True
            run.child.write(ssh.KILL)
            return
        if run.cancel_sent:
            return
        run.cancel_sent = True
        run.child.write(ssh.CANCEL)
        self.loop.call_later(self.settings.kill_grace, lambda: self._cancel_run(run, kill=True))

    def _exited(self, run):
        connection = self.connections[run.host.index]
        run.returncode = run.child.returncode
        if run.returncode == 255 and not run.host.is_local and run.reason is None:
            # ssh exits 255 when the connection fails, and so does a command
            # that exits 255: ask the master. It may be dying right now, so
            # give it a moment to show it.
            if connection.master_alive:
                self.loop.call_later(SETTLE_DELAY, lambda: self._settle(run))
                return
            run.reason = HOST_LOST
        self._end(run)

    def _settle(self, run):
        connection = self.connections[run.host.index]
        if run.reason is None and not connection.master_alive and not connection.closing:
            run.reason = HOST_LOST
        self._end(run)

    def _end(self, run):
        self.running.discard(run)
        self.runs_on[run.host.index].discard(run)
        if self.cancelled and run.reason is None and run.returncode != 0:
            run.reason = CANCELLED
        self._finish(run)

    def _journal_done(self, run):
        ticket = run.job.ticket
        if ticket is None or ticket not in self.open_runs:
            return
        self.open_runs[ticket] -= 1
        if self.open_runs[ticket] <= 0:
            del self.open_runs[ticket]
            self.journal.finished(ticket)

    def _should_retry(self, run):
        if run.reason != HOST_LOST or self.cancelled or self.settings.mode == "broadcast":
            return False
        key = run.job.canonical()
        count = self.retried.get(key, 0)
        if count >= self.settings.retries:
            return False
        self.retried[key] = count + 1
        return True

    def _finish(self, run):
        run.ended = time.monotonic()
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        if self._should_retry(run):
            run.retried = True
            self.to_put_back.append(run)
        elif run.job.ticket is not None:
            self._journal_done(run)
        if run.counts_as_failed and self.settings.mode == "broadcast":
            self.broadcast_failed = True
        self.events.job_finished(run)
        self.policy.release(run.place)
        if self.settings.mode == "broadcast" and self.policy.outstanding == 0:
            if self.broadcast_failed and self.settings.error_aborts:
                self.aborted = True
                self.events.warning("a job failed and -e is set: no further job is taken")
            self.broadcast_failed = False
        self.loop.call_soon(self._pump)

    # --- cancelling ----------------------------------------------------------

    def _on_cancel_signal(self, signum):
        self.cancelled += 1
        name = signal.Signals(signum).name
        if self.cancelled == 1 and not self.running:
            self.events.notice("%s: stopping (no job was running)" % name)
        elif self.cancelled == 1:
            self.events.warning("%s: cancelling %d running job%s (SIGTERM, then SIGKILL "
                                "after %g s); again to kill at once" % (
                                    name, len(self.running), "" if len(self.running) == 1 else "s",
                                    self.settings.kill_grace))
        if self.cancelled == 1:
            for run in list(self.running):
                self._cancel_run(run)
            for index in list(self.waiting):
                self._fail_waiting(index, CANCELLED)
            self.connections.stop_opening()
        else:
            self.events.warning("%s again: killing every job now" % name)
            for run in list(self.running):
                self._cancel_run(run, kill=True)

    # --- the end -----------------------------------------------------------

    def _shutdown(self):
        """Close every master and wait for it, politely first."""
        self.finished = True
        self.connections.close()
        deadline = time.monotonic() + CLOSE_GRACE
        self.loop.call_later(CLOSE_GRACE, lambda: None)
        self.loop.run(until=lambda: not self.loop.children or time.monotonic() >= deadline)

    def _sweep(self):
        """Last resort, after an error: stop every process this run started
        that is still alive, with its descendants, by PID."""
        children = self.loop.children
        if not children:
            return
        for child in children:
            child.close_stdin()  # a job wrapper then stops its job group itself
        import psutil
        processes = []
        for child in children:
            try:
                process = psutil.Process(child.pid)
                processes += [process] + process.children(recursive=True)
            except psutil.Error:
                continue
        for process in processes:
            try:
                process.terminate()
            except psutil.Error:
                pass
        _gone, alive = psutil.wait_procs(processes, timeout=1.0)
        for process in alive:
            try:
                process.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=1.0)
