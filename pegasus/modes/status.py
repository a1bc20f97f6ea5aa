"""`pegasus status`: what every runner of a queue is doing, read from what
the runners keep beside the queue -- their journals (queuefile/journal.py),
the outcome record (queuefile/outcomes.py) and queue.yaml itself. No runner
is asked anything, so it works from another terminal, or another login
node sharing the directory; it takes no lock and writes nothing.

A journal whose fcntl lock is held belongs to a live runner; one whose lock
is free, to a runner that died, whose unfinished jobs the next runner puts
back ("recoverable").
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import struct
import sys
import time
from argparse import Namespace
from typing import Any, Dict, List, Optional, Tuple

from ..errors import PegasusError, SpecError
from ..queuefile import QueueFile
from ..queuefile.journal import SUFFIX, read_records, unfinished
from ..queuefile.outcomerecord import FAILED, KINDS, OK, OutcomeRecord
from ..queuefile.statedir import StateDir
from ..spec import yamlfile
from ..spec.jobs import canonical_command, job_count
from ..ui.terminal import display_width, write_all
from ..ui.words import first_line, mean_time, plural, seconds

RECENT_FAILURES = 5


def _locked_by_someone(fd: int) -> bool:
    """Whether another process holds an fcntl lock on `fd`'s file, asked
    without taking one (F_GETLK), else with a shared lock tried and let go."""
    try:
        query = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0) + b"\0" * 4
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
        return struct.unpack("hhqqi", answer[:struct.calcsize("hhqqi")])[0] != fcntl.F_UNLCK
    except (OSError, struct.error, AttributeError):
        pass
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EACCES, errno.EAGAIN)
    fcntl.lockf(fd, fcntl.LOCK_UN)
    return False


def _runner(path: str, records: List[dict], now: float) -> Dict[str, Any]:
    header: Dict[str, Any] = {}
    running: Dict[int, dict] = {}
    connected = None
    for record in records:
        if "runner" in record:
            header = record["runner"]
        elif "up" in record:
            connected = record["up"]
        elif "s" in record:
            running[record["s"]] = {"seq": record["s"], "host": record.get("host"),
                                    "command": record.get("cmd", ""),
                                    "started": record.get("at"),
                                    "attempt": record.get("attempt", 1)}
        elif "e" in record:
            running.pop(record["e"], None)
    for job in running.values():
        job["elapsed"] = round(now - job["started"], 1) if job["started"] else None
    return {"journal": os.path.basename(path)[:-len(SUFFIX)], "pid": header.get("pid"),
            "machine": header.get("machine"), "mode": header.get("mode"),
            "since": header.get("since"), "daemon": header.get("daemon"),
            "subhosts": header.get("subhosts"), "connected": connected,
            "running": sorted(running.values(), key=lambda job: job["seq"])}


def _journals(state: StateDir, now: float) -> Tuple[List[dict], List[dict]]:
    runners: List[dict] = []
    recoverable: List[dict] = []
    top = state.find()   # judged as every reader does (statedir.py)
    if top is None:
        return runners, recoverable
    for name in sorted(top.names()):
        if not name.endswith(SUFFIX):
            continue
        path = top.file(name)
        try:
            fd = top.open(name, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            records = read_records(fd)
            alive = _locked_by_someone(fd)
        finally:
            os.close(fd)
        if alive:
            runners.append(_runner(path, records, now))
        else:
            owner = name[:-len(SUFFIX)]
            recoverable += [{"runner": owner, "command": first_line(canonical_command(job)),
                             "job": job} for job in unfinished(records)]
    return runners, recoverable


def _queued(path: str) -> tuple:
    """(jobs left, problem): counted, not expanded. A last entry still being
    written (queuefile/settle.py) is not a problem, nor counted yet."""
    text = yamlfile.read_text(path, "queue")  # a missing file is an error: exit 2
    try:
        return _count(text, path), None
    except SpecError as exc:
        problem = exc
    try:
        queue = QueueFile(path)
        settled = queue.read_settled()
        if queue.unsettled is not None:
            return _count(settled, path), None
    except (PegasusError, OSError):
        pass
    return None, str(problem.first)


def _count(text: str, path: str) -> int:
    entries = yamlfile.entries(yamlfile.compose(text, path), path, "command")
    return sum(job_count(entry) for entry in entries)


def collect(queue_path: str, now: Optional[float] = None) -> Dict[str, Any]:
    """Everything `pegasus status` shows, as one dict (the --json object)."""
    now = time.time() if now is None else now
    target = os.path.realpath(queue_path)
    queued, problem = _queued(queue_path)
    state = StateDir(target)
    runners, recoverable = _journals(state, now)
    records = OutcomeRecord(state).read()
    finished = {kind: 0 for kind in KINDS}
    for record in records:
        if not record.get("retried"):
            kind = record.get("kind", FAILED)
            finished[kind] = finished.get(kind, 0) + 1
    failures = [_failure(r) for r in records if r.get("kind") not in (OK, "cancelled")]
    return {"queue": queue_path, "queued": queued, "queue_error": problem,
            "runners": runners, "recoverable": recoverable, "finished": finished,
            "recent_failures": failures[-RECENT_FAILURES:],
            "per_subhost": per_subhost(runners, records), "at": round(now, 3)}


def per_subhost(runners: List[dict], records: List[dict]) -> List[dict]:
    """What each sub-host did for the live runners (none live: for the last
    runner of the record): `{host, running: [seq], done, failed, mean}`.
    Every attempt counts, as in the report at the end of a run."""
    owners = {runner["journal"] for runner in runners}
    if not owners and records:
        owners = {records[-1].get("runner")}
    rows: Dict[str, Dict[str, Any]] = {}

    def row(host: str) -> Dict[str, Any]:
        return rows.setdefault(host, {"host": host, "running": [], "done": 0, "failed": 0,
                                      "time": 0.0, "timed": 0})
    for record in records:
        if record.get("runner") in owners and record.get("host") is not None:
            _count_run(row(record["host"]), record)
    for runner in runners:
        for job in runner["running"]:
            if job.get("host") is not None:
                row(job["host"])["running"].append(job["seq"])
    for entry in rows.values():
        timed = entry.pop("timed")
        entry["mean"] = round(entry.pop("time") / timed, 3) if timed else None
    return [rows[host] for host in sorted(rows, key=_natural)]


def _count_run(entry: Dict[str, Any], record: Dict[str, Any]) -> None:
    """One run of the outcome record in its sub-host's row: done or
    failed (a cancel is neither), and its time."""
    kind = record.get("kind")
    if kind == OK:
        entry["done"] += 1
    elif kind != "cancelled":
        entry["failed"] += 1
    if kind != "cancelled" and record.get("start") and record.get("end"):
        entry["time"] += record["end"] - record["start"]
        entry["timed"] += 1


def _natural(text: str) -> list:
    """node-2 before node-10."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", text)]


