"""Is a queue valid? The one answer, used by runners (on every change of
queue.yaml), `pegasus l` (after an edit, before an append) and `--dry-run`:
the YAML parses, every entry has a good shape, good values for the keys
with a meaning of their own and no more jobs than an entry may hold, and
every template compiles -- and, when the sub-hosts are known, renders on
each of them into a command their transport can carry.

Entries are checked as entries: nothing is expanded but what must be
rendered to be checked, so a huge queue costs its size, not its product.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

from ..errors import Problem, SpecError
from ..templates.template import Templates, Where
from . import yamlfile, yamlstream
from .jobs import Job, check_job_keys, expand_entry, expand_queue, job_count

# The keys pegasus acts on (Pegasus 1.4 read them as plain variables).
MEANINGFUL = {
    "timeout": "the job is stopped after that many seconds",
    "slots": "the job takes that many slots of its sub-host",
    "allocation_policy": "it chooses how slots are allocated",
    "retries": "a failed job runs again that many times",
}


def validate_text(text: str, path: str) -> List[Job]:
    """The checks that need no templates: YAML, entry shapes and special
    keys. Returns every job, in order."""
    return expand_queue(yamlfile.entries(yamlfile.compose(text, path), path, "command"))


class Checked:
    """A valid queue: the number of jobs its entries hold, and the entries
    themselves on demand (`entries()` gives them, again each time: a big
    queue file is read again rather than kept in memory)."""

    def __init__(self, entries: Callable[[], Iterable[yamlfile.Entry]], count: int):
        self.entries = entries
        self.count = count

    def jobs(self) -> Iterator[Job]:
        for entry in self.entries():
            yield from expand_entry(entry)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Job]:
        return self.jobs()


class QueueValidator:
    """Validates queue texts for one run: templates are checked against
    `subhosts`, or, without them (`pegasus l` knows no hosts), for syntax."""

    def __init__(self, templates: Templates, subhosts: Optional[Sequence] = None):
        self.templates = templates
        self.subhosts = subhosts
        self._kinds = _host_kinds(subhosts or ())
        self._transports: Optional[List[Any]] = None   # one of each kind, once known
        self._longest_host: Optional[int] = None        # its longest parameter or name
        self.warnings: List[Problem] = []   # not errors: for whoever shows them, once
        self._warned: set = set()

    def take_warnings(self) -> List[Problem]:
        found, self.warnings = self.warnings, []
        return found

    def __call__(self, text: str, path: str) -> Checked:
        """Check `text`; raise SpecError with every problem. The file is read
        one entry at a time and nothing of it is kept: its size costs time,
        not memory."""
        shapes: List[Problem] = []
        count = self._check(yamlstream.stream_entries(text, path, "command", shapes), shapes)
        return Checked(lambda: yamlstream.stream_entries(text, path, "command", []), count)

    def check_entries(self, entries: Sequence[yamlfile.Entry]) -> Checked:
        kept = list(entries)
        return Checked(lambda: kept, self._check(kept, []))

    def _check(self, entries: Iterable[yamlfile.Entry], shapes: List[Problem]) -> int:
        """Check each entry as it comes; return the number of jobs. The
        problems are raised together at the end, as if in three passes: the
        shapes of the entries (`shapes`, filled as `entries` is read), then
        the keys with a meaning of their own, then the templates."""
        keys: List[Problem] = []
        templates: List[Problem] = []
        meanings: List[Problem] = []
        count = 0
        for entry in entries:
            if not check_job_keys(entry, keys):
                continue
            count += job_count(entry)
            try:
                if self.subhosts is None:
                    self._compile(entry)
                else:
                    self._render(entry)
            except SpecError as exc:
                templates.extend(exc.problems)
                continue
            if not (shapes or keys or templates or entry.bare):
                meanings.extend(self._meanings(entry))
        problems = shapes or keys + templates
        if problems:
            raise SpecError(problems)
        for problem in meanings:
            if (problem.path, problem.line, problem.message) not in self._warned:
                self._warned.add((problem.path, problem.line, problem.message))
                self.warnings.append(problem)
        return count

    def _meanings(self, entry: yamlfile.Entry) -> List[Problem]:
        """A key with a meaning of its own that the command also uses: in
        Pegasus 1.4 it was only a variable; here pegasus acts on it too."""
        keys = MEANINGFUL.keys() & entry.values.keys()
        if not keys:
            return []
        value = entry.values["command"]
        used: set = set()
        for source in value.items:
            used |= self.templates.variables_used(source, Where(entry.path, value.line))
        return [Problem(entry.path, entry.values[key].line,
                        "warning: '%s' is used in the command, and pegasus also acts on it (%s)"
                        % (key, MEANINGFUL[key]),
                        "fine if meant; else give the variable another name")
                for key in sorted(used & keys)]

    def _compile(self, entry: yamlfile.Entry) -> None:
        value = entry.values["command"]
        for source in value.items:
            self.templates.compile(source, Where(entry.path, value.line, "command"))

    def _render(self, entry: yamlfile.Entry) -> None:
        """Whether a render succeeds depends on the template and on which
        variables exist, not on their values: each command renders once per
        kind of sub-host (its set of parameter names). What the command
        becomes must fit its sub-hosts' transports; where no bound shows it
        always will, every job is rendered and measured. A command without
        `{{` is itself on every sub-host: it is only measured."""
        value = entry.values["command"]
        line = value.line
        if not any("{{" in source for source in value.items):
            for source in dict.fromkeys(value.items):
                self._fits(source, entry.path, line)
            return
        first = {key: v.items[0] for key, v in entry.values.items() if key != "command"}
        for source in dict.fromkeys(value.items):
            job = Job(source, dict(first), entry.path, line)
            for host in self._kinds.values():
                command = self.templates.render(source, job.variables(host, slots="0"),
                                                job.where, owner="sub-host %s" % host.label)
                if "{{" not in source:
                    self._fits(command, entry.path, line)
        if self._may_be_long(entry):
            for job in expand_entry(entry):
                for host in self.subhosts or ():
                    self._fits(self.templates.render(job.command, job.variables(host, "0"),
                                                     job.where), entry.path, line)

    def _fits(self, command: str, path: str, line: Optional[int]) -> None:
        if self._transports is None:
            self._transports = _transports(self.subhosts or ())
        for transport in self._transports:
            problem = transport.command_problem(command)
            if problem is not None:
                raise SpecError.at(path, line, problem,
                                   "pass big inputs in a file the command reads, not on its "
                                   "command line")

    def _may_be_long(self, entry: yamlfile.Entry) -> bool:
        """Whether any job of `entry` might render beyond what a command
        line carries: a generous bound on its longest rendering."""
        values = max((len(item) for v in entry.values.values() for item in v.items),
                     default=0)
        if self._longest_host is None:
            self._longest_host = max((len(text) for host in self.subhosts or () for text in
                                      list(host.params.values()) + [host.hostname]), default=0)
        hosts = self._longest_host
        longest = max(len(source) for source in entry.values["command"].items)
        return longest * (1 + max(values, hosts)) > 16 * 1024


def _transports(subhosts: Sequence) -> List[Any]:
    """One transport of each kind among `subhosts`."""
    seen: Dict[type, Any] = {}
    for host in subhosts:
        if host.transport is not None:
            seen.setdefault(type(host.transport), host.transport)
    return list(seen.values())


def _host_kinds(subhosts: Sequence) -> Dict[frozenset, Any]:
    kinds: Dict[frozenset, Any] = {}
    for host in subhosts:
        kinds.setdefault(frozenset(host.params), host)
    return kinds
