"""(q) a daemon that runs for weeks stays bounded: `pegasus q -d` fed 100,000
distinct `true N` jobs by an appender, its files beside the queue and its
memory at the start and at the end."""

import os
import subprocess
import time
from typing import Dict, List, Optional

from procs import stop_process

from benchlib.core import Bench, CaseError, Row, tail
from benchlib.registry import case

JOBS = 100000
QUICK_JOBS = 10000
SUBHOSTS = 8            # localhost sub-hosts: what is measured is pegasus, not sshd
BATCH = 1000            # entries the feeder appends at a time ...
LOW = 500               # ... whenever queue.yaml holds fewer than this
EARLY = 2000            # jobs done when the start is measured
WAIT = 3600.0           # seconds: a safety net


def _sizes(directory: str) -> Dict[str, int]:
    """Bytes of each file beside the queue (the state directory's apart)."""
    state = os.path.join(directory, ".queue.yaml.pegasus")
    found = {"consumed.yaml": _size(os.path.join(directory, "consumed.yaml")),
             "queue.yaml": _size(os.path.join(directory, "queue.yaml"))}
    total = 0
    for root, _dirs, files in os.walk(state):
        for name in files:
            size = _size(os.path.join(root, name))
            total += size
            if name.endswith(".journal"):
                found["journal"] = size
            elif name.startswith("outcomes"):
                found[name] = size
    found["state dir"] = total
    return found


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _rss(pid: int) -> int:
    import psutil
    return psutil.Process(pid).memory_info().rss


def _entries(path: str) -> int:
    """Entries in queue.yaml or consumed.yaml (one line each here)."""
    try:
        with open(path, "rb") as stream:
            return stream.read().count(b"- ")
    except FileNotFoundError:
        return 0


def _report(at: str, sizes: Dict[str, int], rss: int) -> str:
    return "%s: RSS %.1f MB, %s" % (at, rss / 1e6, ", ".join(
        "%s %s" % (name, _kb(size)) for name, size in sorted(sizes.items())))


def _kb(size: int) -> str:
    return "%.1f MB" % (size / 1e6) if size >= 1e6 else "%d KB" % (size // 1000)


def feed_and_watch(bench: Bench, directory: str, jobs: int, pid: int,
                   process: "subprocess.Popen") -> List[str]:
    """Append `jobs` entries in batches as the daemon takes them; measure
    at EARLY jobs done and at the end. Returns the notes."""
    queue = os.path.join(directory, "queue.yaml")
    consumed = os.path.join(directory, "consumed.yaml")
    fed = 0
    notes: List[str] = []
    largest_journal = 0
    deadline = time.monotonic() + WAIT
    done = 0
    while done < jobs:
        if process.poll() is not None or time.monotonic() > deadline:
            raise CaseError("the daemon ended or stalled after %d jobs" % done)
        if fed < jobs and (fed == 0 or _entries(queue) < LOW):
            batch = min(BATCH, jobs - fed)
            with open(queue, "a") as stream:
                stream.write("".join("- true %d\n" % (fed + k) for k in range(batch)))
            fed += batch
        done = _entries(consumed)
        if not notes and done >= EARLY:
            notes.append(_report("after %d jobs" % EARLY, _sizes(directory), _rss(pid)))
            bench.progress("(q) " + notes[-1])
        largest_journal = max(largest_journal, _sizes(directory).get("journal", 0))
        time.sleep(0.2)
    time.sleep(1.0)  # the last outcomes are recorded
    notes.append(_report("after %d jobs" % jobs, _sizes(directory), _rss(pid)))
    notes.append("largest journal seen: %s" % _kb(largest_journal))
    bench.progress("(q) " + "; ".join(notes[1:]))
    return notes


@case("q", "daemon", "(q) a daemon's files and memory")
def case_daemon(bench: Bench) -> List[Row]:
    """`pegasus q -d` over 8 localhost sub-hosts, fed 100,000 distinct `true N` jobs
    (--quick: 10,000) by an appender in batches of 1,000: its journal, outcome record,
    consumed.yaml and state directory, and its RSS, after 2,000 jobs and at the
    end."""
    jobs = QUICK_JOBS if bench.args.quick else JOBS
    directory = bench.workdir("daemon")
    with open(os.path.join(directory, "hosts.yaml"), "w") as stream:
        stream.write("- hostname: localhost\n  k: [%s]\n"
                     % ", ".join(str(k) for k in range(SUBHOSTS)))
    open(os.path.join(directory, "queue.yaml"), "w").close()
    prefix, env = bench.pegasus_command()
    errors = os.path.join(directory, "stderr")
    start = time.monotonic()
    with open(errors, "wb") as log:
        process = subprocess.Popen(prefix + ["q", "-d", "-p", "0"], env=env, cwd=directory,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=log)
    notes: Optional[List[str]] = None
    try:
        notes = feed_and_watch(bench, directory, jobs, process.pid, process)
    finally:
        stop_process(process, 10.0)
    seconds = time.monotonic() - start
    if notes is None:
        raise CaseError(tail(errors))
    return [Row("q", "(q) pegasus q -d, %s jobs fed while it runs" % format(jobs, ","),
                seconds, seconds / jobs, vs_limit=False, note="; ".join(notes))]
