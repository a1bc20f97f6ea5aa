"""`pegasus status --watch`: the status of a queue, looked at again every
--interval seconds until Ctrl-C. On a terminal it is redrawn in place, at
the top of the window, cut to its size; off a terminal (a pipe, a file)
each snapshot that differs from the one before is printed after it, under
a line with the time, so that a log of it says what changed and when.
With --json, every snapshot that differs is one line of JSON.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from argparse import Namespace
from typing import Any, Callable, Dict, List, Optional, TextIO

from .terminal import cut, write_all

HOME = "\x1b[H"            # the cursor to the top left corner
CLEAR_LINE = "\x1b[K"      # the rest of the row
CLEAR_BELOW = "\x1b[J"     # every row below the cursor


def steady(status: Dict[str, Any]) -> str:
    """The status less what changes every second (the time of the look,
    how long running jobs have run): two snapshots that differ here differ
    in what happened."""
    copy = dict(status, at=None)
    copy["runners"] = [dict(runner, running=[dict(job, elapsed=None) for job in runner["running"]])
                       for runner in status["runners"]]
    return json.dumps(copy, sort_keys=True)


def frame(rows: List[str], width: int, height: int) -> str:
    """One screenful: `rows` from the top left corner, each cut to the
    width, as many as fit (the last row says how many did not)."""
    if len(rows) > height:
        rows = rows[:height - 1] + ["... %d more rows: a taller window shows them"
                                    % (len(rows) - height + 1)]
    room = max(1, width - 1)
    return HOME + "".join(cut(row, room) + CLEAR_LINE + "\n" for row in rows) + CLEAR_BELOW


def watch(args: Namespace, collect: Callable[[str], Dict[str, Any]],
          render: Callable[[Dict[str, Any]], List[str]], stream: Optional[TextIO] = None) -> int:
    """Show the status of `args.queue_file` until Ctrl-C (exit 0)."""
    stream = stream or sys.stdout
    live = stream.isatty() and not args.json
    seen: Optional[str] = None
    try:
        while True:
            status = collect(args.queue_file)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(status["at"]))
            if live:
                size = shutil.get_terminal_size((80, 24))
                head = "pegasus status of %s at %s, every %g s; Ctrl-C to stop" % (
                    args.queue_file, stamp, args.interval)
                write_all(stream, frame([head, ""] + render(status), size.columns,
                                        size.lines - 1))
            elif steady(status) != seen:
                seen = steady(status)
                if args.json:
                    write_all(stream, json.dumps(status, sort_keys=True) + "\n")
                else:
                    write_all(stream, "".join(line + "\n" for line in
                                              ["--- %s at %s" % (args.queue_file, stamp)]
                                              + render(status)))
            time.sleep(args.interval)
    except KeyboardInterrupt:
        if live:
            write_all(stream, "\n")
        return 0
