"""connections.judge for ssh sub-hosts, without a process: a fake loop
stands for the event loop, and the test plays the master's life."""

from typing import Any

from pegasus.engine.connections import SETTLE_DELAY, Connections
from pegasus.settings import Settings
from pegasus.spec.hosts import SubHost
from pegasus.transports import transport
from pegasus.transports.ssh import MASTER_READY, ControlDirectory


class Master:
    """What the loop hands back from spawn(): a child with a returncode."""

    def __init__(self, on_stdout, on_exit):
        self.returncode = None
        self.on_stdout = on_stdout
        self.on_exit = on_exit


class Loop:
    def __init__(self):
        self.masters = []
        self.timers = []

    def spawn(self, argv, on_stdout, on_stderr, on_exit, **_options):
        self.masters.append(Master(on_stdout, on_exit))
        return self.masters[-1]

    def call_later(self, delay, callback):
        self.timers.append((delay, callback))

    def fire_timers(self):
        timers, self.timers = self.timers, []
        for _delay, callback in timers:
            callback()


class Listener:
    def __init__(self, log):
        self.log = log

    def connection_ready(self, connection, was_down):
        self.log.append("ready")

    def connection_lost(self, connection, reason, jobs_lost):
        self.log.append("host down")

    def connection_failed(self, connection, reason, first):
        self.log.append("failed")


def connected(log):
    subhosts = [SubHost(0, "far-1", {})]
    transport.attach(subhosts, Settings())
    loop = Loop()
    control = ControlDirectory()
    fake: Any = loop   # a Loop as far as the connections use one
    connections = Connections(fake, subhosts, control, 1, Listener(log))
    connections.start()
    loop.masters[0].on_stdout(MASTER_READY)
    assert connections.is_ready(0)
    return loop, connections, control


def test_a_job_that_exits_255_as_its_master_dies_is_decided_after_the_host_is_down():
    # The master has been reaped but its end not yet handled (its pipes
    # still drain) when the job's 255 is judged: deciding "lost" at once
    # would let a retry go to the sub-host that is still marked ready.
    log: list = []
    loop, connections, control = connected(log)
    try:
        master = loop.masters[0]
        master.returncode = 255
        connections.judge(0, 255, [], lambda lost: log.append("lost" if lost else "own 255"))
        assert log == ["ready"]
        loop.fire_timers()                  # the settle delay passes first
        assert log == ["ready"]
        master.on_exit(master)
        assert log == ["ready", "host down", "lost"]
    finally:
        control.remove()


def test_a_job_that_exits_255_while_its_master_lives_on_exited_255_itself():
    log: list = []
    loop, connections, control = connected(log)
    try:
        connections.judge(0, 255, [], lambda lost: log.append("lost" if lost else "own 255"))
        assert log == ["ready"]
        assert [delay for delay, _callback in loop.timers] == [SETTLE_DELAY]
        loop.fire_timers()
        assert log == ["ready", "own 255"]
        master = loop.masters[0]
        master.returncode = 255              # its end later changes nothing decided
        master.on_exit(master)
        assert log == ["ready", "own 255", "host down"]
    finally:
        control.remove()


def test_a_job_that_exits_255_after_its_host_went_down_was_lost():
    log: list = []
    loop, connections, control = connected(log)
    try:
        master = loop.masters[0]
        master.returncode = 255
        master.on_exit(master)
        connections.judge(0, 255, [], lambda lost: log.append("lost" if lost else "own 255"))
        assert log == ["ready", "host down", "lost"]
    finally:
        control.remove()