def _failure(record: dict) -> dict:
    return {"seq": record.get("seq"), "host": record.get("host"), "kind": record.get("kind"),
            "exit": record.get("exit"), "reason": record.get("reason"),
            "detail": record.get("detail"), "ended": record.get("end"),
            "attempt": record.get("attempt"), "retried": bool(record.get("retried")),
            "command": first_line(canonical_command(record["job"]))}


# --- words --------------------------------------------------------------------------

def _clock(stamp: Optional[float], now: float) -> str:
    if not stamp:
        return "?"
    return "%s (%s ago)" % (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)),
                            seconds(max(0.0, now - stamp)))


def lines(status: Dict[str, Any]) -> List[str]:
    """The status as a person reads it."""
    now = status["at"]
    out = []
    if status["queued"] is None:
        out.append("%s: invalid, nothing is taken from it: %s" % (
            status["queue"], status["queue_error"]))
    else:
        out.append("%s: %s left" % (status["queue"], plural(status["queued"], "job")))
    for runner in status["runners"]:
        out.append("runner %s: pid %s on %s, %s mode%s, since %s, %s of %s sub-hosts connected"
                   % (runner["journal"], runner["pid"], runner["machine"], runner["mode"],
                      " (daemon)" if runner["daemon"] else "", _clock(runner["since"], now),
                      runner["connected"] if runner["connected"] is not None else "?",
                      runner["subhosts"] if runner["subhosts"] is not None else "?"))
        for job in runner["running"]:
            out.append("  #%-5s %-24s %9s  %s" % (job["seq"], job["host"],
                                                 seconds(job["elapsed"] or 0), job["command"]))
    if status["recoverable"]:
        out.append("%s taken by runners that died (the next runner puts them back):"
                   % plural(len(status["recoverable"]), "job"))
        out.extend("  %s: %s" % (job["runner"], job["command"])
                   for job in status["recoverable"])
    finished = status["finished"]
    out.append("finished: " + ", ".join("%d %s" % (finished[kind], kind) for kind in KINDS))
    if status["recent_failures"]:
        out.append("last failures:")
        for job in status["recent_failures"]:
            how = job["reason"] or "exit %s" % job["exit"]
            out.append("  #%-5s %-24s %-12s %s%s" % (job["seq"], job["host"], how, job["command"],
                                                    "   (retried)" if job["retried"] else ""))
    return out


