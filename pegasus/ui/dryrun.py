"""--dry-run: each job the queue expands to, and the command each sub-host
would run -- or why it would not run there, as the placement planner (the
same one the run uses) says."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Mapping, Protocol, Sequence

from ..policy.placement import Planner
from ..policy.slots import Misfit
from .words import plural

if TYPE_CHECKING:
    from ..spec.hosts import SubHost
    from ..spec.jobs import Job
    from ..templates.template import Templates


class Jobs(Protocol):
    """The jobs of a queue, as --dry-run goes through them: in order, and
    how many."""

    def __iter__(self) -> Iterator[Job]:
        """Each job, in order."""

    def __len__(self) -> int:
        """How many."""


def _params_text(params: Mapping[str, str]) -> str:
    return " ".join("%s=%s" % kv for kv in params.items())


def _not_here(misfit: Misfit) -> str:
    if misfit.kind == "size":
        return "the job needs %d slots, this sub-host has %d" % (misfit.count, misfit.size)
    return str(misfit)


def _nowhere(misfit: Misfit) -> str:
    if misfit.kind == "size":
        return "no sub-host has %d slots: this job will be reported as failed" % misfit.count
    return ("no sub-host can run it: this job will be reported as failed "
            "(cannot run anywhere: %s)" % misfit)


def dry_run_lines(fans_out: bool, jobs: Jobs, subhosts: Sequence[SubHost],
                  templates: Templates) -> Iterator[str]:
    """The lines `--dry-run` prints: each job, its parameters, and the
    command each sub-host would run; `jobs` iterates over the jobs and has
    a len(); `fans_out` if each job runs on every sub-host (broadcast)."""
    planner = Planner(subhosts)
    for number, job in enumerate(jobs, 1):
        where = job.path if job.line is None else "%s:%d" % (job.path, job.line)
        head = "job %d (%s)" % (number, where)
        if job.params:
            head += "  " + _params_text(job.params)
        yield head
        plan = planner.plan(job)
        slots = ",".join(str(i) for i in plan.first_slots)
        for host in subhosts:
            misfit = plan.misfits[host.index]
            if misfit is not None:
                yield "  [%s] -- not here: %s" % (host.label, _not_here(misfit))
                continue
            command = templates.render(job.command, job.variables(host, slots=slots),
                                       job.where, owner="sub-host %s" % host.label)
            lines = command.rstrip("\n").split("\n")
            yield "  [%s] %s" % (host.label, lines[0])
            for more in lines[1:]:
                yield "  %s %s" % (" " * (len(host.label) + 2), more)
        if plan.nowhere is not None:
            yield "  -- " + _nowhere(plan.nowhere)
    hosts = len(subhosts)
    count = len(jobs)
    if fans_out:
        yield "%s, each on all %s: %d runs in lockstep (nothing consumed)" % (
            plural(count, "job"), plural(hosts, "sub-host"), count * hosts)
    else:
        yield "%s over %s, each job run once (nothing consumed)" % (
            plural(count, "job"), plural(hosts, "sub-host"))
