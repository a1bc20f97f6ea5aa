"""Entry point: wires the files, the engine and the output together, and is
the one place where errors become messages and exit statuses."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Callable, Dict, List, Optional

from . import cli
from .errors import PegasusError, SpecError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def _say(message: str) -> None:
    sys.stderr.write("pegasus: %s\n" % message)
    sys.stderr.flush()


def main(argv: Optional[List[str]] = None) -> int:
    """Run the `pegasus` command; return its exit status."""
    args = cli.parse_args(argv)
    for note in args.notes:
        _say("note: " + note)
    try:
        return MODES[args.mode](args)
    except SpecError as exc:
        for problem in exc.problems:
            _say(str(problem))
        return EXIT_USAGE
    except PegasusError as exc:
        _say(str(exc))
        return exc.exit_status
    except KeyboardInterrupt:
        return EXIT_CANCELLED
    except BrokenPipeError:
        # `pegasus q --dry-run | head`: the reader left; so do we, quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        # A file pegasus must write cannot be (a full disk, a read-only
        # directory): say which and why; nothing was taken.
        _say("cannot write %s: %s" % (exc.filename or "a file", exc.strerror or exc))
        return EXIT_USAGE


class Loaded:
    """hosts.yaml and queue.yaml, read and checked as the run will use them."""

    def __init__(self, settings, templates, subhosts, queue, jobs):
        self.settings = settings
        self.templates = templates
        self.subhosts = subhosts
        self.queue = queue
        self.jobs = jobs


def load(args) -> Loaded:
    from . import transports
    from .hostlist import load_subhosts
    from .queuefile import QueueFile
    from .settings import Settings
    from .template import Templates
    from .validate import QueueValidator

    settings = Settings.from_args(args)
    templates = Templates()
    subhosts = load_subhosts(args, templates)
    transports.attach(subhosts, settings)
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
    if args.dry_run:
        jobs = _checked(queue, validator, args.queue_file)
    else:
        with queue.locked():  # what appenders left beside the queue is gathered first
            jobs = _checked(queue, validator, args.queue_file)
    for problem in validator.take_warnings():
        _say(str(problem))
    return Loaded(settings, templates, subhosts, queue, jobs)


def _checked(queue, validator, name):
    """The queue's jobs, checked. If it is invalid while its last entry is
    still being written (queuefile/settle.py), that entry is awaited for a
    moment, or left out if it waits for its writer: a half-written entry is
    not bad input -- but a bad one is, before anything is taken."""
    from .queuefile.settle import WAIT_AT_MOST
    deadline = time.monotonic() + WAIT_AT_MOST
    while True:
        try:
            return validator(queue.read(), name)
        except SpecError as exc:
            problem = exc
        try:
            settled = queue.read_settled()
        except SpecError:
            settled = None
        coming = queue.unsettled
        if settled is None or coming is None:
            raise problem
        if coming.held or time.monotonic() >= deadline:
            return validator(settled, name)
        time.sleep(coming.retry)


def command_entries(args) -> list:
    """The jobs given after `--`: one entry each, named by their place."""
    from .yamlfile import Entry, Value
    if args.daemon:
        raise UsageError("-d waits for new entries in a queue file; commands given after -- "
                         "are all there is")
    return [Entry(ADHOC, number, {"command": Value([command], False, number)}, True)
            for number, command in enumerate(args.commands, 1)]


ADHOC = "the command line"


def run(args) -> int:
    """`pegasus q` and `pegasus b`."""
    from . import policy
    from .runner import STATUS_SIGNALS
    for signum in STATUS_SIGNALS:
        # Asked for a status while still loading: no answer yet, but no death.
        signal.signal(signum, signal.SIG_IGN)
    loaded = load(args)
    fans_out = policy.fans_out(args.mode)
    if args.dry_run:
        from .dryrun import dry_run_lines
        for line in dry_run_lines(fans_out, loaded.jobs, loaded.subhosts, loaded.templates):
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return EXIT_OK
    coming = loaded.queue.unsettled if loaded.queue is not None else None
    if not loaded.jobs and not args.daemon and (coming is None or coming.held):
        if coming is None:
            _say("%s is empty: nothing to run" % args.queue_file)
        else:
            from . import events, words
            _say(words.notice(events.EntryBeingWritten(args.queue_file)))
        return EXIT_OK

    from .queuefile import LiveQueue
    from .report import print_summary
    from .runner import Runner
    from .sources import MemoryQueue, QueueSource

    handlers = Handlers(args, fans_out, len(loaded.subhosts) if fans_out else 1)
    source: QueueSource
    if loaded.queue is None:
        source = MemoryQueue(list(loaded.jobs.jobs()))
    else:
        source = LiveQueue(loaded.queue)
    runner = Runner(loaded.settings, loaded.subhosts, source, loaded.templates,
                    handlers.fanout)
    handlers.printer.attach(runner.loop)
    try:
        result = runner.run()
    finally:
        handlers.close()
    print_summary(handlers.summary)
    handlers.printer.finish()
    return exit_status(args, result)


def exit_status(args, result) -> int:
    if result.cancelled:
        return EXIT_CANCELLED
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
        # Exit 0 means every job the run took finished well: not so here.
        _say("no sub-host is left to run jobs on (%s): what is left in %s was not run" % (
            "every one left is paused, its jobs failing at once" if result.paused_out
            else "every one is unreachable or lost", args.queue_file))
        return EXIT_FAILED
    if result.halted is not None and ",success=" in result.halted:
        return EXIT_OK   # as GNU parallel: a success rule met is a success
    return EXIT_FAILED if result.failed or result.aborted else EXIT_OK


class Handlers:
    """What the command line asks to see and keep of a run."""

    def __init__(self, args, per_job: bool, runs_per_job: int):
        from .events import Fanout
        from .output import Printer
        from .report import JobLog, LogDir, Summary

        progress = getattr(args, "progress", False)
        if args.gather:
            from .gather import Gatherer
            self.printer: Printer = Gatherer(runs_per_job, color=args.color, progress=progress)
        else:
            self.printer = Printer(color=args.color, print_period=args.print_period,
                                   progress=progress)
        self.summary = Summary(per_job=per_job)
        self.files = [JobLog(args.joblog) if args.joblog else None,
                      LogDir(args.log_dir) if args.log_dir else None]
        self.fanout = Fanout([self.summary] + self.files + [self.printer])

    def close(self) -> None:
        self.printer.close()
        for handler in self.files:
            if handler is not None:
                handler.close()


def lock(args) -> int:
    """`pegasus l`."""
    from . import lockmode
    return lockmode.run(args)


def status(args) -> int:
    """`pegasus status`."""
    from . import status as status_mode
    return status_mode.run(args)


def _modes() -> Dict[str, Callable[..., int]]:
    from .policy import POLICIES
    modes: Dict[str, Callable[..., int]] = {name: run for name in POLICIES}
    modes["lock"] = lock
    modes["status"] = status
    return modes


MODES = _modes()
