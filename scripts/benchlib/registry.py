"""The case registry: a case is one function, registered where it is written.

    @case("i", "srun", "(i) srun vs ssh", targets=srun_targets)
    def case_srun(bench):
        '''One paragraph for --help: what is measured, against what.'''
        return Timed("i", "(i) srun true", lambda: ..., bench.jobs)

A case function takes the Bench and returns a Row, a Timed, or a list of both (see
benchlib.core). targets(rows), if given, returns the ratios and targets that the
rows of every case allow, as Target tuples; it sees all the rows, so a target may
compare this case with others. Any module in benchlib/cases/ is imported by
all_cases(): adding a case is writing its function there, nothing else.
"""

import collections
import importlib
import pkgutil
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from benchlib.core import Bench, Row

# (label, value, target, met): met is None where there is no target to meet.
Target = Tuple[str, str, str, Optional[bool]]
Targets = Callable[[List[Row]], List[Target]]


def no_targets(rows: List[Row]) -> List[Target]:
    return []


class Case(NamedTuple):
    letter: str
    name: str
    label: str                          # for its skipped or failed row
    run: Callable[[Bench], Any]         # a Row, a Timed, or a list of them
    targets: Targets
    about: str                          # the first paragraph of run's docstring


_CASES: Dict[str, Case] = {}


def case(letter: str, name: str, label: str,
         targets: Optional[Targets] = None) -> Callable[[Callable[[Bench], Any]],
                                                         Callable[[Bench], Any]]:
    """Register the decorated function as the case `letter` / `name`."""
    def register(run: Callable[[Bench], Any]) -> Callable[[Bench], Any]:
        for other in _CASES.values():
            if letter == other.letter or name == other.name:
                raise ValueError("case (%s) %s: (%s) %s has that letter or name"
                                 % (letter, name, other.letter, other.name))
        about = " ".join((run.__doc__ or "").strip().split("\n\n")[0].split())
        _CASES[name] = Case(letter, name, label, run, targets or no_targets, about)
        return run
    return register


def all_cases() -> "collections.OrderedDict[str, Case]":
    """name -> Case for every case, in the order of their letters."""
    from benchlib import cases
    for module in pkgutil.iter_modules(cases.__path__):
        importlib.import_module("%s.%s" % (cases.__name__, module.name))
    return collections.OrderedDict(
        (c.name, c) for c in sorted(_CASES.values(), key=lambda c: c.letter))


def measured(rows: List[Row]) -> Tuple[Dict[str, float], Dict[str, float]]:
    """(key -> seconds, key -> per job) of the rows that have them."""
    return ({row.key: row.seconds for row in rows if row.seconds is not None},
            {row.key: row.per_job for row in rows if row.per_job is not None})
