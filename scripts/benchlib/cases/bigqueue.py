"""(j) a big queue file: how soon `pegasus q` starts its first job, and its peak
memory until then, with a 100,000-entry queue.yaml (and a 1,000-entry one), and
with one entry that expands to 100,000 jobs. The jobs run on localhost, so the
times are pegasus's own: start-up, reading and checking the whole file (a bad
entry anywhere must still be refused before anything is taken), the first take."""

import functools
import os
import signal
import statistics
import subprocess
import time
from typing import Callable, List, Optional, Tuple

from procs import stop_process

from benchlib.cases.take import write_big_queue
from benchlib.core import RUN_TIMEOUT, STOP_GRACE, Bench, CaseError, Row, spread, tail
from benchlib.registry import Target, case

TARGET_FIRST_JOB = 1.5    # seconds to the first job of a 100,000-entry queue
TARGET_RSS_MB = 60.0      # peak RSS until then
MARKER_POLL = 0.002       # seconds between two looks for the first job's marker
SIZES = (1000, 100000)
EXPANDS_TO = (1000, 100)  # one entry, two lists: 100,000 jobs


def write_expanding_queue(path: str, marker: str) -> None:
    """One entry whose first job touches `marker` and whose lists make 100,000
    jobs."""
    a, b = EXPANDS_TO
    with open(path, "w") as f:
        f.write("- command: touch %s # {{ a }} {{ b }}\n  a: [%s]\n  b: [%s]\n"
                % (marker, ", ".join(map(str, range(a))), ", ".join(map(str, range(b)))))


def write_entries_queue(path: str, marker: str, entries: int = SIZES[-1]) -> None:
    """`entries` entries (the benchmark queue of (e)), the first touching `marker`."""
    write_big_queue(path + ".body", entries - 1)
    with open(path, "w") as f, open(path + ".body") as body:
        f.write("- touch %s\n" % marker)
        f.write(body.read())
    os.unlink(path + ".body")


def cpu_seconds(pid: int) -> float:
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def high_water_mb(pid: int) -> float:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def first_job(bench: Bench, name: str,
              write: Callable[[str, str], None]) -> Tuple[float, float, float]:
    """One run: (seconds to the first job, pegasus's CPU seconds by then, its peak
    RSS in MB by then). pegasus is stopped (SIGTERM) once the job has started."""
    directory = bench.workdir(name)
    queue = os.path.join(directory, "queue.yaml")
    marker = os.path.join(directory, "started")
    write(queue, marker)
    prefix, env = bench.pegasus_command()
    errors = os.path.join(directory, "stderr")
    with open(errors, "wb") as log:
        start = time.monotonic()
        process = subprocess.Popen(prefix + ["q", "-w", "localhost", "-p", "0", "-Q", queue],
                                   env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=log, cwd=directory)
        try:
            while not os.path.exists(marker):
                if process.poll() is not None:
                    raise CaseError("pegasus exited with status %d before its first job:\n%s"
                                    % (process.returncode, tail(errors)))
                if time.monotonic() - start > RUN_TIMEOUT:
                    raise CaseError("no first job within %gs" % RUN_TIMEOUT)
                time.sleep(MARKER_POLL)
            seconds = time.monotonic() - start
            cpu, rss = cpu_seconds(process.pid), high_water_mb(process.pid)
            process.send_signal(signal.SIGTERM)
        finally:
            stop_process(process, STOP_GRACE, own_exit=STOP_GRACE)
    return seconds, cpu, rss


def measure(bench: Bench, key: str, label: str, name: str,
            write: Callable[[str, str], None]) -> Row:
    runs = [first_job(bench, name, write) for _ in range(bench.args.repeat)]
    seconds, cpu, rss = ([run[i] for run in runs] for i in range(3))
    bench.progress("%s: first job %s, CPU %s, peak RSS %s"
                   % (label, spread(seconds), spread(cpu), spread(rss, "MB")))
    return Row(key, label, statistics.median(seconds), vs_limit=False,
               note="median of %d (min-max): wall %s; pegasus CPU %s; peak RSS %s"
                    % (len(runs), spread(seconds), spread(cpu), spread(rss, "MB")),
               values={"cpu": statistics.median(cpu), "rss_mb": statistics.median(rss)})


def bigqueue_targets(rows: List[Row]) -> List[Target]:
    by_key = {row.key: row for row in rows if row.seconds is not None}
    found: List[Target] = []
    big: Optional[Row] = by_key.get("j%d" % SIZES[-1])
    if big is not None and big.seconds is not None:
        found.append(("(j) first job @100,000 entries", "%.2f s" % big.seconds,
                      "<= %g s" % TARGET_FIRST_JOB, big.seconds <= TARGET_FIRST_JOB))
        rss = big.values["rss_mb"]
        found.append(("(j) peak RSS @100,000 entries", "%.1f MB" % rss,
                      "< %g MB" % TARGET_RSS_MB, rss < TARGET_RSS_MB))
        small = by_key.get("j%d" % SIZES[0])
        if small is not None and small.seconds:
            found.append(("(j) first job, 100,000 / 1,000 entries",
                          "%.2fx (CPU %.2fx)" % (big.seconds / small.seconds,
                                                 big.values["cpu"] / small.values["cpu"]),
                          "(none)", None))
    expansion = by_key.get("jx")
    if expansion is not None and expansion.seconds is not None:
        found.append(("(j) first job, 1 entry -> 100,000 jobs", "%.2f s" % expansion.seconds,
                      "(none)", None))
    return found


@case("j", "bigqueue", "(j) first job of a big queue", targets=bigqueue_targets)
def case_bigqueue(bench: Bench) -> List[Row]:
    """`pegasus q -w localhost` on a 1,000 and a 100,000-entry queue.yaml (--quick:
    10,000), and on one entry expanding to 100,000 jobs: time and pegasus's CPU to
    its first job, and its peak RSS by then; medians of --repeat runs."""
    bench.pegasus_bytecode()
    rows = []
    sizes = (SIZES[0], 10000) if bench.args.quick else SIZES
    for entries in sizes:
        rows.append(measure(bench, "j%d" % entries,
                            "(j) first job, %s-entry queue" % format(entries, ","),
                            "big", functools.partial(write_entries_queue, entries=entries)))
    rows.append(measure(bench, "jx", "(j) first job, 1 entry -> 100,000 jobs", "expand",
                        write_expanding_queue))
    return rows
