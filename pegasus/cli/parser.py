"""The parser of the `pegasus` command: its modes, options before the mode
as Pegasus 1.4 allowed, and what argparse alone cannot check. Standard
library only (see __init__.py); `build_parser` is what argparse-manpage
reads to write man/pegasus.1 (pyproject.toml, scripts/manpage)."""

import argparse
import sys
from typing import List, Optional, Set

from . import __version__
from .options import (
    add_add_options, add_lock_options, add_run_options, add_status_options,
)
from .texts import (
    ADD_HELP, ADHOC_EPILOG, BROADCAST_HELP, COMING_FROM, DESCRIPTION, EPILOG, LOCK_HELP,
    QUEUE_HELP, STATUS_HELP, peer_hints,
)

__all__ = ["__version__", "build_parser", "parse_args"]

PROG = "pegasus"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `pegasus` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG + "\n" + ADHOC_EPILOG + "\n" + COMING_FROM,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-V", "--version", action="version", version="%(prog)s " + __version__)
    modes = parser.add_subparsers(
        dest="mode", metavar="MODE", title="modes",
        parser_class=argparse.ArgumentParser)
    modes.required = True

    def mode(name: str, alias: Optional[str], summary: str, text: str,
             epilog: Optional[str] = None) -> argparse.ArgumentParser:
        return modes.add_parser(name, aliases=[alias] if alias else [], help=summary,
                                description=text, epilog=epilog,
                                formatter_class=argparse.RawDescriptionHelpFormatter)

    add_run_options(mode("queue", "q", "run each command once, on the next free host",
                          QUEUE_HELP, ADHOC_EPILOG), fans_out=False)
    add_run_options(mode("broadcast", "b", "run each command on every host, in lockstep",
                          BROADCAST_HELP, ADHOC_EPILOG), fans_out=True)
    add_lock_options(mode("lock", "l", "lock queue.yaml and open it in an editor",
                           LOCK_HELP))
    add_add_options(mode("add", None, "add a command to the end of the queue (pegasus l "
                                       "--append)", ADD_HELP))
    add_status_options(mode("status", None, "what every runner of a queue is doing",
                             STATUS_HELP))
    return parser


MODE_NAMES = {"q": "queue", "queue": "queue", "b": "broadcast", "broadcast": "broadcast",
              "l": "lock", "lock": "lock", "add": "add", "status": "status"}


def _takes_value(parser: argparse.ArgumentParser) -> Set[str]:
    """Every option string of every mode that takes a value."""
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _takes_value(sub)
        elif action.option_strings and action.nargs != 0:
            found.update(action.option_strings)
    return found


def mode_first(argv: List[str], parser: argparse.ArgumentParser) -> List[str]:
    """Options may come before the mode, as Pegasus 1.4's parser allowed
    (`pegasus -d q`, `pegasus --queue-file x.yaml q`): move the mode first."""
    takes_value = _takes_value(parser)
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--":
            break
        if word in MODE_NAMES:
            return [word] + argv[:index] + argv[index + 1:]
        index += 2 if word in takes_value else 1
    return argv


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line; the mode is normalised to its long name.
    `args.notes` lists the options given that do nothing in this mode."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    argv = mode_first(argv, parser)
    args, extras = parser.parse_known_args(argv)
    if extras:
        parser.error("\n".join(["unrecognized arguments: %s" % " ".join(extras)]
                               + peer_hints(extras)))
    args.mode = MODE_NAMES[args.mode]
    if args.mode == "add":
        words = args.words[1:] if args.words[:1] == ["--"] else args.words
        if not words:
            parser.error("add: give the command to add, e.g. pegasus add python train.py")
        args.command = " ".join(words)
    if getattr(args, "gather", False) and args.prefix != "brackets":
        parser.error("--gather prints each output under its sub-hosts: --prefix and -N "
                     "do not apply to it")
    commands = getattr(args, "commands", [])
    if commands and "--" not in argv:
        parser.error("give commands to run after --, e.g. pegasus q -w node-1 -- 'uname -r'")
    args.notes = ["%s has no effect in %s mode" % (name.replace("_", "-"), args.mode)
                  for name, value in sorted(vars(args).items())
                  if name.startswith("ignored_") and value not in (None, False)]
    args.notes = [note.replace("ignored-", "--") for note in args.notes]
    return args
