"""The control masters of a run: one ssh connection per sub-host, opened a
bounded number at a time, opened again when a server turned it away for
now, watched for loss, tried again in the background while the host is
down, and closed at the end.

It tells its listener what happens:
    connection_ready(connection, was_down)
    connection_failed(connection, reason, first)   could not connect
    connection_lost(connection, reason)            was up, is gone
"""

import random
import signal

from . import ssh

CONNECT_ATTEMPTS = 5       # for a server that turns connections away (MaxStartups)
RECONNECT_DELAYS = (2, 5, 10, 20, 40, 60)  # trying again a host that is down


class Connection:
    """One sub-host's connection: its master process and its state."""

    __slots__ = ("host", "control_path", "master", "state", "reason", "attempts",
                 "stderr", "closing", "failures")

    CONNECTING, READY, DOWN, CLOSED = "connecting", "ready", "down", "closed"

    def __init__(self, host, control_path):
        self.host = host
        self.control_path = control_path
        self.master = None
        self.state = None
        self.reason = None
        self.attempts = 0       # tries of the current connection attempt
        self.stderr = []
        self.closing = False
        self.failures = 0       # connection attempts that failed in a row

    @property
    def master_alive(self):
        return self.master is not None and self.master.returncode is None


class Connections:
    """Every sub-host's connection, in hosts.yaml order."""

    def __init__(self, loop, ssh_settings, subhosts, control, limit, listener):
        self.loop = loop
        self.ssh = ssh_settings
        self.limit = limit
        self.listener = listener
        self.all = [Connection(host, control.socket(host.index)) for host in subhosts]
        self.waiting = []       # to be opened when fewer than `limit` are opening
        self.opening = 0
        self.active = True      # False once the run is ending: no more attempts

    def __getitem__(self, index):
        return self.all[index]

    @property
    def settling(self):
        """Whether some connection is being opened or waits to be."""
        return bool(self.opening or self.waiting)

    def start(self):
        """localhost is ready at once; the others are opened."""
        for connection in self.all:
            if connection.host.is_local:
                self._ready(connection)
            else:
                self.waiting.append(connection)
        self._open_more()

    def _open_more(self):
        while self.active and self.waiting and self.opening < self.limit:
            self._open(self.waiting.pop(0))

    def _open(self, connection):
        connection.state = Connection.CONNECTING
        connection.attempts += 1
        connection.stderr = []
        self.opening += 1
        argv = ssh.master_argv(self.ssh, connection.host.hostname, connection.control_path)

        def on_stdout(text):
            if text == ssh.MASTER_READY and connection.state == Connection.CONNECTING:
                self.opening -= 1
                self._ready(connection)
                self._open_more()

        def on_stderr(text):
            if len(connection.stderr) < 50:
                connection.stderr.append(text)

        try:
            connection.master = self.loop.spawn(argv, on_stdout, on_stderr,
                                                lambda child: self._exited(connection))
        except OSError as exc:
            self.opening -= 1
            self._failed(connection, "cannot run %s: %s" % (argv[0], exc.strerror))

    def _exited(self, connection):
        """A master ended: refused for now, failed, lost, or closed by us."""
        was = connection.state
        if was == Connection.CONNECTING:
            self.opening -= 1
        if not self.active or connection.closing:
            connection.state = Connection.CLOSED
            return
        reason = ssh.failure_reason(connection.stderr, connection.master.returncode)
        if was == Connection.CONNECTING:
            if ssh.looks_refused("\n".join(connection.stderr)) \
                    and connection.attempts < CONNECT_ATTEMPTS:
                # The server is busy (MaxStartups): try again a little later.
                delay = 0.2 * 2 ** connection.attempts * (0.5 + random.random())
                self.loop.call_later(delay, lambda: self._again(connection))
            else:
                self._failed(connection, reason)
            self._open_more()
        elif was == Connection.READY:
            connection.state = Connection.DOWN
            connection.reason = reason
            self.listener.connection_lost(connection, reason)
            self._later(connection)

    def _again(self, connection):
        if self.active:
            self.waiting.append(connection)
            self._open_more()

    def _later(self, connection):
        """A host that is down is tried again in the background, less and
        less often; it rejoins the run when it answers."""
        connection.attempts = 0
        delay = RECONNECT_DELAYS[min(connection.failures, len(RECONNECT_DELAYS) - 1)]
        connection.failures += 1
        self.loop.call_later(delay, lambda: self._again(connection))

    def _ready(self, connection):
        was_down = connection.failures > 0
        connection.state = Connection.READY
        connection.failures = 0
        self.listener.connection_ready(connection, was_down)

    def _failed(self, connection, reason):
        first = connection.failures == 0
        connection.state = Connection.DOWN
        connection.reason = reason
        self.listener.connection_failed(connection, reason, first)
        self._later(connection)

    def stop_opening(self):
        """Cancelled: connections being opened are given up."""
        self.active = False
        for connection in self.all:
            if connection.state == Connection.CONNECTING and connection.master_alive:
                connection.closing = True
                connection.master.signal(signal.SIGTERM)

    def close(self):
        """The end: each master is told to finish -- its remote `read` sees
        end-of-file and the master exits once its last session is over."""
        self.active = False
        for connection in self.all:
            if not connection.master_alive:
                continue
            connection.closing = True
            if connection.state == Connection.CONNECTING:
                connection.master.signal(signal.SIGTERM)
            else:
                connection.master.close_stdin()
