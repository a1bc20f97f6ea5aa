"""The modes by name: the only module that knows them (`for_mode`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Sequence, Type

from .base import Policy
from .broadcast import BroadcastPolicy
from .queue import QueuePolicy

if TYPE_CHECKING:
    from ..settings import Settings
    from ..spec.hosts import SubHost

POLICIES: Dict[str, Type[Policy]] = {"queue": QueuePolicy, "broadcast": BroadcastPolicy}


def for_mode(mode: str, subhosts: Sequence[SubHost], settings: Settings,
             max_running: Optional[int] = None) -> Policy:
    """The policy of `mode` ("queue" or "broadcast"); at most `max_running`
    jobs at once on all sub-hosts together (None: as many as they take)."""
    return POLICIES[mode](subhosts, settings, max_running)


def fans_out(mode: str) -> bool:
    return POLICIES[mode].fans_out
