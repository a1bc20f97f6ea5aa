"""--halt, as GNU parallel users write it: stop after N failures (or
successes), or after P% of the jobs finished so far failed (or succeeded);
`now` stops the running jobs too, `soon` lets them finish. Pure logic.

A percentage counts once at least MIN_FOR_PERCENT jobs have finished, so
that the first failure of a sweep is not "100% failed". A job counts once,
by its last attempt.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

MIN_FOR_PERCENT = 3


class HaltRule(NamedTuple):
    when: str       # "now" or "soon"
    what: str       # "fail" or "success"
    number: int
    percent: bool

    @classmethod
    def parse(cls, value: Optional[tuple]) -> Optional[HaltRule]:
        """From the command line's (when, what, number, percent)."""
        return None if value is None else cls(*value)

    def __str__(self) -> str:
        return "%s,%s=%d%s" % (self.when, self.what, self.number, "%" if self.percent else "")


class HaltCounter:
    """Counts finished jobs and says when a rule is met."""

    def __init__(self, rule: Optional[HaltRule]):
        self.rule = rule
        self.done = 0
        self.failed = 0
        self.met = False

    def count(self, ok: bool) -> bool:
        """One job finished (its last attempt); True the first time the rule
        is met."""
        self.done += 1
        self.failed += not ok
        if self.rule is None or self.met:
            return False
        hits = self.failed if self.rule.what == "fail" else self.done - self.failed
        if self.rule.percent:
            reached = self.done >= MIN_FOR_PERCENT and hits * 100 >= self.rule.number * self.done
        else:
            reached = hits >= self.rule.number
        self.met = reached
        return reached
