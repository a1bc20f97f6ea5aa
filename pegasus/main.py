"""Entry point: wires the files, the engine and the output together, and is
the one place where errors become messages and exit statuses."""

import os
import sys

from . import cli
from .errors import PegasusError, SpecError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def _say(message):
    sys.stderr.write("pegasus: %s\n" % message)
    sys.stderr.flush()


def main(argv=None):
    """Run the `pegasus` command; return its exit status."""
    args = cli.parse_args(argv)
    try:
        if args.mode == "lock":
            from . import lockmode
            return lockmode.run(args)
        return run(args)
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


def load(args):
    """Read and check hosts.yaml and queue.yaml as the run will use them.

    Returns (templates, sub-hosts, queue file, jobs now in the queue).
    """
    from .queuefile import QueueFile, validate_text
    from .spec import check_templates, load_hosts
    from .template import Templates

    templates = Templates()
    subhosts = load_hosts(args.hosts_file, templates)

    def validator(text, path):
        jobs = validate_text(text, path)
        check_templates(jobs, subhosts, templates)
        return jobs

    queue = QueueFile(args.queue_file, consumed_path=getattr(args, "consumed_file", None),
                      validator=validator)
    where = os.path.dirname(os.path.abspath(queue.consumed_path))
    if not os.path.isdir(where):
        raise UsageError("cannot record taken jobs in %s: no directory %s" % (
            queue.consumed_path, where))
    jobs = validator(queue.read(), args.queue_file)
    return templates, subhosts, queue, jobs


def run(args):
    templates, subhosts, queue, jobs = load(args)
    if args.dry_run:
        from .output import dry_run_lines
        for line in dry_run_lines(args.mode, jobs, subhosts, templates):
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return EXIT_OK
    if not jobs and not args.daemon:
        _say("%s is empty: nothing to run" % args.queue_file)
        return EXIT_OK

    from . import ssh
    from .output import Printer
    from .report import Fanout, JobLog, LogDir, Summary, print_summary
    from .runner import Runner, Settings

    settings = Settings(
        mode=args.mode, daemon=args.daemon, timeout=args.timeout,
        kill_grace=args.kill_grace,
        ssh_settings=ssh.SshSettings(config_file=args.ssh_config, options=args.ssh_option),
        connect_parallel=args.connect_limit,
        error_aborts=getattr(args, "error_aborts", False),
        sessions=max(1, args.max_sessions - 1),
        retries=args.retries)
    if args.gather:
        from .output import Gatherer
        runs_per_job = len(subhosts) if args.mode == "broadcast" else 1
        printer = Gatherer(runs_per_job, color=args.color)
    else:
        printer = Printer(color=args.color, print_period=args.print_period)
    summary = Summary(args.mode)
    joblog = JobLog(args.joblog) if args.joblog else None
    logdir = LogDir(args.log_dir) if args.log_dir else None
    events = Fanout([summary, joblog, logdir, printer])
    runner = Runner(settings, subhosts, queue, templates, events)
    printer.attach(runner.loop)
    try:
        completed = runner.run()
    finally:
        printer.flush()
        for handler in (joblog, logdir):
            if handler is not None:
                handler.close()
    print_summary(summary)
    if not completed:
        return EXIT_CANCELLED
    if runner.queue_broken is not None:
        _say("stopped with %s invalid: what is left in it was not run" % args.queue_file)
        return EXIT_USAGE
    if summary.failed or runner.aborted:
        return EXIT_FAILED
    if not summary.ready and not summary.runs:
        _say("no host could be connected: nothing was run, the queue is untouched")
        return EXIT_FAILED
    return EXIT_OK
