"""hosts.yaml and queue.yaml entries -> SubHost and Job values.

An entry expands to the cartesian product of its list values. The order is
that of nested loops over the keys in the order they appear in the file, the
first key varying slowest:

    - command: [a, b]        ->  (a, 1) (a, 2) (b, 1) (b, 2)
      x: [1, 2]
"""

import itertools
import math

from ..errors import Problem, SpecError
from ..templates.template import Where
from . import hostnames, nodeset
from .canonical import dump_entry
from .yamlfile import load_entries

# Keys with a meaning of their own. Everything else is a template variable.
HOST_KEYS = ("hostname", "slots", "slurm", "launcher")
JOB_KEYS = ("command", "timeout", "slots", "allocation_policy", "retries")
POLICIES = ("first_fit", "buddy")

# Counted before anything is expanded, so that a typo (three lists of a
# thousand) is an error with a line number, not minutes of work and a
# MemoryError. A take writes an entry's other jobs back to queue.yaml.
MAX_ENTRY_JOBS = 100000
MAX_SUBHOSTS = 10000

def _product(values):
    keys = list(values)
    for combination in itertools.product(*(values[k].items for k in keys)):
        yield dict(zip(keys, combination))


class SubHost:
    """One combination of a hosts.yaml entry: it runs one job at a time (or
    `slots` of them) over its own connection. Its `transport` (how jobs
    reach it: transports.py) is attached once the hosts are loaded. A node
    of a Slurm allocation carries its `slurm.Node` (job id, launcher)."""

    __slots__ = ("index", "hostname", "params", "slots", "path", "line", "transport", "slurm")

    def __init__(self, index, hostname, params, slots=1, path="hosts.yaml", line=0,
                 slurm=None):
        self.index = index
        self.hostname = hostname
        self.params = params
        self.slots = slots
        self.path = path
        self.line = line
        self.transport = None
        self.slurm = slurm

    @property
    def label(self):
        """`node-1 (gpu=0,user=ann)`: how output and reports name it."""
        if not self.params:
            return self.hostname
        return "%s (%s)" % (self.hostname, ",".join("%s=%s" % kv for kv in self.params.items()))

    def variables(self):
        """Template variables this sub-host contributes (they win over the
        job's)."""
        values = dict(self.params)
        values["hostname"] = self.hostname
        return values

    def __repr__(self):
        return "SubHost(%r)" % self.label


class Job:
    """One command of the queue with scalar parameters, not yet bound to a
    host. `params` keeps every key but `command`, in file order."""

    __slots__ = ("command", "params", "path", "line", "ticket")

    def __init__(self, command, params=None, path="queue.yaml", line=0):
        self.command = command
        self.params = params or {}
        self.path = path
        self.line = line
        self.ticket = None  # its number in this runner's journal, once taken

    @property
    def timeout(self):
        text = self.params.get("timeout")
        return None if text is None else float(text)

    @property
    def slots(self):
        return int(self.params.get("slots", "1"))

    @property
    def retries(self):
        """The entry's own `retries`, or None."""
        text = self.params.get("retries")
        return None if text is None else int(text)

    @property
    def allocation_policy(self):
        return self.params.get("allocation_policy", "first_fit")

    @property
    def where(self):
        return Where(self.path, self.line, "command")

    def pairs(self):
        """(key, value) pairs of the canonical form: command first."""
        return [("command", self.command)] + list(self.params.items())

    def canonical(self, column=0):
        """This job as one YAML list item, as written back to queue.yaml and
        appended to consumed.yaml."""
        return dump_entry(self.pairs(), column)

    def variables(self, host, slots=None):
        """The variables the command renders with on `host`."""
        values = dict(self.params)
        if slots is not None:
            values["slots"] = slots
        values.update(host.variables())
        return values

    def __eq__(self, other):
        return isinstance(other, Job) and self.pairs() == other.pairs()

    def __hash__(self):
        return hash(tuple(self.pairs()))

    def __repr__(self):
        return "Job(%r, %r)" % (self.command, self.params)


