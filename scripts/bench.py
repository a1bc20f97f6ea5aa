#!/usr/bin/env python3
"""The performance benchmark of pegasus: how close it comes to raw ssh.

Everything runs against a private sshd on 127.0.0.1 (scripts/loopback_sshd.py)
whose ssh_config names the aliases node-1..node-N; nothing leaves the machine.
`--help` lists the cases, (a) to (k), with what each measures.

    scripts/bench.py                 # best of 3, 400 jobs, 8 hosts
    scripts/bench.py --quick         # one run, 100 jobs, no 100,000-entry queue
    scripts/bench.py --only a,b      # just the limit and pegasus
    scripts/bench.py --only f,g,h    # just the broadcast fan-out

The cases live in scripts/benchlib/cases/, each one function registered with
@case(letter, name, label, targets=...) (scripts/benchlib/registry.py); adding one
is writing that function, nothing else. It returns a list of Row (measured at
once), a Timed, or a list of both. A Timed is one function doing one run, which
the driver here calls --repeat times, interleaved round by round with the other
Timed cases (so that a burst of load elsewhere on the machine hits them all
alike), keeping the best. `bench.aliases(n)` adds aliases to the running sshd
(fan-out rows: one command on 64 or 256 aliases), `bench.tool()` finds or
installs a competitor (pdsh, clush, parallel-ssh) or says why it is skipped.

Exit status: 0, or 1 if a case or one of its runs failed (or, with --check, a
target was missed).
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import textwrap
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# scripts/ is not a package: its modules are imported from beside this file.
from benchlib.core import Bench, CaseError, Row, Skip, Timed
from benchlib.registry import Case, Target, all_cases
from benchlib.report import machine_header, print_table, print_targets
from loopback_sshd import LoopbackSshd

CASES = all_cases()


def cases_help(cases: Dict[str, Case]) -> str:
    """The epilog of --help: each case's letter, name and what it measures."""
    width = max(len(name) for name in cases) + 5
    lines = ["cases (--only takes letters or names):"]
    for name, entry in cases.items():
        lines += textwrap.wrap(entry.about, 79, initial_indent=("  %s %s" % (
            entry.letter, name)).ljust(width), subsequent_indent=" " * width)
    return "\n".join(lines)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0], epilog=cases_help(CASES),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, metavar="N",
                        help="runs of (a), (b), (c); the best is reported (default 3, "
                             "1 with --quick)")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="jobs in the queue (default 400, 100 with --quick)")
    parser.add_argument("--hosts", type=int, default=8, metavar="N",
                        help="aliases, masters and slots (default %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="one run, 100 jobs, no 100,000-entry queue")
    parser.add_argument("--only", metavar="CASES",
                        help="comma-separated cases to run, by name or letter: "
                             + ",".join(CASES))
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.jobs is None:
        args.jobs = 100 if args.quick else 400
    if args.repeat < 1 or args.jobs < 1 or args.hosts < 1:
        parser.error("--repeat, --jobs and --hosts must be 1 or more")
    args.cases = list(CASES)
    if args.only:
        letters = {entry.letter: name for name, entry in CASES.items()}
        names = [letters.get(n.strip(), n.strip()) for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in CASES]
        if unknown:
            parser.error("unknown case(s) %s; known: %s"
                         % (", ".join(unknown), ", ".join(CASES)))
        args.cases = [n for n in CASES if n in names]
    return args


def plan(bench: Bench, name: str) -> Tuple[Optional[List[Any]], List[Row]]:
    """Run case `name`'s function: (its Rows and Timeds, None) or, when it was
    skipped or failed at once, (None, the row that says so)."""
    label = CASES[name].label
    try:
        outcome = CASES[name].run(bench)
    except Skip as exc:
        return None, [Row(name, label + " (skipped)", note=str(exc))]
    except CaseError as exc:
        return None, [Row(name, label + " (FAILED)", note=str(exc), failed=True)]
    return (outcome if isinstance(outcome, list) else [outcome]), []


def run_rounds(bench: Bench, timed: List[Tuple[str, Timed]]) -> None:
    """--repeat rounds of every Timed, interleaved; then their probes (untimed)."""
    if timed:
        names = list(dict.fromkeys(name for name, _ in timed))
        bench.progress("%d round(s) of %s (%d timed rows)"
                       % (bench.args.repeat, ", ".join(CASES[n].label for n in names),
                          len(timed)))
    for round_index in range(bench.args.repeat):
        for _name, item in timed:
            item.run(bench, round_index)
    for _name, item in timed:
        item.run_probe(bench)


def collect(items: List[Any]) -> Tuple[List[Row], bool]:
    """The rows of a case's items, the Timed ones now measured; and whether any of
    their runs failed."""
    rows: List[Row] = []
    failed = False
    for item in items:
        if not isinstance(item, Timed):
            rows.append(item)
            continue
        try:
            rows += item.rows()
        except CaseError as exc:
            rows.append(item.failed_row(str(exc)))
        failed = failed or bool(item.failures)
    return rows, failed


def run_cases(bench: Bench) -> Tuple[List[Row], bool]:
    """Every selected case; returns (rows in case order, whether any failed).
    Row-returning cases run first, then the Timed ones, round by round, then
    the probes (untimed extra runs) of the Timed that have one."""
    results: Dict[str, List[Row]] = {}
    plans: Dict[str, List[Any]] = {}
    for name in bench.args.cases:
        items, results[name] = plan(bench, name)
        if items is not None:
            plans[name] = items
    run_rounds(bench, [(name, item) for name, items in plans.items()
                       for item in items if isinstance(item, Timed)])
    failed = False
    for name, items in plans.items():
        results[name], runs_failed = collect(items)
        failed = failed or runs_failed
    rows = [row for name in bench.args.cases for row in results[name]]
    return rows, failed or any(row.failed for row in rows)


def targets(rows: List[Row]) -> List[Target]:
    """The ratios and targets of every case, in case order, that the rows allow."""
    return [target for entry in CASES.values() for target in entry.targets(rows)]


def on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    tmp = tempfile.mkdtemp(prefix="pgbench-", dir="/tmp")   # short: control sockets
    sshd = LoopbackSshd(None, aliases=args.hosts)
    failed = False
    out = sys.stdout
    bench: Optional[Bench] = None
    try:
        sshd.start()
        bench = Bench(args, tmp, sshd)
        rows, failed = run_cases(bench)
        bench.end()
        bench.notes += bench.leftovers()
        machine_header(bench, out)
        print_table(rows, out)
        found = targets(rows)
        print_targets(found, out)
        for note in bench.notes:
            out.write("note: %s\n" % note)
        out.flush()
        if args.check and any(met is False for _, _, _, met in found):
            failed = True
    except KeyboardInterrupt:
        sys.stderr.write("bench: interrupted\n")
        return 130
    finally:
        if bench is not None:
            bench.end()
        sshd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
