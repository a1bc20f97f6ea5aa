"""The event protocol between the engine and what a person sees.

The engine (runner.py and its parts) never prints: it calls the `on_*`
methods of one `Handler`, usually a `Fanout` of several (the printer, the
summary, the joblog...). Every event is a method of `Handler` below with a
documented no-op body; a handler overrides the ones it cares about. A
subclass that defines an `on_*` method `Handler` does not know is refused
when the class is made, so a misspelt handler cannot silently never fire.

What happens to the run as a whole comes as a notice (notices.py): a typed
value, not a sentence; ui/words.py alone turns it into words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, List, Optional

if TYPE_CHECKING:
    from ..spec.hosts import SubHost
    from .notices import Notice
    from .outcome import Launch, Outcome


class Handler:
    """Receives the events of a run. Every method is a no-op here."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unknown = [name for name in vars(cls)
                   if name.startswith("on_") and not hasattr(Handler, name)]
        if unknown:
            raise TypeError("%s defines %s, which no event calls (events: %s)" % (
                cls.__name__, ", ".join(unknown), ", ".join(EVENTS)))

    def on_host_ready(self, host: SubHost, was_down: bool) -> None:
        """`host` is connected and takes jobs; `was_down`: it had been
        unreachable or lost before."""

    def on_host_failed(self, host: SubHost, reason: str) -> None:
        """`host` could not be connected (`reason`: from ssh); it is tried
        again in the background."""

    def on_host_lost(self, host: SubHost, reason: str) -> None:
        """`host` was connected and its connection is gone; its running jobs
        end with reason HOST_LOST."""

    def on_job_started(self, launch: Launch) -> None:
        """A run starts (or, for a run that fails before it can start, is
        about to be reported as finished)."""

    def on_job_line(self, launch: Launch, stream: str, text: str) -> None:
        """One whole line of a run's output; `stream` is "out" or "err"."""

    def on_job_finished(self, outcome: Outcome) -> None:
        """A run ended, however it ended."""

    def on_notice(self, notice: Notice) -> None:
        """Something a person should know about the run as a whole."""

    def on_run_started(self, run: RunInfo) -> None:
        """The run begins: what it is (before any connection)."""

    def on_queue_left(self, count: Optional[int]) -> None:
        """The source holds `count` jobs (expanded) after a visit; None if
        it cannot tell."""

    def on_status_requested(self) -> None:
        """Someone asked what the run is doing (SIGUSR1, SIGINFO)."""

    def on_run_finished(self) -> None:
        """Every job is over and the run ends (also when cancelled)."""


EVENTS = tuple(name for name in vars(Handler) if name.startswith("on_"))


class Fanout(Handler):
    """Passes every event to each handler in turn, in the order given."""

    def __init__(self, handlers: Iterable[Optional[Handler]]):
        self.handlers: List[Handler] = [h for h in handlers if h is not None]

    def insert_first(self, handler: Handler) -> None:
        """`handler` hears every event before the others."""
        self.handlers.insert(0, handler)

    def on_host_ready(self, host: SubHost, was_down: bool) -> None:
        for handler in self.handlers:
            handler.on_host_ready(host, was_down)

    def on_host_failed(self, host: SubHost, reason: str) -> None:
        for handler in self.handlers:
            handler.on_host_failed(host, reason)

    def on_host_lost(self, host: SubHost, reason: str) -> None:
        for handler in self.handlers:
            handler.on_host_lost(host, reason)

    def on_job_started(self, launch: Launch) -> None:
        for handler in self.handlers:
            handler.on_job_started(launch)

    def on_job_line(self, launch: Launch, stream: str, text: str) -> None:
        for handler in self.handlers:
            handler.on_job_line(launch, stream, text)

    def on_job_finished(self, outcome: Outcome) -> None:
        for handler in self.handlers:
            handler.on_job_finished(outcome)

    def on_notice(self, notice: Notice) -> None:
        for handler in self.handlers:
            handler.on_notice(notice)

    def on_run_started(self, run: RunInfo) -> None:
        for handler in self.handlers:
            handler.on_run_started(run)

    def on_queue_left(self, count: Optional[int]) -> None:
        for handler in self.handlers:
            handler.on_queue_left(count)

    def on_status_requested(self) -> None:
        for handler in self.handlers:
            handler.on_status_requested()

    def on_run_finished(self) -> None:
        for handler in self.handlers:
            handler.on_run_finished()


@dataclass(frozen=True)
class RunInfo:
    """What a run is: its mode (by name, for people), whether each job runs
    on every sub-host, how many sub-hosts, daemon mode, where the jobs come
    from, when it started, and how many jobs may run at once (-f; None: as
    many as the sub-hosts take)."""

    mode: str
    fans_out: bool
    subhosts: int
    daemon: bool
    source: str
    started: float
    fanout: Optional[int] = None
