"""Where a run's sub-hosts come from: hosts.yaml, a host list on the
command line (`-w`, as pdsh and clush users write it), or the nodes of a
Slurm allocation (`--slurm`), less `-x`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, List, Set

from ..errors import SpecError, UsageError
from . import hostnames, nodeset
from .hosts import MAX_SUBHOSTS, SubHost, load_hosts

if TYPE_CHECKING:
    import argparse

    from ..templates.template import Templates

WHERE = "-w"
EXCLUDE = "-x"
SLURM = "--slurm"
RANGE_HINT = "write ranges as node[01-16] or gpu[1-3,7]"


def _names(option: str, argument: str) -> List[str]:
    """The host names of one -w or -x argument: a pdsh/clush host list,
    `-` (stdin), or `^FILE` (pdsh's host file)."""
    if argument.startswith("^"):
        return _from_file(option, argument[1:])
    text = sys.stdin.read() if argument == "-" else argument
    shown = "%s %s" % (option, argument)
    try:
        names = nodeset.expand_list(text, limit=MAX_SUBHOSTS)
    except nodeset.TooMany:
        raise UsageError("%s gives more than %d hosts" % (shown, MAX_SUBHOSTS)) from None
    except nodeset.Unsupported as exc:
        raise UsageError("%s: %s" % (option, exc)) from None
    except nodeset.RangeError as exc:
        raise UsageError("%s: %s (%s)" % (shown, exc, RANGE_HINT)) from None
    for name in names:
        wrong = hostnames.problem(name)
        if wrong is not None:
            raise UsageError("%s: host name %r %s\n  hint: %s" % (
                shown, name, wrong, hostnames.HINT))
    return names


def _from_file(option: str, path: str) -> List[str]:
    """`-w ^FILE`, as pdsh reads it: one host, range or list per line;
    blank lines and what follows a `#` are left out."""
    if not path:
        raise UsageError("%s ^FILE: the file's name is missing after '^'" % option)
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as stream:
            lines = stream.read().splitlines()
    except OSError as exc:
        raise UsageError("%s ^%s: cannot read %s: %s" % (
            option, path, path, exc.strerror or exc)) from None
    names: dict = {}
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0]
        try:
            found = nodeset.expand_list(text, limit=MAX_SUBHOSTS - len(names))
        except nodeset.TooMany:
            raise SpecError.at(path, number, "the hosts of %s ^%s number more than %d" % (
                option, path, MAX_SUBHOSTS)) from None
        except nodeset.Unsupported as exc:
            raise SpecError.at(path, number, str(exc)) from None
        except nodeset.RangeError as exc:
            raise SpecError.at(path, number, str(exc), RANGE_HINT) from None
        for name in found:
            wrong = hostnames.problem(name)
            if wrong is not None:
                raise SpecError.at(path, number, "host name %r %s" % (name, wrong),
                                   hostnames.HINT)
            names[name] = None
    return list(names)


def load_subhosts(args: argparse.Namespace, templates: Templates) -> List[SubHost]:
    """The sub-hosts the command line asks for."""
    where = getattr(args, "slurm", None)
    if where is not None:
        if args.hosts:
            raise UsageError("-w and --slurm both name the hosts: give one of them")
        subhosts = _allocation(where)
    elif args.hosts:
        names: List[str] = []
        for argument in args.hosts:
            names += [name for name in _names(WHERE, argument) if name not in names]
        subhosts = [SubHost(index, name, {}, 1, WHERE, 0) for index, name in enumerate(names)]
    else:
        subhosts = load_hosts(args.hosts_file, templates)
    excluded: Set[str] = set()
    for argument in args.exclude:
        excluded.update(_names(EXCLUDE, argument))
    if excluded:
        subhosts = [host for host in subhosts if host.hostname not in excluded]
        for index, host in enumerate(subhosts):
            host.index = index
    if not subhosts:
        origin = SLURM if where is not None else WHERE if args.hosts else args.hosts_file
        raise SpecError.at(origin, None, "leaves no host to run on",
                           "check the -w and -x lists")
    return subhosts


def _allocation(where: str) -> List[SubHost]:
    """One sub-host per node of the allocation, each run with srun."""
    from . import allocation
    try:
        job_id, nodes, current = allocation.nodes_of(where)
    except allocation.AllocationError as exc:
        hint = "" if exc.hint is None else " (%s)" % exc.hint
        raise UsageError("--slurm: %s%s" % (exc, hint)) from None
    for name in nodes:
        wrong = hostnames.problem(name)
        if wrong is not None:
            raise UsageError("--slurm: node name %r %s" % (name, wrong))
    node = allocation.Node(job_id, allocation.SRUN, current)
    return [SubHost(index, name, {}, 1, SLURM, 0, node) for index, name in enumerate(nodes)]
