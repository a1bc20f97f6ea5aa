"""queue.yaml entries -> Job values, and their limits (hosts.py makes the
SubHost values of hosts.yaml the same way).

An entry expands to the cartesian product of its list values. The order is
that of nested loops over the keys in the order they appear in the file, the
first key varying slowest:

    - command: [a, b]        ->  (a, 1) (a, 2) (b, 1) (b, 2)
      x: [1, 2]
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from ..errors import Problem, SpecError
from ..templates.template import Where
from . import yamlfile
from .canonical import dump_entry

if TYPE_CHECKING:
    from .hosts import SubHost

POLICIES = ("first_fit", "buddy")

# Counted before anything is expanded, so that a typo (three lists of a
# thousand) is an error with a line number, not minutes of work and a
# MemoryError. A take writes an entry's other jobs back to queue.yaml.
MAX_ENTRY_JOBS = 100000

def product(values: Mapping[str, yamlfile.Value]) -> Iterator[Dict[str, str]]:
    keys = list(values)
    for combination in itertools.product(*(values[k].items for k in keys)):
        yield dict(zip(keys, combination))


class Job:
    """One command of the queue with scalar parameters, not yet bound to a
    host. `params` keeps every key but `command`, in file order."""

    __slots__ = ("command", "params", "path", "line", "ticket")

    def __init__(self, command: str, params: Optional[Dict[str, str]] = None,
                 path: str = "queue.yaml", line: Optional[int] = 0) -> None:
        self.command = command
        self.params = params or {}
        self.path = path
        self.line = line
        self.ticket: Optional[int] = None  # its number in this runner's journal, once taken

    @property
    def timeout(self) -> Optional[float]:
        text = self.params.get("timeout")
        return None if text is None else float(text)

    @property
    def slots(self) -> int:
        return int(self.params.get("slots", "1"))

    @property
    def retries(self) -> Optional[int]:
        """The entry's own `retries`, or None."""
        text = self.params.get("retries")
        return None if text is None else int(text)

    @property
    def allocation_policy(self) -> str:
        return self.params.get("allocation_policy", "first_fit")

    @property
    def where(self) -> Where:
        return Where(self.path, self.line, "command")

    def pairs(self) -> List[Tuple[str, str]]:
        """(key, value) pairs of the canonical form: command first."""
        return [("command", self.command)] + list(self.params.items())

    def canonical(self, column: int = 0) -> str:
        """This job as one YAML list item, as written back to queue.yaml and
        appended to consumed.yaml."""
        return dump_entry(self.pairs(), column)

    def variables(self, host: SubHost, slots: Optional[str] = None) -> Dict[str, str]:
        """The variables the command renders with on `host`."""
        values = dict(self.params)
        if slots is not None:
            values["slots"] = slots
        values.update(host.variables())
        return values

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and self.pairs() == other.pairs()

    def __hash__(self) -> int:
        return hash(tuple(self.pairs()))

    def __repr__(self) -> str:
        return "Job(%r, %r)" % (self.command, self.params)


# --- hosts ------------------------------------------------------------------

def is_count(text: str) -> bool:
    """Whether `text` is a whole number of at least 1, in ASCII digits
    (`'²'.isdigit()` is true, yet int() refuses it)."""
    return text.isascii() and text.isdigit() and int(text) >= 1


# --- jobs -------------------------------------------------------------------

def _is_seconds(text: str) -> bool:
    try:
        seconds = float(text)
    except ValueError:
        return False
    return seconds > 0 and math.isfinite(seconds)


def _is_whole(text: str) -> bool:
    return text.isascii() and text.isdigit()


# The keys with a meaning of their own whose every value must pass a test:
# (key, test, what it must be, an example).
_VALUE_RULES = (
    ("timeout", _is_seconds, "a number of seconds above 0", "'timeout: 3600' for one hour"),
    ("slots", is_count, "a whole number of at least 1",
     "'slots: 2' for a job that needs two GPUs"),
    ("retries", _is_whole, "a whole number, 0 or more",
     "'retries: 2' to run a failed job up to twice more"),
)


def check_job_keys(entry: yamlfile.Entry, problems: List[Problem]) -> bool:
    """The keys with a meaning of their own have good values, and the entry
    expands to no more than MAX_ENTRY_JOBS jobs (counted, not expanded)."""
    if entry.bare:
        return True  # one command, no other key
    count = job_count(entry)
    if count > MAX_ENTRY_JOBS:
        problems.append(Problem(entry.path, entry.line,
                                "this entry expands to %d jobs, more than the %d one entry "
                                "may hold" % (count, MAX_ENTRY_JOBS),
                                "split it into several entries, or check its lists"))
        return False
    for key, test, must_be, example in _VALUE_RULES:
        value = entry.values.get(key)
        if value is None:
            continue
        bad = [text for text in value.items if not test(text)]
        if bad:
            problems.append(Problem(entry.path, value.line, "'%s' must be %s, not '%s'" % (
                key, must_be, bad[0]), "e.g. " + example))
            return False
    policy = entry.values.get("allocation_policy")
    if policy is not None and (policy.is_list or policy.items[0] not in POLICIES):
        problems.append(Problem(entry.path, policy.line,
                                "'allocation_policy' must be one of %s, not '%s'" % (
                                    " or ".join(POLICIES), ", ".join(policy.items)),
                                "write 'allocation_policy: first_fit', or leave it out"))
        return False
    return True


def expand_entry(entry: yamlfile.Entry) -> List[Job]:
    """One queue.yaml entry -> its jobs, in expansion order."""
    return list(iter_jobs(entry))


def iter_jobs(entry: yamlfile.Entry) -> Iterator[Job]:
    """The jobs of one queue.yaml entry, in expansion order, one at a time."""
    for combination in product(entry.values):
        command = combination.pop("command")
        yield Job(command, combination, entry.path, entry.line)


def expand_queue(entries: Iterable[yamlfile.Entry]) -> List[Job]:
    """Entries of queue.yaml -> every job, checking the special keys."""
    problems: List[Problem] = []
    jobs: List[Job] = []
    for entry in entries:
        if check_job_keys(entry, problems):
            jobs.extend(expand_entry(entry))
    if problems:
        raise SpecError(problems)
    return jobs


def job_count(entry: yamlfile.Entry) -> int:
    if entry.bare:
        return 1
    count = 1
    for value in entry.values.values():
        count *= len(value.items)
    return count


def canonical_command(canonical: str) -> str:
    """The command of a job in its canonical form (as consumed.yaml, the
    journals and the outcome record hold it); the text itself if it is not
    one job."""
    try:
        [job] = expand_queue(yamlfile.entries(yamlfile.compose(canonical, "record"), "record",
                                             "command"))
    except (SpecError, ValueError):
        return canonical
    return job.command


def first_line(command: str, limit: int = 200) -> str:
    """The first line of a command, cut at `limit` characters: how a command
    is named in one line (the report, the journal's notes, `pegasus status`)."""
    line, _, rest = command.partition("\n")
    if rest or len(line) > limit:
        line = line[:limit] + " ..."
    return line
