"""What remains of a run: the summary of failures, the joblog, the per-job
log files. Each is an event handler, like the printer."""

import os
import re
import sys
import time

JOBLOG_COLUMNS = ("Seq", "Host", "Starttime", "JobRuntime", "Send", "Receive",
                  "Exitval", "Signal", "Command")


class Fanout:
    """Passes every event to each handler in turn."""

    def __init__(self, handlers):
        self.handlers = [h for h in handlers if h is not None]

    def __getattr__(self, name):
        methods = [getattr(h, name) for h in self.handlers if hasattr(h, name)]

        def call(*args):
            for method in methods:
                method(*args)
        setattr(self, name, call)
        return call


def fold_hosts(hosts):
    """Sub-hosts in range notation (see nodeset.fold_hosts)."""
    from .nodeset import fold_hosts as fold
    return fold([(h.hostname, h.params) if h is not None else ("-", {}) for h in hosts])


class Summary:
    """Counts every run and keeps the failed ones for the end-of-run report.
    In broadcast mode the failures are told per job: which sub-hosts failed
    it, and how."""

    def __init__(self, mode="queue"):
        self.mode = mode
        self.runs = 0
        self.failed = []
        self.unreachable = []
        self.lost = []
        self.ready = 0
        self.jobs = set()   # broadcast: the jobs seen, by journal ticket

    def host_ready(self, host, was_down=False):
        self.ready += 1
        if was_down:  # it came back: no longer worth a line in the summary
            self.unreachable = [(h, r) for h, r in self.unreachable if h is not host]

    def host_failed(self, host, reason):
        self.unreachable.append((host, reason))

    def host_lost(self, host, reason):
        self.lost.append((host, reason))

    def job_finished(self, run):
        self.runs += 1
        if self.mode == "broadcast":
            self.jobs.add(run.job.ticket if run.job.ticket is not None else id(run.job))
        if run.counts_as_failed:
            self.failed.append(run)

    def lines(self):
        """The summary printed on stderr at the end (empty if all went well)."""
        out = []
        for host, reason in self.unreachable:
            out.append("could not connect to %s: %s" % (host.label, reason))
        if self.failed and self.mode == "broadcast":
            out.extend(self._per_job())
        elif self.failed:
            out.append("%d of %d job%s failed:" % (
                len(self.failed), self.runs, "" if self.runs == 1 else "s"))
            width = max(len(_label(run)) for run in self.failed)
            for run in self.failed:
                command = run.command.replace("\n", " ")
                if len(command) > 120:
                    command = command[:117] + "..."
                out.append("  %-*s  %-12s %s" % (width, _label(run), run.describe(), command))
        return out


    def _per_job(self):
        jobs = {}
        for run in self.failed:
            jobs.setdefault(id(run.job), []).append(run)
        out = ["%d of %d job%s failed on some sub-hosts:" % (
            len(jobs), len(self.jobs), "" if len(self.jobs) == 1 else "s")]
        for runs in jobs.values():
            out.append("  %s" % _short(runs[0].job.command))
            reasons = {}
            for run in runs:
                reasons.setdefault(run.describe(), []).append(run.host)
            for reason, hosts in reasons.items():
                hosts.sort(key=lambda host: host.index)  # hosts.yaml order, not finishing order
                out.append("    %s: %s" % (reason, fold_hosts(hosts)))
        return out


def _short(command, limit=120):
    command = command.replace("\n", " ")
    return command if len(command) <= limit else command[:limit - 3] + "..."


def _label(run):
    """The sub-host, and on a host with slots, the slots the job had."""
    if run.host is None:
        return "-"
    if run.host.slots > 1 and run.place.slots:
        return "%s slots=%s" % (run.host.label, run.place.slots_text)
    return run.host.label


def _escape(text):
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


class JobLog:
    """--joblog FILE: one tab-separated line per finished job, in GNU
    parallel's columns, flushed as each job ends."""

    def __init__(self, path):
        self.path = path
        new = not os.path.exists(path) or os.path.getsize(path) == 0
        self.stream = open(path, "a", encoding="utf-8")
        if new:
            self.stream.write("\t".join(JOBLOG_COLUMNS) + "\n")
            self.stream.flush()

    def job_finished(self, run):
        fields = [
            str(run.seq),
            _escape(_label(run)),
            "%.3f" % run.start_time,
            "%.3f" % run.duration,
            "0",
            str(run.received),
            str(run.exit_value),
            str(int(run.signal)),
            _escape(run.command),
        ]
        self.stream.write("\t".join(fields) + "\n")
        self.stream.flush()

    def close(self):
        self.stream.close()


_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=@+-]+")


class LogDir:
    """--log-dir DIR: each job's output lines in a file of its own,
    `SEQ-HOST.log`, named in the joblog's Seq order."""

    def __init__(self, path):
        self.path = path
        os.makedirs(path, exist_ok=True)
        self.files = {}
        self.stamp = time.strftime("%Y%m%d-%H%M%S")

    def _name(self, run):
        label = _UNSAFE.sub("_", _label(run)).strip("_") or "host"
        return os.path.join(self.path, "%s-%04d-%s.log" % (self.stamp, run.seq, label))

    def job_started(self, run):
        if run.host is None:
            return
        self.files[run] = open(self._name(run), "w", encoding="utf-8", errors="replace")

    def job_line(self, run, stream, text):
        handle = self.files.get(run)
        if handle is not None:
            handle.write(text + "\n")

    def job_finished(self, run):
        handle = self.files.pop(run, None)
        if handle is not None:
            handle.close()

    def close(self):
        for handle in self.files.values():
            handle.close()
        self.files.clear()


def print_summary(summary, stream=None):
    stream = stream or sys.stderr
    for line in summary.lines():
        stream.write("pegasus: %s\n" % line)
    stream.flush()
