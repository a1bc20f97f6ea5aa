"""Where a run's sub-hosts come from: hosts.yaml, or a host list on the
command line (`-w`, as pdsh and clush users write it), less `-x`."""

from __future__ import annotations

import sys
from typing import List

from . import nodeset
from .errors import SpecError, UsageError
from .spec import MAX_SUBHOSTS, SubHost, load_hosts

WHERE = "-w"


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
    if args.hosts:
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
        raise SpecError.at(WHERE if args.hosts else args.hosts_file, None,
                           "leaves no host to run on", "check the -w and -x lists")
    return subhosts
