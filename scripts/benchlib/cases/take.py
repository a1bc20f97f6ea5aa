"""(e) the cost of one take (lock, find the first entry, cut it out, append it to
consumed.yaml) from a big queue.yaml, in this process."""

import os
import statistics
import sys
import time
from typing import List, Tuple

from benchlib.core import REPO, Bench, CaseError, Row
from benchlib.registry import Target, case, measured

TAKES = 200              # timed takes per queue size
TAKE_SIZES = (10000, 100000)
TARGET_TAKE_MS = 5.0     # median < 5 ms at 10,000 entries


def write_big_queue(path: str, entries: int) -> None:
    """entries jobs: single-line commands, a comment every 100 lines, and a
    few multi-key mapping entries (two of them within the first 200)."""
    mappings = {10, 150, entries // 2, entries - 3}
    with open(path, "w") as f:
        f.write("# benchmark queue: %d entries\n" % entries)
        for i in range(entries):
            if i and i % 100 == 0:
                f.write("# --- entry %d ---\n" % i)
            if i in mappings:
                f.write("- command: python train.py --lr {{ lr }} --seed {{ seed }}\n"
                        "  lr: 0.001\n  seed: '%d'\n  timeout: 3600\n" % i)
            else:
                f.write("- python train.py --model m%d --seed %d > /dev/null\n" % (i % 7, i))


def take_timings(bench: Bench, entries: int, takes: int) -> Tuple[float, float, float, int]:
    """(first take, median, 90th percentile in seconds, file size in bytes)."""
    # Imported here, not at the top: the forked child of (d) must import pegasus itself.
    from pegasus.queuefile import QueueFile
    directory = bench.workdir("take")
    path = os.path.join(directory, "queue.yaml")
    write_big_queue(path, entries)
    size = os.path.getsize(path)
    queue = QueueFile(path)
    start = time.perf_counter()
    with queue.locked():
        first_jobs = queue.take_locked(1)
    first = time.perf_counter() - start
    times = []
    for _ in range(takes):
        start = time.perf_counter()
        with queue.locked():
            jobs = queue.take_locked(1)
        times.append(time.perf_counter() - start)
        if len(jobs) != 1:
            raise CaseError("take_locked(1) returned %d jobs" % len(jobs))
    if len(first_jobs) != 1:
        raise CaseError("the first take_locked(1) returned %d jobs" % len(first_jobs))
    times.sort()
    median = statistics.median(times)
    p90 = times[min(len(times) - 1, round(0.9 * len(times)) - 1)]
    bench.progress("(e) %d entries (%d KB): first %.1f ms, median %.2f ms, p90 %.2f ms"
                   % (entries, size // 1024, first * 1e3, median * 1e3, p90 * 1e3))
    return first, median, p90, size


def take_targets(rows: List[Row]) -> List[Target]:
    seconds, _ = measured(rows)
    found: List[Target] = []
    if "e10000" in seconds:
        ms = seconds["e10000"] * 1e3
        found.append(("(e) median take @10,000", "%.2f ms" % ms, "< %g ms" % TARGET_TAKE_MS,
                      ms < TARGET_TAKE_MS))
    if "e100000" in seconds:
        found.append(("(e) median take @100,000", "%.2f ms" % (seconds["e100000"] * 1e3),
                      "(none)", None))
    return found


@case("e", "take", "(e) take from a big queue", targets=take_targets)
def case_take(bench: Bench) -> List[Row]:
    """taking one job from a 10,000 and a 100,000-entry queue.yaml (--quick: only
    the first)."""
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    rows = []
    sizes = TAKE_SIZES[:1] if bench.args.quick else TAKE_SIZES
    for entries in sizes:
        first, median, p90, size = take_timings(bench, entries, TAKES)
        rows.append(Row("e%d" % entries, "(e) take 1 job, %s entries" % format(entries, ","),
                        median, median, vs_limit=False,
                        note="median of %d; p90 %.2f ms; first take (validates) %.0f ms; "
                             "%d KB" % (TAKES, p90 * 1e3, first * 1e3, size // 1024)))
    return rows
