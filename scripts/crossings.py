#!/usr/bin/env python3
"""Count how often one pegasus run crosses a module boundary.

usage: scripts/crossings.py [--list] queue|broadcast|adhoc

Runs pegasus in this process, in a fresh temporary directory, on one job
(`true`) on localhost -- `queue`: `pegasus q -w localhost` from a queue.yaml
of one entry; `broadcast`: the same with `pegasus b`; `adhoc`: `pegasus q -w
localhost -- true` -- and counts, with sys.setprofile, every call from code
of one pegasus module into another (through the standard library between
them: contextlib and such are looked through), leaving out the running of
modules' own top-level code (imports). Says the calls that cross, the
distinct (caller, callee) module pairs, the distinct function pairs, the
modules that ran, and the crossings between top-level folders of pegasus/.
docs/internals.md gives the numbers; --list lists the module pairs.
"""

import collections
import os
import sys
import tempfile
from types import FrameType
from typing import Any, Counter, Optional, Set, Tuple

ARGS = {"queue": ["q", "-w", "localhost"], "broadcast": ["b", "-w", "localhost"],
        "adhoc": ["q", "-w", "localhost", "--", "true"]}


def folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _workspace(queue: bool) -> None:
    os.chdir(tempfile.mkdtemp(prefix="pegasus-crossings-"))
    if queue:
        with open("queue.yaml", "w") as stream:
            stream.write("- true\n")
        then = os.path.getmtime("queue.yaml") - 60   # written before the run: settled
        os.utime("queue.yaml", (then, then))


def main(argv: list) -> int:
    listing = "--list" in argv
    argv = [arg for arg in argv if arg != "--list"]
    if len(argv) != 1 or argv[0] not in ARGS:
        sys.stderr.write(__doc__ or "")
        return 2
    counts: Counter[Tuple[str, str]] = collections.Counter()
    functions: Set[Tuple[str, str, str, str]] = set()
    modules: Set[str] = set()

    def name(frame: FrameType) -> str:
        return str(frame.f_globals.get("__name__", ""))

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call":
            return
        callee = name(frame)
        if not callee.startswith("pegasus") or frame.f_code.co_name == "<module>":
            return
        modules.add(callee)
        caller: Optional[FrameType] = frame.f_back
        while caller is not None and not name(caller).startswith("pegasus"):
            caller = caller.f_back
        if caller is None or name(caller) == callee:
            return
        counts[(name(caller), callee)] += 1
        functions.add((name(caller), caller.f_code.co_name, callee, frame.f_code.co_name))

    from pegasus import main as entry
    _workspace(argv[0] != "adhoc")
    sys.setprofile(profile)
    try:
        status = entry.main(ARGS[argv[0]])
    finally:
        sys.setprofile(None)
    folders = sum(n for (a, b), n in counts.items() if folder(a) != folder(b))
    print("%s: status %d; %d calls cross a module boundary (%d a folder's); %d module pairs, "
          "%d function pairs; %d modules ran" % (
              argv[0], status, sum(counts.values()), folders, len(counts), len(functions),
              len(modules)), file=sys.stderr)
    if listing:
        for (caller_module, callee_module), number in counts.most_common():
            print("%5d %s -> %s" % (number, caller_module, callee_module), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
