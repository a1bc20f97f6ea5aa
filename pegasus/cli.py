"""The command line: argparse only.

This module imports nothing but the standard library, because argparse-manpage
executes it at build time to write man/pegasus.1, and because `pegasus --help`
must answer without paying for PyYAML or pybars3.
"""

import argparse

__version__ = "0.1.0"

PROG = "pegasus"

DESCRIPTION = """\
Run the shell commands listed in queue.yaml on the SSH hosts listed in
hosts.yaml. queue.yaml is a live queue: pegasus takes entries from its top as
hosts become free, and you may edit it (with `pegasus l`) while it runs.
"""

EPILOG = """\
example:
  $ cat hosts.yaml
  - hostname: [node-1, node-2]     # ssh aliases, user@host, node[01-16]
    gpu: [0, 1]                    # 2 x 2 = 4 sub-hosts, one job each
  $ cat queue.yaml
  - command: python train.py --lr {{ lr }} --gpu {{ gpu }}
    lr: [0.1, 0.01, 0.001]
  $ pegasus q --dry-run            # what would run where
  $ pegasus q                      # run it; queue.yaml empties as jobs start

Run `pegasus MODE --help` for the options of a mode.
Exit status: 0 all jobs succeeded, 1 a job failed, 2 bad usage or a bad
file (nothing was run or consumed), 130 cancelled by Ctrl-C.
"""

QUEUE_HELP = """\
Take commands from the top of queue.yaml, one at a time, and run each once on
the next free host. Each host of hosts.yaml (each combination of its
parameters: a "sub-host") runs one command at a time.

example:
  $ cat hosts.yaml
  - hostname: [node-1, node-2]
    gpu: [0, 1]
  $ cat queue.yaml
  - command: python train.py --lr {{ lr }} --gpu {{ gpu }}
    lr: [0.1, 0.01, 0.001]
  $ pegasus q           # 3 jobs over 4 sub-hosts
"""

BROADCAST_HELP = """\
Take commands from the top of queue.yaml and run each on every host, in
lockstep: the next command starts only when every host has finished the
current one.

example:
  $ cat queue.yaml
  - git -C ~/project pull
  - pip install -e ~/project
  $ pegasus b           # each line on every host of hosts.yaml
"""

LOCK_HELP = """\
Take the queue lock and open queue.yaml in an editor, so that no runner takes
a job while you edit (running jobs go on). The lock is released when the
editor exits; the file is then checked, and if it no longer parses you are
told where and offered to edit it again.

example:
  $ pegasus l                      # edit with $VISUAL, $EDITOR or vi
  $ pegasus l --editor 'code --wait'
  $ pegasus l --append 'python train.py --lr 0.5'
  $ generate-jobs | pegasus l --append -
"""


def _add_file_options(parser):
    files = parser.add_argument_group("files")
    files.add_argument(
        "-Q", "--queue-file", metavar="FILE", default="queue.yaml",
        help="the queue (default: %(default)s)")
    return files


