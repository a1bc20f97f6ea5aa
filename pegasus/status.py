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
import struct
import sys
import time
from typing import Any, Dict, List, Optional

from . import yamlfile
from .errors import PegasusError, SpecError
from .queuefile import QueueFile
from .queuefile.journal import SUFFIX, read_records, unfinished
from .queuefile.outcomes import FAILED, KINDS, OK, OutcomeRecord
from .queuefile.statedir import StateDir
from .spec import job_count
from .validate import canonical_command
from .words import first_line, plural, seconds

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


def _journals(state: StateDir, now: float):
    runners: List[dict] = []
    recoverable: List[dict] = []
    try:
        names = sorted(os.listdir(state.path))
    except FileNotFoundError:
        return runners, recoverable
    for name in names:
        if not name.endswith(SUFFIX):
            continue
        path = os.path.join(state.path, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
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
            "recent_failures": failures[-RECENT_FAILURES:], "at": round(now, 3)}


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


def run(args) -> int:
    status = collect(args.queue_file)
    if args.json:
        sys.stdout.write(json.dumps(status, indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write("".join(line + "\n" for line in lines(status)))
    sys.stdout.flush()
    return 0
