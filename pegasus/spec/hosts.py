"""hosts.yaml entries -> SubHost values: one per combination of an entry's
list values (see jobs.py for the order), a host range expanded
(nodeset.py), a Slurm allocation one sub-host per node (allocation.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

from ..errors import Problem, SpecError
from ..templates.template import Where
from . import hostnames, nodeset
from .jobs import is_count, job_count, product
from .yamlfile import Entry, load_entries

if TYPE_CHECKING:
    from ..templates.template import Templates
    from .allocation import Node

# Keys with a meaning of their own. Everything else is a template variable.
HOST_KEYS = ("hostname", "slots", "slurm", "launcher")

# Counted before anything is expanded, as jobs.py's MAX_ENTRY_JOBS.
MAX_SUBHOSTS = 10000


class SubHost:
    """One combination of a hosts.yaml entry: it runs one job at a time (or
    `slots` of them) over its own connection. Its `transport` (how jobs
    reach it: transports/transport.py) is attached once the hosts are loaded. A node
    of a Slurm allocation carries its `allocation.Node` (job id, launcher)."""

    __slots__ = ("index", "hostname", "params", "slots", "path", "line", "transport", "slurm")

    def __init__(self, index: int, hostname: str, params: Dict[str, str], slots: int = 1,
                 path: str = "hosts.yaml", line: Optional[int] = 0,
                 slurm: Optional[Node] = None) -> None:
        self.index = index
        self.hostname = hostname
        self.params = params
        self.slots = slots
        self.path = path
        self.line = line
        self.transport: Any = None  # a transports.Transport, a layer above this one
        self.slurm = slurm

    @property
    def label(self) -> str:
        """`node-1 (gpu=0,user=ann)`: how output and reports name it."""
        if not self.params:
            return self.hostname
        return "%s (%s)" % (self.hostname, ",".join("%s=%s" % kv for kv in self.params.items()))

    def variables(self) -> Dict[str, str]:
        """Template variables this sub-host contributes (they win over the
        job's)."""
        values = dict(self.params)
        values["hostname"] = self.hostname
        return values

    def __repr__(self) -> str:
        return "SubHost(%r)" % self.label


def _host_slots(entry: Entry, problems: List[Problem]) -> Optional[int]:
    value = entry.values.get("slots")
    if value is None:
        return 1
    text = value.items[0]
    if value.is_list or not is_count(text):
        problems.append(Problem(entry.path, value.line,
                                "'slots' of a host must be one whole number of at least 1, "
                                "not %s" % ("a list" if value.is_list else "'%s'" % text),
                                "e.g. 'slots: 8' for a node with 8 GPUs"))
        return None
    return int(text)


def expand_hosts(entries: Sequence[Entry], templates: Templates) -> List[SubHost]:
    """Entries of hosts.yaml -> the list of SubHost, in expansion order."""
    problems: List[Problem] = []
    subhosts: List[SubHost] = []
    for entry in entries:
        slots = _host_slots(entry, problems)
        if slots is None:
            continue
        try:
            if "slurm" in entry.values:
                _expand_slurm_entry(entry, slots, subhosts)
            else:
                _expand_host_entry(entry, slots, templates, subhosts)
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    return subhosts


def _expand_host_entry(entry: Entry, slots: int, templates: Templates,
                       subhosts: List[SubHost]) -> None:
    params = {k: v for k, v in entry.values.items() if k != "slots"}
    line = entry.values["hostname"].line
    room = MAX_SUBHOSTS - len(subhosts)
    if job_count(entry) > room:
        raise _too_many_hosts(entry.path, line)
    for combination in product(params):
        template = combination.pop("hostname")
        rendered = templates.render(template, dict(combination),
                                    Where(entry.path, line, "hostname"))
        try:
            names = nodeset.expand(rendered, limit=MAX_SUBHOSTS - len(subhosts))
        except nodeset.TooMany:
            raise _too_many_hosts(entry.path, line) from None
        except nodeset.RangeError as exc:
            raise SpecError.at(entry.path, line, "hostname '%s': %s" % (rendered, exc),
                               "host ranges are written like node[01-16], "
                               "gpu[1-3,7] or rack[1-2]-node[1-4]") from None
        for name in names:
            wrong = hostnames.problem(name)
            if wrong is not None:
                rendered_from = "" if template == name else " (from %r)" % template
                raise SpecError.at(entry.path, line, "hostname %r%s %s" % (
                    name, rendered_from, wrong), hostnames.HINT)
            subhosts.append(SubHost(len(subhosts), name, dict(combination),
                                    slots, entry.path, entry.line))


def _expand_slurm_entry(entry: Entry, slots: int, subhosts: List[SubHost]) -> None:
    """`- slurm: current` (or a job id): one sub-host per node of the
    allocation (the nodes varying slowest), times the entry's parameters."""
    from . import allocation
    value = entry.values["slurm"]
    launcher = _one_of(entry, "launcher", allocation.LAUNCHERS, allocation.SRUN)
    if value.is_list:
        raise SpecError.at(entry.path, value.line, "'slurm' holds a list",
                           "one entry per allocation: '- slurm: current'")
    try:
        job_id, nodes, current = allocation.nodes_of(value.items[0], launcher=launcher)
    except allocation.AllocationError as exc:
        raise SpecError.at(entry.path, value.line, "slurm: %s" % exc, exc.hint) from None
    for name in nodes:
        wrong = hostnames.problem(name)
        if wrong is not None:
            raise SpecError.at(entry.path, value.line, "slurm: node name %r %s" % (
                name, wrong), hostnames.HINT)
    params = {k: v for k, v in entry.values.items() if k not in HOST_KEYS}
    node = allocation.Node(job_id, launcher, current, gpus="slots" in entry.values)
    if len(nodes) * job_count(entry) > MAX_SUBHOSTS - len(subhosts):
        raise _too_many_hosts(entry.path, value.line)
    for name in nodes:
        for combination in product(params):
            subhosts.append(SubHost(len(subhosts), name, combination, slots, entry.path,
                                    entry.line, node))


def _one_of(entry: Entry, key: str, choices: Sequence[str], default: str) -> str:
    value = entry.values.get(key)
    if value is None:
        return default
    if value.is_list or value.items[0] not in choices:
        raise SpecError.at(entry.path, value.line, "'%s' must be %s, not '%s'" % (
            key, " or ".join(choices), ", ".join(value.items)),
            "leave it out for %s" % default)
    return value.items[0]


def _too_many_hosts(path: str, line: Optional[int]) -> SpecError:
    return SpecError.at(path, line, "the hosts file expands to more than %d sub-hosts"
                        % MAX_SUBHOSTS,
                        "each sub-host is a connection of its own: check the lists and "
                        "ranges of this entry")


def load_hosts(path: str, templates: Templates) -> List[SubHost]:
    subhosts = expand_hosts(load_entries(path, "hosts", "hostname", ("slurm",)), templates)
    if not subhosts:
        raise SpecError.at(path, None, "lists no host",
                           "add at least one entry, e.g. '- localhost'")
    return subhosts
