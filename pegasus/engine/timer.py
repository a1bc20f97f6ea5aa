"""A timer of the event loop (loop.py `call_later`): cancelled, it never
fires; and an Alarm, one such timer at a time that calls back once."""

from __future__ import annotations

from typing import Any, Callable, Optional


class Timer:
    """`callback` at `when` (time.monotonic()), unless cancelled first."""

    __slots__ = ("when", "callback", "cancelled")

    def __init__(self, when: float, callback: Callable[[], None]):
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Alarm:
    """`callback` once, `delay` seconds after the first `set` since it last
    went off (a second `set` meanwhile changes nothing)."""

    def __init__(self, loop: Any, callback: Callable[[], None]):
        self.loop = loop
        self.callback = callback
        self._timer: Optional[Timer] = None

    @property
    def waiting(self) -> bool:
        """Set, and not gone off yet."""
        return self._timer is not None

    def set(self, delay: float) -> None:
        if self._timer is None:
            self._timer = self.loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self.callback()
