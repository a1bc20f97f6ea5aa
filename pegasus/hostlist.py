"""Where a run's sub-hosts come from: hosts.yaml, a host list on the
command line (`-w`, as pdsh and clush users write it), or the nodes of a
Slurm allocation (`--slurm`), less `-x`."""

from __future__ import annotations

import sys
from typing import List

from . import nodeset
from .errors import SpecError, UsageError
from .spec import MAX_SUBHOSTS, SubHost, load_hosts

WHERE = "-w"
SLURM = "--slurm"


def _names(argument: str) -> List[str]:
    text = sys.stdin.read() if argument == "-" else argument
    try:
        return nodeset.expand_list(text, limit=MAX_SUBHOSTS)
    except nodeset.TooMany:
        raise UsageError("-w %s gives more than %d hosts" % (argument, MAX_SUBHOSTS)) from None
    except nodeset.RangeError as exc:
        raise UsageError("-w %s: %s (write ranges as node[01-16] or gpu[1-3,7])" % (
            argument, exc)) from None


def load_subhosts(args, templates) -> list:
    """The sub-hosts the command line asks for."""
    where = getattr(args, "slurm", None)
    if where is not None:
        if args.hosts:
            raise UsageError("-w and --slurm both name the hosts: give one of them")
        subhosts = _allocation(where)
    elif args.hosts:
        names: List[str] = []
        for argument in args.hosts:
            names += [name for name in _names(argument) if name not in names]
        subhosts = [SubHost(index, name, {}, 1, WHERE, 0) for index, name in enumerate(names)]
    else:
        subhosts = load_hosts(args.hosts_file, templates)
    excluded = set()
    for argument in args.exclude:
        excluded.update(_names(argument))
    if excluded:
        subhosts = [host for host in subhosts if host.hostname not in excluded]
        for index, host in enumerate(subhosts):
            host.index = index
    if not subhosts:
        origin = SLURM if where is not None else WHERE if args.hosts else args.hosts_file
        raise SpecError.at(origin, None, "leaves no host to run on",
                           "check the -w and -x lists")
    return subhosts


def _allocation(where: str) -> list:
    """One sub-host per node of the allocation, each run with srun."""
    from . import slurm
    try:
        job_id, nodes, current = slurm.nodes_of(where)
    except slurm.AllocationError as exc:
        hint = "" if exc.hint is None else " (%s)" % exc.hint
        raise UsageError("--slurm: %s%s" % (exc, hint)) from None
    node = slurm.Node(job_id, slurm.SRUN, current)
    return [SubHost(index, name, {}, 1, SLURM, 0, node) for index, name in enumerate(nodes)]