def _seconds(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a number of seconds above 0")
    return value


def _grace(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be a number of seconds, 0 or more")
    return value


def _count(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _add_run_options(parser):
    files = _add_file_options(parser)
    files.add_argument(
        "-H", "--hosts-file", metavar="FILE", default="hosts.yaml",
        help="the hosts (default: %(default)s)")
    files.add_argument(
        "--consumed-file", metavar="FILE",
        help="where taken jobs are recorded (default: consumed.yaml beside the queue)")

    run = parser.add_argument_group("running")
    run.add_argument(
        "-d", "--daemon", action="store_true",
        help="keep running when the queue is empty, and run what is added to it")
    run.add_argument(
        "--dry-run", action="store_true",
        help="print every job the queue expands to, with the command each "
             "sub-host would run, and consume nothing")
    run.add_argument(
        "--timeout", metavar="SECONDS", type=_seconds,
        help="stop a job that runs longer (SIGTERM, then SIGKILL) and count it "
             "as failed; an entry's own `timeout` key wins")
    run.add_argument(
        "--retries", metavar="N", type=_count, default=0,
        help="when a job's host is lost mid-job, put the job back at the top of "
             "the queue for another host, up to N times (default: 0)")
    run.add_argument(
        "--kill-grace", metavar="SECONDS", type=_grace, default=5.0,
        help="time between SIGTERM and SIGKILL when a job is stopped "
             "(default: %(default)g)")

    out = parser.add_argument_group("output")
    out.add_argument(
        "-p", "--print-period", metavar="N", type=_count, default=1,
        help="print every Nth output line of each job; 0 prints none (default: 1)")
    out.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto",
        help="color the host prefixes: auto (on a terminal, unless NO_COLOR is "
             "set), always or never")
    out.add_argument(
        "--gather", action="store_true",
        help="instead of streaming, print each job's output when it ends: each "
             "distinct output once, under the sub-hosts that produced it (in "
             "range notation), grouped by exit status")
    out.add_argument(
        "--joblog", metavar="FILE",
        help="append one tab-separated line per finished job, in GNU parallel's "
             "columns (Seq Host Starttime JobRuntime Send Receive Exitval Signal Command)")
    out.add_argument(
        "--log-dir", metavar="DIR",
        help="also write each job's output to a file of its own in DIR")

    conn = parser.add_argument_group("ssh")
    conn.add_argument(
        "--ssh-config", metavar="FILE",
        help="ssh configuration file to use instead of ~/.ssh/config (ssh -F)")
    conn.add_argument(
        "-o", "--ssh-option", metavar="OPTION", action="append", default=[],
        help="an ssh option such as 'User=ann' or 'Port=2222'; repeatable; "
             "these win over pegasus's own options")
    conn.add_argument(
        "--connect-limit", metavar="N", type=_positive, default=64,
        help="open at most N connections at the same time; a server that turns "
             "some away (sshd's MaxStartups) is tried again (default: %(default)s)")
    conn.add_argument(
        "--max-sessions", metavar="N", type=_positive, default=10,
        help="sshd's MaxSessions on the hosts: at most N-1 jobs at once run "
             "over one connection (default: %(default)s)")
    return run


def build_parser():
    """Return the argument parser of the `pegasus` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version="%(prog)s " + __version__)
    modes = parser.add_subparsers(
        dest="mode", metavar="MODE", title="modes",
        parser_class=argparse.ArgumentParser)
    modes.required = True

    queue = modes.add_parser(
        "queue", aliases=["q"], help="run each command once, on the next free host",
        description=QUEUE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_options(queue)

    broadcast = modes.add_parser(
        "broadcast", aliases=["b"], help="run each command on every host, in lockstep",
        description=BROADCAST_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    run = _add_run_options(broadcast)
    run.add_argument(
        "-e", "--error-aborts", action="store_true",
        help="stop before the next job when a job failed on any host; the rest "
             "of the queue stays in queue.yaml")
    run.add_argument(
        "-i", "--ignore-errors", action="store_true",
        help="keep going after a failure (the default; accepted for Pegasus 1.4 scripts)")

    lock = modes.add_parser(
        "lock", aliases=["l"], help="lock queue.yaml and open it in an editor",
        description=LOCK_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_file_options(lock)
    lock.add_argument(
        "--editor", metavar="COMMAND",
        help="editor command, split as a shell would (default: $VISUAL, "
             "then $EDITOR, then vi)")
    lock.add_argument(
        "--on-invalid", choices=("keep", "restore"), default="keep",
        help="off a terminal, what to do when the edited file is invalid: keep "
             "it (runners wait for a fix) or restore the version from before; "
             "either way the exit status is 2 (default: %(default)s)")
    lock.add_argument(
        "--append", metavar="COMMAND", action="append",
        help="add COMMAND to the end of the queue without an editor, under the "
             "lock; repeatable; '-' reads a YAML list, or one command per line, "
             "from stdin")
    lock.add_argument(
        "--prepend", action="store_true",
        help="with --append: put the new entries at the top of the queue")
    return parser


MODE_NAMES = {"q": "queue", "queue": "queue", "b": "broadcast",
              "broadcast": "broadcast", "l": "lock", "lock": "lock"}


def parse_args(argv=None):
    """Parse the command line; the mode is normalised to its long name."""
    args = build_parser().parse_args(argv)
    args.mode = MODE_NAMES[args.mode]
    return args
