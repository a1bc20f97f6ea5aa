"""(k) pegasus's own start-up: `pegasus --help` and `pegasus q -w localhost --
true` against the bare interpreter they run on (`python3 -c pass`). CPU time is
the measure (user + system, of the process and what it waited for); wall time
is shown beside it, but it follows the load of the machine."""

import os
import statistics
import subprocess
import time
from typing import List, Tuple

from benchlib.core import Bench, CaseError, Row, interpreter_of, spread
from benchlib.registry import Target, case

RUNS = 20          # runs of each command (5 with --quick), interleaved


def timed(argv: List[str], env: dict) -> Tuple[float, float]:
    """(wall seconds, CPU seconds) of one run, which must exit 0; the CPU time
    from the child's own rusage."""
    start = time.monotonic()
    process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    if process.returncode != 0:
        raise CaseError("%s exited with status %d: %s" % (" ".join(argv), process.returncode,
                                                            stderr.decode()[-500:]))
    return wall, usage.ru_utime + usage.ru_stime


def startup_targets(rows: List[Row]) -> List[Target]:
    by_key = {row.key: row for row in rows if row.seconds is not None}
    base = by_key.get("k-python")
    if base is None:
        return []
    found: List[Target] = []
    for key, label in (("k-help", "--help"), ("k-true", "q -w localhost -- true")):
        row = by_key.get(key)
        if row is not None:
            found.append(("(k) %s / python -c pass, CPU" % label, "%.1fx (+%.0f ms)" % (
                row.values["cpu"] / base.values["cpu"],
                (row.values["cpu"] - base.values["cpu"]) * 1e3), "(none)", None))
    return found


@case("k", "startup", "(k) pegasus start-up", targets=startup_targets)
def case_startup(bench: Bench) -> List[Row]:
    """`pegasus --help` and `pegasus q -w localhost -- true` against `python3 -c pass`
    (the same interpreter): CPU and wall time, medians of 20 interleaved runs."""
    bench.pegasus_bytecode()
    prefix, env = bench.pegasus_command()
    python = prefix[0] if len(prefix) > 1 else interpreter_of(prefix[0])
    commands = [("k-python", "(k) python3 -c pass", [python, "-c", "pass"]),
                ("k-help", "(k) pegasus --help", prefix + ["--help"]),
                ("k-true", "(k) pegasus q -w localhost -- true",
                 prefix + ["q", "-w", "localhost", "-p", "0", "--", "true"])]
    runs = 5 if bench.args.quick else RUNS
    results: dict = {key: [] for key, _, _ in commands}
    for _ in range(runs):
        for key, _, argv in commands:
            results[key].append(timed(argv, env))
    rows = []
    for key, label, _ in commands:
        wall = [w for w, _ in results[key]]
        cpu = [c for _, c in results[key]]
        bench.progress("%s: CPU %s, wall %s" % (label, spread(cpu, "ms", 1e3),
                                                   spread(wall, "ms", 1e3)))
        rows.append(Row(key, label, statistics.median(wall), vs_limit=False,
                        note="median of %d (min-max): CPU %s; wall %s"
                             % (runs, spread(cpu, "ms", 1e3), spread(wall, "ms", 1e3)),
                        values={"cpu": statistics.median(cpu)}))
    return rows
