"""`pegasus q` and `pegasus b`: hosts.yaml and queue.yaml (or the commands
after `--`) read and checked, the handlers the command line asks for, the
engine run, and its end turned into an exit status."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from argparse import Namespace
from typing import TYPE_CHECKING, Any, List, Optional, Sequence

from ..errors import (
    EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_READER_LEFT, EXIT_USAGE, UsageError,
)
from ..ui.terminal import say as _say
from ..ui.terminal import write_all

if TYPE_CHECKING:
    from ..engine.runner import RunResult
    from ..errors import OutputLost
    from ..queuefile import QueueFile
    from ..settings import Settings
    from ..spec.hosts import SubHost
    from ..spec.yamlfile import Entry
    from ..templates.template import Templates


class Loaded:
    """hosts.yaml and queue.yaml, read and checked as the run will use them:
    `count` jobs; the jobs themselves (`jobs`) only where the run uses them
    (commands given after `--`, --dry-run), since a run takes from the
    queue file itself."""

    def __init__(self, settings: Settings, templates: Templates, subhosts: Sequence[SubHost],
                 queue: Optional[QueueFile], jobs: Any, count: Optional[int] = None):
        self.settings = settings
        self.templates = templates
        self.subhosts = subhosts
        self.queue = queue
        self.jobs = jobs
        self.count = len(jobs) if count is None else count


def load(args: Namespace) -> Loaded:
    from ..queuefile import QueueFile
    from ..settings import Settings
    from ..spec.hostlist import load_subhosts
    from ..spec.validate import QueueValidator
    from ..templates.template import Templates
    from ..transports import transport
    from ..ui.joblog import check_files

    settings = Settings.from_args(args)
    templates = Templates()
    subhosts = load_subhosts(args, templates)
    transport.attach(subhosts, settings)
    validator = QueueValidator(templates, subhosts)
    if args.commands:
        return Loaded(settings, templates, subhosts, None,
                      validator.check_entries(command_entries(args)))
    queue = QueueFile(args.queue_file, consumed_path=getattr(args, "consumed_file", None),
                      validator=validator)
    where = os.path.dirname(os.path.abspath(queue.consumed_path))
    if not os.path.isdir(where):
        raise UsageError("cannot record taken jobs in %s: no directory %s" % (
            queue.consumed_path, where))
    jobs = count = None
    if args.dry_run:
        jobs = queue.load()   # nothing beside the queue is written
    else:
        # Files beside the queue that are not the user's are refused before
        # anything is read or written there (fsutil, queuefile/statedir.py).
        queue.verify()
        check_files(None if args.joblog == "-" else args.joblog, args.log_dir)
        with queue.locked():  # what appenders left beside the queue is gathered first
            count = len(queue.load())
    for problem in validator.take_warnings():
        _say(str(problem))
    return Loaded(settings, templates, subhosts, queue, jobs, count)


def command_entries(args: Namespace) -> List[Entry]:
    """The jobs given after `--`: one entry each, named by their place."""
    from ..spec.yamlfile import Entry, Value
    if args.daemon:
        raise UsageError("-d waits for new entries in a queue file; commands given after -- "
                         "are all there is")
    return [Entry(ADHOC, number, {"command": Value([command], False, number)}, True)
            for number, command in enumerate(args.commands, 1)]


ADHOC = "the command line"


def run(args: Namespace) -> int:
    """`pegasus q` and `pegasus b`."""
    from ..engine.runner import STATUS_SIGNALS
    from ..policy import modes as policy
    for signum in STATUS_SIGNALS:
        # Asked for a status while still loading: no answer yet, but no death.
        signal.signal(signum, signal.SIG_IGN)
    loaded = load(args)
    fans_out = policy.fans_out(args.mode)
    if args.dry_run:
        from ..ui.dryrun import dry_run_lines
        chunk: List[str] = []
        for line in dry_run_lines(fans_out, loaded.jobs, loaded.subhosts, loaded.templates):
            chunk.append(line + "\n")
            if len(chunk) >= 1000:
                write_all(sys.stdout, "".join(chunk))
                chunk = []
        write_all(sys.stdout, "".join(chunk))
        return EXIT_OK
    coming = loaded.queue.unsettled if loaded.queue is not None else None
    if not loaded.count and not args.daemon and (coming is None or coming.held):
        if coming is None:
            _say("%s is empty: nothing to run" % args.queue_file)
        else:
            from ..events import notices
            from ..ui import words
            _say(words.notice(notices.EntryBeingWritten(args.queue_file)))
        return EXIT_OK

    from ..engine.runner import Runner
    from ..engine.sources import MemoryQueue, QueueSource
    from ..ui.report import print_summary

    handlers = Handlers(args, fans_out, len(loaded.subhosts) if fans_out else 1,
                        recorded=loaded.queue is not None)
    source: QueueSource
    settings = loaded.settings
    if loaded.queue is None:
        source = MemoryQueue(list(loaded.jobs.jobs()))
        # Jobs of the command line are kept nowhere: a cancelled one is not
        # put back (nor said to be), it is told as cancelled.
        settings = dataclasses.replace(settings, on_cancel="drop")
    else:
        from ..queuefile import LiveQueue
        source = LiveQueue(loaded.queue)
    try:
        runner = Runner(settings, loaded.subhosts, source, loaded.templates, handlers.fanout)
        handlers.printer.attach(runner.loop)
        handlers.printer.tell_when_lost(runner)
        result = runner.run()
    finally:
        handlers.close()
    try:
        print_summary(handlers.summary)
    except OSError:
        pass  # stderr is gone: the status is all that can tell
    handlers.printer.finish()
    return exit_status(args, result, handlers.printer.lost,
                       from_file=loaded.queue is not None)


def exit_status(args: Namespace, result: RunResult, lost: Optional[OutputLost] = None,
                from_file: bool = True) -> int:
    if result.cancelled:
        return EXIT_CANCELLED
    if lost is not None:
        # The run stopped (or ended) unseen; what it stopped went back to the
        # queue, and stderr said so if it could.
        return EXIT_READER_LEFT if lost.reader_left else EXIT_FAILED
    if result.queue_problem is not None:
        if result.queue_unwritable:
            _say("stopped: %s; what is left in %s was not run" % (
                result.queue_problem.split("\n")[0], args.queue_file))
        else:
            _say("stopped with %s invalid: what is left in it was not run" % args.queue_file)
        return EXIT_USAGE
    if not result.connected and not result.runs:
        _say("no host could be connected: nothing was run, the queue is untouched")
        return EXIT_FAILED
    if result.stranded:
        from ..ui.words import plural
        # Exit 0 means every job the run took finished well: not so here.
        _say("no sub-host is left to run jobs on (every one is unreachable, lost, or its "
             "allocation ended): %s" % (
            "what is left in %s was not run" % args.queue_file if from_file
            else "%s of the command line not run" % plural(result.left or 0, "job was",
                                                           "jobs were")))
        return EXIT_FAILED
    if result.halted is not None and ",success=" in result.halted:
        return EXIT_OK   # as GNU parallel: a success rule met is a success
    return EXIT_FAILED if result.failed or result.aborted else EXIT_OK


class Handlers:
    """What the command line asks to see and keep of a run."""

    def __init__(self, args: Namespace, per_job: bool, runs_per_job: int,
                 recorded: bool = False):
        from ..events.handler import Fanout
        from ..ui.printer import Printer
        from ..ui.joblog import JobLog, LogDir
        from ..ui.report import Summary

        progress = getattr(args, "progress", False)
        if args.gather:
            from ..ui.gather import Gatherer
            self.printer: Printer = Gatherer(runs_per_job, color=args.color, progress=progress)
        else:
            self.printer = Printer(color=args.color, print_period=args.print_period,
                                   progress=progress, prefix=args.prefix,
                                   job_stderr=args.job_stderr)
        from ..ui.terminal import columns
        self.summary = Summary(per_job=per_job, record=recorded,
                               width=columns(sys.stderr) if sys.stderr.isatty() else 0)
        joblog = None
        if args.joblog == "-":   # on stdout, as GNU parallel's, among the jobs' lines
            joblog = JobLog(None, write=self.printer.write_out)
        elif args.joblog:
            joblog = JobLog(args.joblog)
        self.files = [joblog, LogDir(args.log_dir) if args.log_dir else None]
        self.fanout = Fanout([self.summary] + self.files + [self.printer])

    def close(self) -> None:
        self.printer.close()
        for handler in self.files:
            if handler is not None:
                handler.close()


