"""What a run keeps in files, besides what is written beside its queue:
--joblog (GNU parallel's columns; `-` for stdout) and --log-dir (each run's
output in a file of its own), both refused before the run if they are not
the user's to write (fsutil's rule)."""

from __future__ import annotations

import os
import re
import stat
import time
from typing import TYPE_CHECKING, Callable, Dict, Optional, TextIO

from ..events.handler import Handler
from ..fsutil import Directory, UnsafePath, check_writable, kind, mine, open_file, resolve, who
from . import words

if TYPE_CHECKING:
    from ..events.outcome import Launch, Outcome

JOBLOG_COLUMNS = ("Seq", "Host", "Starttime", "JobRuntime", "Send", "Receive",
                  "Exitval", "Signal", "Command")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def check_files(joblog: Optional[str], log_dir: Optional[str]) -> None:
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
    no other name (fsutil.open_file), or refused. `--joblog -`: `path` is
    None and `write` takes each line (the printer's stdout, so that the
    lines never land inside a job's)."""

    def __init__(self, path: Optional[str], write: Optional[Callable[[str], None]] = None):
        self.path = path
        self.stream: Optional[TextIO] = None
        new = True
        if write is None:
            assert path is not None   # a file, or `write` for `--joblog -`
            fd = open_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            new = os.fstat(fd).st_size == 0
            self.stream = os.fdopen(fd, "a", encoding="utf-8")
            write = self._to_file
        self.write = write
        if new:
            self.write("\t".join(JOBLOG_COLUMNS) + "\n")

    def _to_file(self, text: str) -> None:
        assert self.stream is not None
        self.stream.write(text)
        self.stream.flush()

    def on_job_finished(self, outcome: Outcome) -> None:
        fields = [
            str(outcome.seq),
            _escape(words.run_label(outcome)),
            "%.3f" % outcome.launch.started,
            "%.3f" % outcome.duration,
            "0",
            str(outcome.received),
            str(outcome.exit_value),
            str(int(outcome.signal)),
            _escape(outcome.command),
        ]
        self.write("\t".join(fields) + "\n")

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()


_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=@+-]+")


class LogDir(Handler):
    """--log-dir DIR: each job's output lines in a file of its own,
    `STAMP-SEQ-HOST.log`, named in the joblog's Seq order. The directory is
    yours (output_directory, by fsutil's rule) or refused; each file is new, made in
    it by its descriptor (never an existing file: another runner's of the
    same second gets `.1`...)."""

    def __init__(self, path: str):
        self.path = path
        self.directory = output_directory(path)
        self.files: Dict[int, TextIO] = {}
        self.stamp = time.strftime("%Y%m%d-%H%M%S")

    def _name(self, launch: Launch, number: int) -> str:
        label = _UNSAFE.sub("_", words.run_label(launch)).strip("_") or "host"
        return "%s-%04d-%s%s.log" % (self.stamp, launch.seq, label,
                                     ".%d" % number if number else "")

    def on_job_started(self, launch: Launch) -> None:
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

    def on_job_line(self, launch: Launch, stream: str, text: str) -> None:
        handle = self.files.get(launch.seq)
        if handle is not None:
            handle.write(text + "\n")

    def on_job_finished(self, outcome: Outcome) -> None:
        handle = self.files.pop(outcome.seq, None)
        if handle is not None:
            handle.close()

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()
        self.files.clear()
        self.directory.close()


def output_directory(path: str) -> Directory:
    """A directory pegasus writes new files into (--log-dir): made if
    missing, with the umask's mode; yours, reached through your own links
    only. Raises UnsafePath."""
    path = resolve(path.rstrip(os.sep) or os.sep)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    directory = Directory.at(path, create=True, mode=0o777)
    assert directory is not None
    info = directory.info()
    if not mine(info.st_uid):
        directory.close()
        raise UnsafePath(path, "belongs to another user, %s" % who(info.st_uid),
                         "pegasus writes your jobs' output only into a directory of yours "
                         "(its owner could read it, or swap the files for links): name "
                         "another directory", owner=info.st_uid)
    return directory


def check_output_directory(path: str) -> None:
    """Refuse now what output_directory would refuse, making nothing."""
    path = resolve(path.rstrip(os.sep) or os.sep)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePath(path, "is %s, not a directory" % kind(info.st_mode),
                         "name a directory for --log-dir")
    if not mine(info.st_uid):
        raise UnsafePath(path, "belongs to another user, %s" % who(info.st_uid),
                         "pegasus writes your jobs' output only into a directory of yours "
                         "(its owner could read it, or swap the files for links): name "
                         "another directory", owner=info.st_uid)