def subhost_lines(status: Dict[str, Any]) -> List[str]:
    """The per-sub-host view: running, done, failed, mean time."""
    rows = status["per_subhost"]
    if not rows:
        return []
    table = [("sub-host", "running", "done", "failed", "mean time")]
    table += [(row["host"], " ".join("#%s" % seq for seq in row["running"]) or "-",
               str(row["done"]), str(row["failed"]),
               mean_time(row["mean"]) if row["mean"] is not None else "-") for row in rows]
    widths = [max(display_width(line[column]) for line in table) for column in range(5)]
    return ["per sub-host:"] + ["  %s%s  %s  %s  %s  %s" % (
        line[0], " " * (widths[0] - display_width(line[0])), line[1].ljust(widths[1]),
        line[2].rjust(widths[2]), line[3].rjust(widths[3]), line[4].rjust(widths[4]))
        for line in table]


# --- one run: --job SEQ ------------------------------------------------------------

def find_job(queue_path: str, seq: int, runner: Optional[str]) -> Dict[str, Any]:
    """Run #`seq` (of `runner`, else of the latest runner that had one):
    its outcome record, or what its live runner's journal says of it while
    it runs; `others`: the other runners that had a #`seq`."""
    state = StateDir(os.path.realpath(queue_path))
    now = time.time()
    runners, _ = _journals(state, now)
    found: List[Dict[str, Any]] = []
    for record in OutcomeRecord(state).read():
        if record.get("seq") == seq:
            found.append(dict(record, state="finished"))
    for live in runners:
        for job in live["running"]:
            if job["seq"] == seq:
                found.append({"seq": seq, "host": job["host"], "runner": live["journal"],
                              "start": job["started"], "elapsed": job["elapsed"],
                              "attempt": job["attempt"], "command": job["command"],
                              "state": "running"})
    if runner is not None:
        found = [record for record in found if record.get("runner") == runner]
    if not found:
        return {}
    found.sort(key=lambda record: record.get("start") or 0)
    chosen = found[-1]
    others = sorted({str(record.get("runner")) for record in found}
                    - {str(chosen.get("runner"))})
    return dict(chosen, others=others)


def job_lines(record: Dict[str, Any], queue_path: str) -> List[str]:
    """A run as a person reads it, with its last lines."""
    head = "#%s of runner %s on %s" % (record["seq"], record.get("runner"), record.get("host"))
    now = time.time()
    if record["state"] == "running":
        return [head + ": running since %s" % _clock(record.get("start"), now),
                "  command: %s" % record.get("command", ""),
                "  its last lines are kept once it ends"]
    how = record.get("reason") or "exit %s" % record.get("exit")
    if record.get("detail"):
        how += ": %s" % record["detail"]
    out = [head + ": %s (%s)%s" % (how, record.get("kind"),
                                   ", then ran again" if record.get("retried") else ""),
           "  started %s, took %s, attempt %s" % (
               _clock(record.get("start"), now),
               seconds(max(0.0, (record.get("end") or 0) - (record.get("start") or 0))),
               record.get("attempt"))]
    out += ["  " + line for line in (record.get("job") or "").rstrip("\n").split("\n")]
    for stream in ("stdout", "stderr"):
        tail = record.get(stream + "_tail")
        if tail is None:
            out.append("  %s: not kept (recorded by an older pegasus)" % stream)
        elif not tail:
            out.append("  %s: nothing" % stream)
        else:
            out.append("  %s (its last lines):" % stream)
            out.extend("    " + line for line in tail)
    for other in record["others"]:
        out.append("runner %s had a #%s too: --job %s:%s" % (other, record["seq"], other,
                                                              record["seq"]))
    return out


def show_job(args: Namespace) -> int:
    runner, seq = args.job
    record = find_job(args.queue_file, seq, runner)
    if not record:
        sys.stderr.write("pegasus: no run #%d%s in the outcome record of %s, nor running\n"
                         % (seq, " of runner %s" % runner if runner else "", args.queue_file))
        return 1
    if args.json:
        write_all(sys.stdout, json.dumps(record, indent=2, sort_keys=True) + "\n")
    else:
        write_all(sys.stdout, "".join(line + "\n" for line in job_lines(record, args.queue_file)))
    return 0


def run(args: Namespace) -> int:
    yamlfile.read_text(args.queue_file, "queue")  # a missing queue file: exit 2
    if args.job is not None:
        return show_job(args)
    if args.watch:
        from ..ui.watch import watch
        return watch(args, collect, lambda status: lines(status) + subhost_lines(status))
    status = collect(args.queue_file)
    if args.json:
        write_all(sys.stdout, json.dumps(status, indent=2, sort_keys=True) + "\n")
    else:
        write_all(sys.stdout, "".join(line + "\n" for line in lines(status)
                                      + subhost_lines(status)))
    return 0
