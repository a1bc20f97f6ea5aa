"""Jobs that a sub-host's master runs in its own session
(transports/wrapper.py's session loop) instead of an ssh process each: the
job handed to the session, and its output read off the master's streams up
to the job's end markers."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Callable, Optional

from ..transports import wrapper
from .lines import LineSplitter

if TYPE_CHECKING:
    from .connections import Connection


def start_session(connection: Connection, command: str, grace: float,
                  on_line: Callable[[str, str], None],
                  on_end: Callable[[SessionJob], None]) -> Optional[SessionJob]:
    """Run `command` in the master's own session of `connection`, if that
    session may run it now: the SessionJob, or None (then the job runs as a
    session of its own). Only on a sub-host that runs one job at a time: a
    job's session must be the only one over its master for the master's end
    to be the end of the job's output."""
    master = connection.master
    if (connection.state != connection.READY or connection.session is not None
            or not connection.session_runs or connection.host.slots != 1
            or master is None or not connection.master_alive):
        return None
    job = connection.transport.session_job(command, grace)
    if job is None:
        return None
    line, marker = job
    session = SessionJob(connection, marker, on_line, on_end)
    if not master.write(line):
        return None
    connection.session = session
    return session


def stream_filter(connection: Connection, stream: str) -> Callable[[bytes], bytes]:
    """What the loop runs on each piece of the master's `stream` ("out" or
    "err"): the piece goes to the job in the master's session, if one is,
    and what is not the job's is returned as the master's own."""
    def filtered(data: bytes) -> bytes:
        session = connection.session
        return data if session is None else session.take(stream, data)
    return filtered


class SessionJob:
    """A job that its sub-host's master runs in its own session
    (wrapper.SESSION_LOOP), where runs.py would otherwise hold an ssh
    process: it is written to, it ends once, with a returncode.

    Its output is what the master's streams carry up to the job's markers.
    It ends when both are in -- or, when it left processes behind that may
    hold its output, when the master exits with them, as a session of its
    own would have ended -- or when the master dies first: then `finished`
    is False (the host was lost). `refused`: the session could not run it
    (no setsid there); it did not run."""

    __slots__ = ("connection", "splitters", "streams", "returncode", "finished", "refused",
                 "done", "_on_end")

    def __init__(self, connection: Connection, marker: bytes,
                 on_line: Callable[[str, str], None], on_end: Callable[["SessionJob"], None]):
        self.connection = connection
        self.splitters = {
            "out": LineSplitter(lambda text: on_line("out", text)),
            "err": LineSplitter(lambda text: self._stderr(on_line, text))}
        self.streams = {name: wrapper.MarkedStream(marker, splitter.feed,
                                                   functools.partial(self._marked, name))
                        for name, splitter in self.splitters.items()}
        self.returncode: Optional[int] = None
        self.finished = False
        self.refused = False
        self.done = False
        self._on_end = on_end

    def _stderr(self, on_line: Callable[[str, str], None], text: str) -> None:
        # The master's own complaints come on the same stream: they also
        # tell why the connection went, if it goes.
        connection = self.connection
        if (len(connection.stderr) < 50
                and connection.transport.own_message(text) is not None):
            connection.stderr.append(text)
        on_line("err", text)

    def write(self, data: bytes) -> bool:
        master = self.connection.master
        if self.done or master is None:
            return False
        return master.write(data)

    def take(self, stream: str, data: bytes) -> bytes:
        """Bytes from the master's `stream` (b"": its end): the job's go
        to its lines; returns what is not the job's."""
        marked = self.streams[stream]
        splitter = self.splitters[stream]
        if not data:
            marked.close()
            splitter.close()
            return b""
        if marked.ended:
            if self.connection.retiring:   # what its processes print later
                splitter.feed(data)
                return b""
            return data
        return marked.feed(data)

    def _marked(self, stream: str) -> None:
        """The marker of `stream` is in: the job's last line there is whole."""
        self.splitters[stream].close()
        if not all(each.ended for each in self.streams.values()):
            return
        said = self.streams["out"].said or []
        connection = self.connection
        if said[:1] == [wrapper.REFUSED]:
            self.refused = True
            connection.session_runs = False
        else:
            try:
                self.returncode = int(said[0])
            except (IndexError, ValueError):
                self.returncode = 255
            self.finished = True
            if said[1:2] == ["1"]:
                # It left processes that may hold its output: the session
                # has ended, and the job ends with the master (_exited).
                connection.retiring = True
                connection.session_runs = False
                return
        connection.session = None
        self.over()

    def over(self) -> None:
        """The job is over: its end is told, once."""
        if self.done:
            return
        self.done = True
        if not self.finished and not self.refused:
            self.returncode = 255   # as ssh says when its connection is gone
        self._on_end(self)
