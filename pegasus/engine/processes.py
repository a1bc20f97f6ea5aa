"""The processes of a run, at its edges: enough file descriptors for them at
the start, and, at the end, the last resort that stops whatever is left.

The descriptor budget: pegasus holds three pipes for every process it
starts (its stdin, stdout and stderr) for as long as it runs -- each ssh
master for the whole run, each job while it runs -- plus a file per running
job with --log-dir, plus what it holds anyway. With hundreds of sub-hosts
that passes the usual limit of 1,024. So at the start the soft limit is
raised as far as needed and allowed (the hard limit); if the masters do not
fit with room for at least one job, the run is refused with the numbers;
if not every job the sub-hosts could run at once fits, fewer jobs run at
once (`Budget.jobs`), with a notice. A shortage met anyway (another
process of the machine, ENFILE) is the job's bad luck, not its failure: it
runs again (runs.py, policy/).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence

from ..errors import PegasusError

PIPES = 3          # descriptors pegasus holds per process it started
SPARE = 48         # for the rest: queue files, lock, journal, a spawn in flight


class TooFewDescriptors(PegasusError):
    """The open-file limit cannot hold the run's masters and one job."""

    exit_status = 2


@dataclass(frozen=True)
class Budget:
    """What the open-file limit allows a run."""

    limit: int                 # the soft limit, as raised
    hard: Optional[int]        # the hard limit (None: unlimited)
    jobs: int                  # jobs at once that fit
    wanted: int                # jobs at once the sub-hosts could run

    @property
    def capped(self) -> bool:
        return self.jobs < self.wanted


def _open_now() -> int:
    """How many descriptors this process has open (those it inherited too)."""
    for directory in ("/proc/self/fd", "/dev/fd"):
        try:
            return max(0, len(os.listdir(directory)) - 1)   # less listdir's own
        except OSError:
            continue
    return 16


def fit_open_files(masters: int, jobs: int, per_job: int = PIPES) -> Budget:
    """Raise the soft open-file limit as far as `masters` connections and
    `jobs` jobs at once (each holding `per_job` descriptors) need and the
    hard limit allows; how many jobs at once fit. TooFewDescriptors if not
    even one does."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY
    reserve = _open_now() + SPARE
    needed = reserve + PIPES * masters + per_job * jobs
    if soft != unlimited and soft < needed:
        target = needed if hard == unlimited else min(needed, hard)
        if target > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    limit = needed if soft == unlimited else soft
    fit = (limit - reserve - PIPES * masters) // per_job
    if fit < 1:
        most = max(0, (limit - reserve - per_job) // PIPES)
        raise TooFewDescriptors(
            "too few file descriptors for this run: its %s need %d descriptors each and "
            "each running job %d more, about %d in all with pegasus's own %d, but pegasus "
            "may open at most %d (ulimit -n%s)\n  hint: raise the limit (ulimit -n in the "
            "shell that starts pegasus, up to the hard limit; the hard limit is the "
            "administrator's: limits.conf, LimitNOFILE), or run on fewer sub-hosts: with "
            "this limit, %d fit, one job at a time" % (
                _count(masters, "ssh master"), PIPES, per_job, needed, reserve, limit,
                "" if hard == unlimited else ", hard limit %d" % hard, most))
    return Budget(limit, None if hard == unlimited else hard, min(fit, jobs), jobs)


def _count(number: int, word: str) -> str:
    return "%d %s%s" % (number, word, "" if number == 1 else "s")


def sweep(children: Sequence) -> None:
    """Last resort, after an error: stop every process this run started
    that is still alive (the loop's `children`), with its descendants, by
    PID."""
    if not children:
        return
    for child in children:
        child.close_stdin()  # a job wrapper then stops its job group itself
    import psutil
    processes = []
    for child in children:
        try:
            process = psutil.Process(child.pid)
            processes += [process] + process.children(recursive=True)
        except psutil.Error:
            continue
    for process in processes:
        try:
            process.terminate()
        except psutil.Error:
            pass
    _gone, alive = psutil.wait_procs(processes, timeout=1.0)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=1.0)
