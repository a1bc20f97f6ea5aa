"""The processes of a run, at its edges: enough file descriptors for them at
the start, and, at the end, the last resort that stops whatever is left."""

from __future__ import annotations

from typing import Sequence


def raise_open_file_limit(subhosts: int, jobs: int) -> None:
    """Each sub-host's master holds three pipes and so does each job (at
    most `jobs` at once); with hundreds of sub-hosts the usual soft limit of
    1024 descriptors is too low. Raise it as far as needed (and allowed)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 64 + 3 * (subhosts + jobs) + 64
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if target > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


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
