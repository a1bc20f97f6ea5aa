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
modes:
  q, queue      run each command once, on the next free host
  b, broadcast  run each command on every host, all hosts in step
  l, lock       lock queue.yaml and open it in an editor

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
a job while you edit. The lock is released when the editor exits.

example:
  $ pegasus l                      # edit with $VISUAL, $EDITOR or vi
  $ pegasus l --editor 'code --wait'
"""


def _add_file_options(parser):
    files = parser.add_argument_group("files")
    files.add_argument(
        "-Q", "--queue-file", metavar="FILE", default="queue.yaml",
        help="the queue (default: %(default)s)")
    return files


def _add_run_options(parser):
    files = _add_file_options(parser)
    files.add_argument(
        "-H", "--hosts-file", metavar="FILE", default="hosts.yaml",
        help="the hosts (default: %(default)s)")
    run = parser.add_argument_group("running")
    run.add_argument(
        "--dry-run", action="store_true",
        help="print every job the queue expands to, with the command each "
             "sub-host would run, and consume nothing")
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
    _add_run_options(broadcast)

    lock = modes.add_parser(
        "lock", aliases=["l"], help="lock queue.yaml and open it in an editor",
        description=LOCK_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_file_options(lock)
    lock.add_argument(
        "--editor", metavar="COMMAND",
        help="editor command, split as a shell would (default: $VISUAL, "
             "then $EDITOR, then vi)")
    return parser


MODE_NAMES = {"q": "queue", "queue": "queue", "b": "broadcast",
              "broadcast": "broadcast", "l": "lock", "lock": "lock"}


def parse_args(argv=None):
    """Parse the command line; the mode is normalised to its long name."""
    args = build_parser().parse_args(argv)
    args.mode = MODE_NAMES[args.mode]
    return args