# --- hosts ------------------------------------------------------------------

def _is_count(text):
    """Whether `text` is a whole number of at least 1, in ASCII digits
    (`'²'.isdigit()` is true, yet int() refuses it)."""
    return text.isascii() and text.isdigit() and int(text) >= 1


def _host_slots(entry, problems):
    value = entry.values.get("slots")
    if value is None:
        return 1
    text = value.items[0]
    if value.is_list or not _is_count(text):
        problems.append(Problem(entry.path, value.line,
                                "'slots' of a host must be one whole number of at least 1, "
                                "not %s" % ("a list" if value.is_list else "'%s'" % text),
                                "e.g. 'slots: 8' for a node with 8 GPUs"))
        return None
    return int(text)


def expand_hosts(entries, templates):
    """Entries of hosts.yaml -> the list of SubHost, in expansion order."""
    problems: list = []
    subhosts: list = []
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


def _expand_host_entry(entry, slots, templates, subhosts):
    params = {k: v for k, v in entry.values.items() if k != "slots"}
    line = entry.values["hostname"].line
    room = MAX_SUBHOSTS - len(subhosts)
    if job_count(entry) > room:
        raise _too_many_hosts(entry.path, line)
    for combination in _product(params):
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


def _expand_slurm_entry(entry, slots, subhosts):
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
        for combination in _product(params):
            subhosts.append(SubHost(len(subhosts), name, combination, slots, entry.path,
                                    entry.line, node))


def _one_of(entry, key, choices, default):
    value = entry.values.get(key)
    if value is None:
        return default
    if value.is_list or value.items[0] not in choices:
        raise SpecError.at(entry.path, value.line, "'%s' must be %s, not '%s'" % (
            key, " or ".join(choices), ", ".join(value.items)),
            "leave it out for %s" % default)
    return value.items[0]


def _too_many_hosts(path, line):
    return SpecError.at(path, line, "the hosts file expands to more than %d sub-hosts"
                        % MAX_SUBHOSTS,
                        "each sub-host is a connection of its own: check the lists and "
                        "ranges of this entry")


def load_hosts(path, templates):
    subhosts = expand_hosts(load_entries(path, "hosts", "hostname", ("slurm",)), templates)
    if not subhosts:
        raise SpecError.at(path, None, "lists no host",
                           "add at least one entry, e.g. '- localhost'")
    return subhosts


# --- jobs -------------------------------------------------------------------

def _is_seconds(text):
    try:
        seconds = float(text)
    except ValueError:
        return False
    return seconds > 0 and math.isfinite(seconds)


def _is_whole(text):
    return text.isascii() and text.isdigit()


# The keys with a meaning of their own whose every value must pass a test:
# (key, test, what it must be, an example).
_VALUE_RULES = (
    ("timeout", _is_seconds, "a number of seconds above 0", "'timeout: 3600' for one hour"),
    ("slots", _is_count, "a whole number of at least 1",
     "'slots: 2' for a job that needs two GPUs"),
    ("retries", _is_whole, "a whole number, 0 or more",
     "'retries: 2' to run a failed job up to twice more"),
)


def check_job_keys(entry, problems):
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
        bad = [text for text in value.items if not test(text)] if value is not None else []
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


def expand_entry(entry):
    """One queue.yaml entry -> its jobs, in expansion order."""
    return list(iter_jobs(entry))


def iter_jobs(entry):
    """The jobs of one queue.yaml entry, in expansion order, one at a time."""
    for combination in _product(entry.values):
        command = combination.pop("command")
        yield Job(command, combination, entry.path, entry.line)


def expand_queue(entries):
    """Entries of queue.yaml -> every job, checking the special keys."""
    problems: list = []
    jobs: list = []
    for entry in entries:
        if check_job_keys(entry, problems):
            jobs.extend(expand_entry(entry))
    if problems:
        raise SpecError(problems)
    return jobs


def job_count(entry):
    if entry.bare:
        return 1
    count = 1
    for value in entry.values.values():
        count *= len(value.items)
    return count
