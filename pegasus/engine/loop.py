"""A single-threaded event loop on `selectors`: child processes and their
pipes, timers, and signals.

Children are spawned with posix_spawn in their own session, so a Ctrl-C at
the terminal reaches pegasus only. Their exits are learnt from SIGCHLD
through `signal.set_wakeup_fd` -- no polling -- and their output is read
without blocking and cut into lines.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import os
import select
import selectors
import shutil
import signal
import stat
import time
from types import FrameType
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from .lines import READ_SIZE, LineSplitter
from .timer import Timer

# A Python-level signal disposition, as signal.signal returns and takes it.
_SignalHandler = Union[Callable[[int, Optional[FrameType]], Any], int, None]
# Signals whose disposition a child gets back to the default: Python ignores
# SIGPIPE, and an ignored signal stays ignored across exec.
_CHILD_DEFAULT_SIGNALS = tuple(
    getattr(signal, name) for name in
    ("SIGPIPE", "SIGXFSZ", "SIGINT", "SIGTERM", "SIGHUP", "SIGCHLD", "SIGWINCH", "SIGUSR1",
     "SIGINFO")
    if hasattr(signal, name))

# Selectors that report an error on a pipe whose reader left, watched or not.
_ERROR_REPORTING = tuple(getattr(selectors, name) for name in ("EpollSelector", "PollSelector")
                         if hasattr(selectors, name))


def _ensure_standard_fds() -> None:
    """Open /dev/null on fds 0-2 if closed, so a new pipe never lands there
    (posix_spawn's dup2 onto the same fd would keep its close-on-exec)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


class Child:
    """A process spawned by the loop: its pid, its stdin pipe (or None), and
    its exit status once known (as in subprocess: -N for signal N)."""

    __slots__ = ("pid", "stdin", "returncode", "_on_exit", "_open_streams", "_exited")

    def __init__(self, pid: int, stdin: Optional[int], on_exit: Callable[[Child], None],
                 streams: int):
        self.pid = pid
        self.stdin = stdin
        self.returncode: Optional[int] = None
        self._on_exit = on_exit
        self._open_streams = streams
        self._exited = False

    @property
    def done(self) -> bool:
        return self._exited and self._open_streams == 0

    def write(self, data: bytes) -> bool:
        """Write to the child's stdin; False if it is closed or full."""
        if self.stdin is None:
            return False
        try:
            os.write(self.stdin, data)
            return True
        except (BrokenPipeError, BlockingIOError):
            return False

    def close_stdin(self) -> None:
        if self.stdin is not None:
            os.close(self.stdin)
            self.stdin = None

    def signal(self, signum: int) -> None:
        """Signal the child itself, by PID, if it has not been reaped."""
        if not self._exited:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass


# What the loop is given to call: a line of output; a child's end; for a
# pipe, None or what sees each piece read first (spawn's `filters`).
Output = Callable[[str], None]
OnExit = Callable[[Child], None]
Filter = Optional[Callable[[bytes], bytes]]


class Loop:
    """The event loop. One per run; nothing here is global."""

    def __init__(self) -> None:
        _ensure_standard_fds()
        self._selector = selectors.DefaultSelector()
        self._timers: List[Tuple[float, int, Timer]] = []
        self._sequence = itertools.count()
        self._soon: List[Callable[[], None]] = []
        self._children: Dict[int, Child] = {}
        self._signal_callbacks: Dict[int, Callable[[int], None]] = {}
        self._saved_handlers: Dict[int, _SignalHandler] = {}
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_read, selectors.EVENT_READ, self._on_wakeup)
        self._previous_wakeup_fd: Optional[int] = None
        self._running = False
        self._programs: Dict[str, str] = {}
        # A plain copy: os.environ would be re-encoded item by item per spawn.
        self.environ = dict(os.environ)

    # --- timers and deferred calls -----------------------------------------

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(time.monotonic() + max(0.0, delay), callback)
        heapq.heappush(self._timers, (timer.when, next(self._sequence), timer))
        return timer

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this iteration's events are handled (handy
        to batch work that several events ask for)."""
        if callback not in self._soon:
            self._soon.append(callback)

    # --- file descriptors ------------------------------------------------

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        self._selector.register(fd, selectors.EVENT_READ, callback)

    def remove_reader(self, fd: int) -> None:
        self._selector.unregister(fd)

    def on_reader_gone(self, fd: int, callback: Callable[[], None]) -> bool:
        """Call `callback()` once, when nobody reads the pipe that `fd` writes
        to any more (pegasus's stdout into a `head` that has exited), so
        that it is known before the next write. Where that cannot be told
        in advance (`fd` is not a pipe; a selector that does not report a
        pipe's error, as kqueue), nothing is watched: the next write finds
        out. Returns whether `fd` is watched."""
        try:
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                return False
        except OSError:
            return False
        if not isinstance(self._selector, _ERROR_REPORTING) or not hasattr(select, "poll"):
            return False

        def ready() -> None:
            # epoll and poll report an error on a pipe whose readers are all
            # gone whatever was asked for; readable data would mean `fd` is
            # not the write end we thought: then stop watching, unharmed.
            self._selector.unregister(fd)
            probe = select.poll()
            probe.register(fd, 0)
            if any(events & (select.POLLERR | select.POLLHUP) for _fd, events in probe.poll(0)):
                callback()
        try:
            self._selector.register(fd, selectors.EVENT_READ, ready)
        except (KeyError, ValueError, OSError):
            return False
        return True

    # --- signals ---------------------------------------------------------

    def on_signal(self, signum: int, callback: Callable[[int], None]) -> None:
        """Call `callback(signum)` from the loop when `signum` arrives."""
        self._signal_callbacks[signum] = callback
        if self._running:
            self._install(signum)

    def _install(self, signum: int) -> None:
        if signum not in self._saved_handlers:
            self._saved_handlers[signum] = signal.signal(signum, _note_signal)

    def _on_wakeup(self) -> None:
        try:
            data = os.read(self._wake_read, 4096)
        except BlockingIOError:
            return
        for signum in set(data):
            if signum == signal.SIGCHLD:
                self._reap()
            callback = self._signal_callbacks.get(signum)
            if callback is not None:
                callback(signum)

    # --- children --------------------------------------------------------

    def spawn(self, argv: List[str], on_stdout: Output, on_stderr: Output, on_exit: OnExit,
              stdin_pipe: bool = True, env: Optional[Mapping[str, str]] = None,
              max_line: int = READ_SIZE, filters: Tuple[Filter, Filter] = (None, None)) -> Child:
        """Start `argv` in a new session with stdout and stderr read line by
        line into `on_stdout(text)` / `on_stderr(text)`; `on_exit(child)` runs
        once the process has exited and both pipes are drained. With
        `stdin_pipe`, the child's stdin is a pipe we hold open (its EOF tells
        the child we are gone); otherwise /dev/null. `filters`: for stdout and
        stderr, None or a function that sees each piece read (b"" at the end
        of the stream) before it is cut into lines, and returns what of it
        is to be (it keeps the rest for itself)."""
        close_after: List[int] = []
        our_in: Optional[int]
        try:
            if stdin_pipe:
                child_in, our_in = os.pipe2(os.O_CLOEXEC)
                os.set_blocking(our_in, False)
            else:
                child_in, our_in = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC), None
            close_after.append(child_in)
            out_read, out_write = os.pipe2(os.O_CLOEXEC)
            close_after.append(out_write)
            err_read, err_write = os.pipe2(os.O_CLOEXEC)
            close_after.append(err_write)
            actions = [(os.POSIX_SPAWN_DUP2, child_in, 0),
                       (os.POSIX_SPAWN_DUP2, out_write, 1),
                       (os.POSIX_SPAWN_DUP2, err_write, 2)]
            pid = os.posix_spawn(self._program(argv[0]), argv,
                                 self.environ if env is None else env,
                                 file_actions=actions, setsid=True,
                                 setsigdef=_CHILD_DEFAULT_SIGNALS)
        except BaseException:
            for fd in close_after:
                os.close(fd)
            raise
        for fd in close_after:
            os.close(fd)
        child = Child(pid, our_in, on_exit, 2)
        self._children[pid] = child
        for fd, emit, take in ((out_read, on_stdout, filters[0]),
                               (err_read, on_stderr, filters[1])):
            os.set_blocking(fd, False)
            splitter = LineSplitter(emit, max_line)
            self.add_reader(fd, self._pipe_reader(fd, splitter, child, take))
        return child

    def _program(self, name: str) -> str:
        """The path of `name`, looked up in PATH once per run."""
        path = self._programs.get(name)
        if path is None:
            path = name if os.sep in name else shutil.which(name)
            if path is None:
                raise FileNotFoundError(errno.ENOENT, "not found in PATH", name)
            self._programs[name] = path
        return path

    def _pipe_reader(self, fd: int, splitter: LineSplitter, child: Child,
                     take: Filter = None) -> Callable[[], None]:
        def read() -> None:
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                data = b""
            if data:
                if take is not None:
                    data = take(data)
                if data:
                    splitter.feed(data)
                return
            if take is not None:
                take(b"")
            self.remove_reader(fd)
            os.close(fd)
            splitter.close()
            child._open_streams -= 1
            self._maybe_done(child)
        return read

    def _reap(self) -> None:
        for pid, child in list(self._children.items()):
            if child._exited:
                continue  # reaped already; its pipes are still being drained
            try:
                waited, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                waited, status = pid, 255 << 8
            if waited == 0:
                continue
            child.returncode = os.waitstatus_to_exitcode(status)
            child._exited = True
            self._maybe_done(child)

    def _maybe_done(self, child: Child) -> None:
        if child.done and self._children.pop(child.pid, None) is not None:
            child.close_stdin()
            child._on_exit(child)

    @property
    def children(self) -> List[Child]:
        return list(self._children.values())

    # --- running ---------------------------------------------------------

    def run(self, until: Callable[[], bool]) -> None:
        """Run until `until()` is true after an iteration."""
        self._running = True
        self._previous_wakeup_fd = signal.set_wakeup_fd(self._wake_write,
                                                        warn_on_full_buffer=False)
        try:
            for signum in set(self._signal_callbacks) | {signal.SIGCHLD}:
                self._install(signum)
            self._reap()  # a child may have exited before SIGCHLD was watched
            while True:
                self._run_soon()
                if until():
                    return
                self._once()
        finally:
            signal.set_wakeup_fd(self._previous_wakeup_fd)
            for signum, handler in self._saved_handlers.items():
                signal.signal(signum, handler)
            self._saved_handlers.clear()
            self._running = False

    def _run_soon(self) -> None:
        while self._soon:
            pending, self._soon = self._soon, []
            for callback in pending:
                callback()

    def _once(self) -> None:
        timeout: Optional[float] = None
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        if self._timers:
            timeout = max(0.0, self._timers[0][0] - time.monotonic())
        for key, _mask in self._selector.select(timeout):
            key.data()
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _when, _seq, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.callback()

    def close(self) -> None:
        self._selector.close()
        os.close(self._wake_read)
        os.close(self._wake_write)


def _note_signal(signum: int, frame: Optional[FrameType]) -> None:
    """Python-level handler: the C handler has already written `signum` to
    the wakeup fd, which the loop reads; nothing else to do here."""
