"""What the benchmark prints: the machine header, the table of the queue cases
(compared with the limit, (a)), the table of the fan-out cases (compared with the
fastest peer of each group) and the ratios and targets."""

import os
import platform
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, TextIO

from benchlib.core import REPO, Bench, Row
from benchlib.memory import MEMORY_SAMPLE, fmt_mb
from benchlib.registry import Target


def fmt_seconds(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    return "%.3f" % seconds if seconds >= 0.1 else "%.5f" % seconds


def fmt_per(seconds: float) -> str:
    return "%.2f s" % seconds if seconds >= 1 else fmt_ms(seconds)


def fmt_ms(seconds: Optional[float]) -> str:
    return "-" if seconds is None else "%.2f ms" % (seconds * 1e3)


def print_table(rows: List[Row], out: TextIO) -> None:
    main = [row for row in rows if row.group is None]
    fanout = [row for row in rows if row.group is not None]
    if main:
        print_main_table(main, out)
    if fanout:
        if main:
            out.write("\n")
        print_fanout_table(fanout, out)
    for row in rows:
        if row.note and "\n" in row.note:
            out.write("\n%s:\n%s\n" % (row.label, indent(row.note)))


def print_main_table(rows: List[Row], out: TextIO) -> None:
    by_key = {row.key: row for row in rows}
    limit = by_key.get("a")
    header = ("case", "seconds", "per job", "vs limit (a)", "notes")
    table = []
    for row in rows:
        if row.seconds is None:
            table.append((row.label, "-", "-", "-", row.note.splitlines()[0]))
            continue
        ratio = "-"
        if row.vs_limit and limit is not None and limit.seconds:
            ratio = "%.2fx" % (row.seconds / limit.seconds)
        table.append((row.label, fmt_seconds(row.seconds), fmt_ms(row.per_job), ratio,
                      row.note.splitlines()[0] if row.note else ""))
    write_columns([header] + table, out)


def write_columns(lines: Sequence[Sequence[str]], out: TextIO) -> None:
    """lines[0] is the header; the first column is left-aligned, the last
    (notes) is free, the others right-aligned."""
    last = len(lines[0]) - 1
    widths = [max(len(line[i]) for line in lines) for i in range(last)]
    for line in lines:
        cells = [line[0].ljust(widths[0])] + [line[i].rjust(widths[i]) for i in range(1, last)]
        out.write(" | ".join(cells + [line[last]]).rstrip() + "\n")
        if line is lines[0]:
            out.write("-+-".join("-" * w for w in widths) + "-+-" + "-" * 5 + "\n")


def fastest_peers(rows: List[Row]) -> Dict[str, Row]:
    """group -> the peer row with the fewest seconds."""
    fastest: Dict[str, Row] = {}
    for row in rows:
        if row.peer and row.seconds is not None and row.group is not None:
            best = fastest.get(row.group)
            if best is None or best.seconds is None or row.seconds < best.seconds:
                fastest[row.group] = row
    return fastest


def print_fanout_table(rows: List[Row], out: TextIO) -> None:
    fastest = fastest_peers(rows)
    header = ("broadcast fan-out", "seconds", "per host/cmd", "vs fastest peer",
              "pegasus RSS peak", "its ssh children: RSS sum (PSS)", "notes")
    table = []
    for row in rows:
        note = row.note.splitlines()[0] if row.note else ""
        if row.seconds is None:
            table.append((row.label, "-", "-", "-", "-", "-", note))
            continue
        best = fastest.get(row.group) if row.group is not None else None
        ratio = "%.2fx" % (row.seconds / best.seconds) if best and best.seconds else "-"
        own = children = "-"
        if row.memory is not None:
            own = fmt_mb(row.memory.own)
            children = "%s in %d (%s)" % (fmt_mb(row.memory.children),
                                          row.memory.children_count,
                                          fmt_mb(row.memory.children_pss))
        table.append((row.label, fmt_seconds(row.seconds),
                      "%s/%s" % (fmt_per(row.per_job or 0.0), row.unit), ratio, own, children,
                      note))
    write_columns([header] + table, out)
    out.write("(vs fastest peer: seconds / those of the fastest of pdsh, clush, parallel-ssh "
              "on the same work. Memory: one extra untimed run, sampled every %d ms; RSS "
              "summed counts shared pages once per process, PSS once)\n"
              % (MEMORY_SAMPLE * 1e3))


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def print_targets(found: List[Target], out: TextIO) -> None:
    out.write("\nratios and targets:\n")
    if not found:
        out.write("  (none: a case they need did not run)\n")
    columns = ([label for label, _, _, _ in found], [value for _, value, _, _ in found],
               [target for _, _, target, _ in found])
    widths = [max([len(text) for text in column] + [1]) for column in columns]
    for label, value, target, met in found:
        verdict = "" if met is None else ("met" if met else "MISSED")
        out.write("  %s  %s  target %s  %s\n" % (label.ljust(widths[0]), value.rjust(widths[1]),
                                                 target.ljust(widths[2]), verdict))


def machine_header(bench: Bench, out: TextIO) -> None:
    ssh_version = subprocess.run(["ssh", "-V"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT,
                                 universal_newlines=True, check=False).stdout.strip()
    prefix, _ = bench.pegasus_command()
    out.write("pegasus benchmark, %s\n" % time.strftime("%Y-%m-%d %H:%M:%S"))
    out.write("machine: nproc %d, %s %s, Python %s (%s), %s\n"
              % (os.cpu_count() or 0, platform.system(), platform.release(),
                 platform.python_version(), sys.executable, ssh_version))
    out.write("sshd: private LoopbackSshd on 127.0.0.1:%d, %d aliases, MaxStartups %d, "
              "MaxSessions %d; sshd SetEnv SHLVL=1: remote bash skips ~/.bashrc\n"
              % (bench.sshd.port, len(bench.sshd.aliases) + len(bench.sshd.extra_aliases),
                 bench.sshd.max_startups, bench.sshd.max_sessions))
    out.write("jobs: %d x `true` over %d hosts; timed cases best of %d, interleaved%s\n"
              % (bench.jobs, bench.hosts, bench.args.repeat,
                 " (--quick)" if bench.args.quick else ""))
    out.write("load average (1 min) before %.2f, after %.2f%s\n"
              % (bench.load_before[0], os.getloadavg()[0],
                 "  <- the machine is busy: expect noise" if max(
                     bench.load_before[0], os.getloadavg()[0]) > (os.cpu_count() or 1)
                 else ""))
    out.write("pegasus: %s%s\n\n" % (" ".join(prefix),
                                     "" if len(prefix) == 1 else " (PYTHONPATH=%s)" % REPO))


