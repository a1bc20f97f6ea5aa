"""The connections of a run: one per sub-host whose transport needs one
(an ssh ControlMaster), opened a bounded number at a time, opened again
when a server turned it away for now, watched for loss, tried again in the
background while the host is down, and closed at the end. A sub-host whose
transport needs no connection (localhost) is ready at once.

This module and losses.py alone decide whether a sub-host is lost: here,
when it was up and its master exits; there, when a job's end may mean a
failed connection or an allocation that is over (`judge`). Each master of a
sub-host gets a control socket path of its own (a new generation each time
it is opened), so a master that replaces one that died serves every later
job. A sub-host of one slot may run its jobs in its master's own session
(sessions.py).

It tells its Listener (the runner) what happens.
"""

from __future__ import annotations

import random
import signal
from typing import TYPE_CHECKING, Callable, List, Optional, Protocol, Sequence, cast

if TYPE_CHECKING:
    from ..spec.hosts import SubHost
    from ..transports.ssh import ControlDirectory
    from ..transports.transport import Transport
    from .loop import Child, Loop

from ..transports.ssh import remove_socket
from .allocations import Allocations
from .losses import Decide, Losses, lost_if
from .sessions import SessionJob, start_session, stream_filter

CONNECT_ATTEMPTS = 5       # for a server that turns connections away (MaxStartups)
RECONNECT_DELAYS = (2, 5, 10, 20, 40, 60)  # trying again a host that is down
SETTLE_DELAY = 0.5         # after an exit that may mean loss: time for a dying master to show it


class Connection:
    """One sub-host's connection: its master process and its state."""

    __slots__ = ("host", "transport", "control_path", "generation", "master", "state",
                 "reason", "attempts", "stdout", "stderr", "closing", "failures", "verdicts",
                 "session", "session_runs", "retiring", "renewing")

    CONNECTING, READY, DOWN, CLOSED = "connecting", "ready", "down", "closed"

    def __init__(self, host: SubHost):
        self.host = host
        self.transport = cast("Transport", host.transport)   # attached once hosts are loaded
        self.control_path = ""  # the current master's socket; jobs use it
        self.generation = 0     # masters opened so far
        self.master: Optional[Child] = None
        self.state: Optional[str] = None
        self.reason: Optional[str] = None
        self.attempts = 0       # tries of the current connection attempt
        self.stdout: List[str] = []  # what the master's session said before it was up
        self.stderr: List[str] = []
        self.closing = False
        self.failures = 0       # connection attempts that failed in a row
        self.verdicts: List[Decide] = []  # judge(): awaiting the master
        self.session: Optional[SessionJob] = None   # the job its master's session runs
        # Whether the master's session may run jobs: not where it refused
        # (no setsid), nor once a job left processes behind there.
        self.session_runs = True
        self.retiring = False   # its session ended after a job that left processes
        self.renewing = False   # a new master replaces a retired one

    @property
    def master_alive(self) -> bool:
        return self.master is not None and self.master.returncode is None

    @property
    def gone(self) -> bool:
        """The master died, and not because pegasus closed it."""
        return not self.master_alive and not self.closing

    def await_master(self, loop: Loop, decide: Decide) -> None:
        """The master tells: if it ends, the sub-host was lost -- decided
        only once that end is handled, so that the sub-host is down before
        the job's fate is known (a retry must not be sent there); if it
        still runs after SETTLE_DELAY, the job's own command exited 255."""
        self.verdicts.append(decide)

        def settle() -> None:
            if decide in self.verdicts and self.master_alive:
                self.verdicts.remove(decide)
                decide(None)
        loop.call_later(SETTLE_DELAY, settle)

    def give_up(self) -> None:
        """Being opened, it is given up: its master is stopped."""
        master = self.master
        if self.state == Connection.CONNECTING and self.master_alive:
            assert master is not None
            self.closing = True
            master.signal(signal.SIGTERM)

    def finish(self) -> None:
        """The end: its master is told to finish -- its remote `read` sees
        end-of-file and the master exits once its last session is over."""
        if not self.master_alive:
            return
        self.closing = True
        master = self.master
        assert master is not None
        if self.state == Connection.CONNECTING:
            master.signal(signal.SIGTERM)
        else:
            master.close_stdin()


