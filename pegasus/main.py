"""Entry point: wires the files, the engine and the output together, and is
the one place where errors become messages and exit statuses."""

import os
import sys

from . import cli
from .errors import PegasusError, SpecError

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
    from .queuefile import QueueFile
    from .spec import check_templates, load_hosts
    from .template import Templates
    from .queuefile import validate_text

    templates = Templates()
    subhosts = load_hosts(args.hosts_file, templates)

    def validator(text, path):
        jobs = validate_text(text, path)
        check_templates(jobs, subhosts, templates)
        return jobs

    queue = QueueFile(args.queue_file, validator=validator)
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
    raise PegasusError("running jobs is not built yet; use --dry-run")
