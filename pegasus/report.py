"""What remains of a run: the summary of failures, the joblog, the per-job
log files. Each is an event handler, like the printer."""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Dict, List, TextIO

from . import words
from .events import Handler
from .fsutil import check_output_directory, check_writable, open_file, output_directory
from .outcome import Reason

JOBLOG_COLUMNS = ("Seq", "Host", "Starttime", "JobRuntime", "Send", "Receive",
                  "Exitval", "Signal", "Command")


def fold_hosts(hosts):
    """Sub-hosts in range notation (see nodeset.fold_hosts)."""
    from .nodeset import fold_hosts as fold
    return fold([(h.hostname, h.params) if h is not None else ("-", {}) for h in hosts])


class Summary(Handler):
    """Counts every run and keeps the failed and the cancelled ones for the
    end-of-run report. When every job runs on every sub-host (`per_job`:
    broadcast), they are told per job: which sub-hosts failed it (or had it
    cancelled), and how."""

    def __init__(self, per_job: bool = False):
        self.per_job = per_job
        self.runs = 0
        self.failed: List = []
        self.cancelled: List = []
        self.unreachable: List = []
        self.lost: List = []
        self.jobs: set = set()   # per job: the jobs seen

    def on_host_ready(self, host, was_down):
        if was_down:  # it came back: no longer worth a line in the summary
            self.unreachable = [(h, r) for h, r in self.unreachable if h is not host]

    def on_host_failed(self, host, reason):
        self.unreachable.append((host, reason))

    def on_host_lost(self, host, reason):
        self.lost.append((host, reason))

    def on_job_finished(self, outcome):
        if outcome.retried:
            return  # counted by its last attempt
        self.runs += 1
        self.jobs.add(id(outcome.job))
        if outcome.counts_as_failed:
            self.failed.append(outcome)
        elif outcome.reason is Reason.CANCELLED:
            self.cancelled.append(outcome)

    def lines(self) -> List[str]:
        """The summary printed on stderr at the end (empty if all went well)."""
        out = []
        for host, reason in self.unreachable:
            out.append("could not connect to %s: %s" % (host.label, reason))
        for runs, verb in ((self.failed, "failed"), (self.cancelled, "were cancelled")):
            if runs:
                out.extend(self._per_job(runs, verb) if self.per_job else
                           self._per_run(runs, verb))
        return out

    def _per_run(self, runs: List, verb: str) -> List[str]:
        out = ["%d of %d job%s %s:" % (len(runs), self.runs, "" if self.runs == 1 else "s",
                                        verb if len(runs) > 1 else verb.replace("were", "was"))]
        width = max(len(_label(run)) for run in runs)
        for run in runs:
            out.append("  %-*s  %-12s %s" % (width, _label(run), words.ending(run),
                                             _short(run.command)))
        return out

    def _per_job(self, runs: List, verb: str) -> List[str]:
        jobs: Dict[int, List] = {}
        for run in runs:
            jobs.setdefault(id(run.job), []).append(run)
        out = ["%d of %d job%s %s on some sub-hosts:" % (
            len(jobs), len(self.jobs), "" if len(self.jobs) == 1 else "s",
            verb if len(jobs) > 1 else verb.replace("were", "was"))]
        for same in jobs.values():
            out.append("  %s" % _short(same[0].job.command))
            reasons: Dict[str, List] = {}
            for run in same:
                reasons.setdefault(words.ending(run), []).append(run.host)
            for reason, hosts in reasons.items():
                hosts.sort(key=lambda host: host.index)  # hosts.yaml order, not finishing order
                out.append("    %s: %s" % (reason, fold_hosts(hosts)))
        return out


def _short(command, limit=120):
    command = command.replace("\n", " ")
    return command if len(command) <= limit else command[:limit - 3] + "..."


def _label(outcome) -> str:
    """The sub-host, and on a host with slots, the slots the job had."""
    return _launch_label(outcome.launch)


def _launch_label(launch) -> str:
    if launch.host is None:
        return "-"
    if launch.host.slots > 1 and launch.slots:
        return "%s slots=%s" % (launch.host.label, launch.slots_text)
    return launch.host.label


def _escape(text):
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def check_files(joblog, log_dir) -> None:
    """Refuse now (fsutil.UnsafePath) a joblog or log directory pegasus
    may not write into -- another user's, or their link -- so that a run
    is refused before it takes anything. Creates nothing."""
    if joblog:
        check_writable(joblog)
    if log_dir:
        check_output_directory(log_dir)


class JobLog(Handler):
    """--joblog FILE: one tab-separated line per finished job, in GNU
    parallel's columns, flushed as each job ends. The file is yours, with
    no other name (fsutil.open_file), or refused."""

    def __init__(self, path):
        self.path = path
        fd = open_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        new = os.fstat(fd).st_size == 0
        self.stream = os.fdopen(fd, "a", encoding="utf-8")
        if new:
            self.stream.write("\t".join(JOBLOG_COLUMNS) + "\n")
            self.stream.flush()

    def on_job_finished(self, outcome):
        fields = [
            str(outcome.seq),
            _escape(_label(outcome)),
            "%.3f" % outcome.launch.started,
            "%.3f" % outcome.duration,
            "0",
            str(outcome.received),
            str(outcome.exit_value),
            str(int(outcome.signal)),
            _escape(outcome.command),
        ]
        self.stream.write("\t".join(fields) + "\n")
        self.stream.flush()

    def close(self):
        self.stream.close()


_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=@+-]+")


class LogDir(Handler):
    """--log-dir DIR: each job's output lines in a file of its own,
    `STAMP-SEQ-HOST.log`, named in the joblog's Seq order. The directory is
    yours (fsutil.output_directory) or refused; each file is new, made in
    it by its descriptor (never an existing file: another runner's of the
    same second gets `.1`...)."""

    def __init__(self, path):
        self.path = path
        self.directory = output_directory(path)
        self.files: Dict[int, TextIO] = {}
        self.stamp = time.strftime("%Y%m%d-%H%M%S")

    def _name(self, launch, number: int) -> str:
        label = _UNSAFE.sub("_", _launch_label(launch)).strip("_") or "host"
        return "%s-%04d-%s%s.log" % (self.stamp, launch.seq, label,
                                     ".%d" % number if number else "")

    def on_job_started(self, launch):
        if launch.host is None:
            return
        for number in range(100):
            try:
                fd = self.directory.open(self._name(launch, number), os.O_WRONLY,
                                         exclusive=True)
                break
            except FileExistsError:
                continue
        else:
            return  # a hundred runners of one second, one seq: no log for this one
        self.files[launch.seq] = os.fdopen(fd, "w", encoding="utf-8",
                                           errors="replace")

    def on_job_line(self, launch, stream, text):
        handle = self.files.get(launch.seq)
        if handle is not None:
            handle.write(text + "\n")

    def on_job_finished(self, outcome):
        handle = self.files.pop(outcome.seq, None)
        if handle is not None:
            handle.close()

    def close(self):
        for handle in self.files.values():
            handle.close()
        self.files.clear()
        self.directory.close()


def print_summary(summary, stream=None):
    stream = stream or sys.stderr
    for line in summary.lines():
        stream.write("pegasus: %s\n" % line)
    stream.flush()