class Listener(Protocol):
    """Who hears what happens to the connections (the runner)."""

    def connection_ready(self, connection: Connection, was_down: bool) -> None:
        """`connection` is up and takes jobs; `was_down`: it had failed or
        been lost before."""

    def connection_failed(self, connection: Connection, reason: str, first: bool) -> None:
        """`connection` could not be opened (`reason`); `first`: the first
        failure in a row. It is tried again in the background."""

    def connection_lost(self, connection: Connection, reason: str, jobs_lost: bool) -> None:
        """`connection` was up and is gone (`reason`); `jobs_lost`: its
        running jobs went with it (else each hears of its end from its own
        transport). It is tried again in the background."""


class Connections:
    """Every sub-host's connection, in hosts.yaml order."""

    def __init__(self, loop: Loop, subhosts: Sequence[SubHost], control: ControlDirectory,
                 limit: int, listener: Listener):
        self.loop = loop
        self.limit = limit
        self.listener = listener
        self.control = control
        self.all = [Connection(host) for host in subhosts]
        self.waiting: List[Connection] = []  # to be opened when fewer than `limit` are
        self.opening = 0
        self.retrying = 0       # turned away for now, to be opened again soon
        self._opening_soon = False   # _open_more is due on the loop's next pass
        self.active = True      # False once the run is ending: no more attempts
        self.allocations = Allocations(loop)      # which Slurm allocations are over
        self.losses = Losses(loop, self.all, listener, self.allocations)

    def __getitem__(self, index: int) -> Connection:
        return self.all[index]

    def is_ready(self, index: int) -> bool:
        return self.all[index].state == Connection.READY

    def down_reason(self, index: int) -> Optional[str]:
        """Why sub-host `index` is down (could not connect, or was lost);
        None if it is not down."""
        connection = self.all[index]
        return connection.reason if connection.state == Connection.DOWN else None

    def never_up(self) -> List[SubHost]:
        """The sub-hosts that neither connected nor failed yet (their first
        attempt still under way): worth a word when the run ends first."""
        return [c.host for c in self.all
                if c.state in (None, Connection.CONNECTING) and c.failures == 0
                and not c.renewing]

    @property
    def settling(self) -> bool:
        """Whether some connection is being opened, waits to be, or was
        turned away for now and is about to be opened again: its sub-host
        may yet join, or fail with a reason to report."""
        return bool(self.opening or self.waiting or self.retrying)

    def start(self) -> None:
        """Sub-hosts that need no connection are ready at once; the others
        are opened."""
        for connection in self.all:
            connection.transport.prepare(self.control)
            if connection.transport.needs_connection:
                self.waiting.append(connection)
            else:
                self._ready(connection)
        self._open_more()

    def judge(self, index: int, returncode: Optional[int], said: Sequence[str],
              decide: Decide, child: object = None) -> None:
        """Whether a job's end on sub-host `index` means its host was lost
        or its allocation is over (losses.Losses.judge)."""
        self.losses.judge(self.all[index], returncode, said, decide, child)

    def why_over(self, index: int) -> str:
        """Why the allocation of sub-host `index` is over (judge said ENDED)."""
        return self.losses.why_over(self.all[index])

    def _open_more(self) -> None:
        """Open the next waiting connection, if fewer than `limit` are being
        opened; the one after that on the loop's next pass, and so on:
        starting ssh blocks the loop until it runs (posix_spawn), which on
        a busy machine takes a while, and in between the loop hears the
        masters that are up and gives them their first job."""
        if self.active and self.waiting and self.opening < self.limit:
            self._open(self.waiting.pop(0))
        if (self.active and self.waiting and self.opening < self.limit
                and not self._opening_soon):
            self._opening_soon = True
            self.loop.call_later(0, self._open_next)

    def _open_next(self) -> None:
        self._opening_soon = False
        self._open_more()

    def _open(self, connection: Connection) -> None:
        connection.state = Connection.CONNECTING
        connection.attempts += 1
        connection.stdout = []
        connection.stderr = []
        connection.control_path = self.control.socket(connection.host.index,
                                                      connection.generation)
        connection.generation += 1
        self.opening += 1
        argv = connection.transport.master_argv(connection.control_path)

        def on_stdout(text: str) -> None:
            if connection.state != Connection.CONNECTING:
                return
            if connection.transport.master_ready(text):
                self.opening -= 1
                self._ready(connection)
                self._open_more()
            elif len(connection.stdout) < 50:
                connection.stdout.append(text)

        def on_stderr(text: str) -> None:
            if len(connection.stderr) < 50:
                connection.stderr.append(text)

        try:
            connection.master = self.loop.spawn(argv, on_stdout, on_stderr,
                                                lambda child: self._exited(connection),
                                                filters=(stream_filter(connection, "out"),
                                                         stream_filter(connection, "err")))
        except OSError as exc:
            self.opening -= 1
            self._failed(connection, "cannot run %s: %s" % (argv[0], exc.strerror))

    def _exited(self, connection: Connection) -> None:
        """A master ended: refused for now, failed, lost, closed by us, or
        retired after a job that left processes behind."""
        was = connection.state
        if was == Connection.CONNECTING:
            self.opening -= 1
        # A master killed outright leaves its socket behind; nobody uses it.
        remove_socket(connection.control_path)
        session, connection.session = connection.session, None
        retired, connection.retiring = connection.retiring, False
        try:
            if retired:
                self._renew(connection)
            else:
                self._ended(connection, was)
        finally:
            verdicts, connection.verdicts = connection.verdicts, []
            for decide in verdicts:
                decide(lost_if(connection.gone))
            if session is not None:
                session.over()   # once the host's fate is known

    def _ended(self, connection: Connection, was: Optional[str]) -> None:
        if not self.active or connection.closing:
            connection.state = Connection.CLOSED
            return
        transport = connection.transport
        assert connection.master is not None   # it is the master that ended
        returncode = connection.master.returncode
        reason = transport.failure_reason(connection.stderr, returncode)
        if was == Connection.CONNECTING:
            refused = transport.login_refused(connection.stdout, connection.stderr, returncode)
            if refused is not None:
                self._failed(connection, refused)
            elif not transport.refused_for_now(connection.stderr):
                self._failed(connection, reason)
            elif connection.attempts < CONNECT_ATTEMPTS:
                # The server is busy (MaxStartups): try again a little later.
                delay = 0.2 * 2 ** connection.attempts * (0.5 + random.random())
                self.retrying += 1
                self.loop.call_later(delay, lambda: self._retry(connection))
            else:
                self._failed(connection, "%s (turned away %d times)" % (
                    reason, connection.attempts))
            self._open_more()
        elif was == Connection.READY:
            connection.state = Connection.DOWN
            connection.reason = reason
            self.listener.connection_lost(connection, reason, True)
            self._later(connection)

    def _renew(self, connection: Connection) -> None:
        """The session of `connection`'s master ended after a job that left
        processes behind, and the master with it once they had closed the
        job's output: the job is over, not the host. A new master takes
        over; its session runs no jobs (those of this sub-host may do it
        again), they run as sessions of their own."""
        if not self.active or connection.closing:
            connection.state = Connection.CLOSED
            return
        connection.state = None
        connection.renewing = True
        self._again(connection)

    def run_in_session(self, index: int, command: str, grace: float,
                       on_line: Callable[[str, str], None],
                       on_end: Callable[[SessionJob], None]) -> Optional[SessionJob]:
        """Run `command` in the master's own session of sub-host `index`
        (sessions.start_session): the SessionJob, or None."""
        return start_session(self.all[index], command, grace, on_line, on_end)

    def _retry(self, connection: Connection) -> None:
        self.retrying -= 1
        self._again(connection)

    def _again(self, connection: Connection) -> None:
        if self.active:
            self.waiting.append(connection)
            self._open_more()

    def _later(self, connection: Connection) -> None:
        """A host that is down is tried again in the background, less and
        less often; it rejoins the run when it answers."""
        connection.attempts = 0
        delay = RECONNECT_DELAYS[min(connection.failures, len(RECONNECT_DELAYS) - 1)]
        connection.failures += 1
        self.loop.call_later(delay, lambda: self._again(connection))

    def _ready(self, connection: Connection) -> None:
        was_down = connection.failures > 0
        connection.renewing = False
        connection.state = Connection.READY
        connection.failures = 0
        self.listener.connection_ready(connection, was_down)

    def _failed(self, connection: Connection, reason: str) -> None:
        first = connection.failures == 0
        connection.state = Connection.DOWN
        connection.reason = reason
        self.listener.connection_failed(connection, reason, first)
        self._later(connection)

    def stop_opening(self) -> None:
        """Cancelled: connections being opened are given up."""
        self.active = False
        for connection in self.all:
            connection.give_up()

    def close(self) -> None:
        """The end: each master is told to finish."""
        self.active = False
        for connection in self.all:
            connection.finish()

