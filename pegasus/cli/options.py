"""The options of each mode, and the argparse types of their values.
Standard library only (see __init__.py)."""

import argparse
import time
from typing import Any, Callable, Optional, Tuple

# An argparse type: the text of an option's value -> its value.
Convert = Callable[[str], Any]


def _bounded(convert: Convert, low: float, above: bool, words: str) -> Convert:
    """An argparse type: `convert`ed, and above (or at least) `low`."""
    def check(text: str) -> Any:
        value = convert(text)
        if not (value > low if above else value >= low):
            raise argparse.ArgumentTypeError("must be " + words)
        return value
    return check


_seconds = _bounded(float, 0, True, "a number of seconds above 0")


_grace = _bounded(float, 0, False, "a number of seconds, 0 or more")


_count = _bounded(int, 0, False, "0 or more")


_positive = _bounded(int, 1, False, "1 or more")


# --prefix: how a job's output lines are shown (ui/printer.py, ui/prefixes.py).
PREFIXES = ("brackets", "colon", "none")


def _halt(text: str) -> Tuple[str, str, int, bool]:
    """GNU parallel's `--halt now|soon,fail|success=N|P%` -> (when, what,
    number, percent)."""
    when, _, rule = text.partition(",")
    what, _, number = rule.partition("=")
    percent = number.endswith("%")
    number = number[:-1] if percent else number
    if when not in ("now", "soon") or what not in ("fail", "success") or not number.isdigit() \
            or int(number) < 1 or (percent and int(number) > 100):
        raise argparse.ArgumentTypeError(
            "write now|soon,fail|success=N or N%%, e.g. soon,fail=1 or now,fail=10%%; "
            "not %r" % text)
    return (when, what, int(number), percent)


def _black_hole(text: str) -> Optional[Tuple[int, float]]:
    """`K/S` (K jobs in a row that failed within S seconds) or `off`."""
    if text == "off":
        return None
    count, _, seconds = text.partition("/")
    try:
        value = (int(count), float(seconds))
    except ValueError:
        value = (0, 0.0)
    if value[0] < 1 or not value[1] > 0:
        raise argparse.ArgumentTypeError("write K/SECONDS, e.g. 3/10, or off; not %r" % text)
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _since(text: str) -> float:
    """`--since 2h` (a while ago: s, m, h, d) or `2026-12-01T09:00` (local
    time) -> seconds since the epoch."""
    if text[-1:] in _UNITS and text[:-1].replace(".", "", 1).isdigit():
        return time.time() - float(text[:-1]) * _UNITS[text[-1]]
    for shape in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return time.mktime(time.strptime(text, shape))
        except ValueError:
            continue
    raise argparse.ArgumentTypeError("write a while ago (30m, 2h, 1d) or a date and time "
                                     "(2026-12-01T09:00); not %r" % text)


def _queue_file(group: Any) -> None:
    group.add_argument(
        "-Q", "--queue-file", metavar="FILE", default="queue.yaml",
        help="the queue (default: %(default)s)")


def _compatible(parser: argparse.ArgumentParser, *, daemon: bool = False, period: bool = False,
                ignore: bool = False, editor: bool = False, hosts: bool = False) -> None:
    """Options Pegasus 1.4 accepted in every mode: where they do nothing,
    they are still accepted (with a note), so that 1.4 scripts run."""
    group = parser.add_argument_group("accepted for Pegasus 1.4 scripts, no effect here")
    if daemon:
        group.add_argument("-d", "--daemon", action="store_true", dest="ignored_daemon",
                           help="no effect in this mode")
    if period:
        group.add_argument("-p", "--print-period", metavar="N", type=_count,
                           dest="ignored_print_period", help="no effect in this mode")
    if ignore:
        group.add_argument("-i", "--ignore-errors", action="store_true",
                           dest="ignored_ignore_errors", help="no effect in this mode")
    if editor:
        group.add_argument("--editor", metavar="COMMAND", dest="ignored_editor",
                           help="no effect in this mode")
    if hosts:
        group.add_argument("-H", "--hosts-file", metavar="FILE", dest="ignored_hosts_file",
                           help="no effect in this mode")


def add_run_options(parser: argparse.ArgumentParser, fans_out: bool) -> None:
    files = parser.add_argument_group("files and hosts")
    _queue_file(files)
    files.add_argument(
        "-H", "--hosts-file", metavar="FILE", default="hosts.yaml",
        help="the hosts (default: %(default)s)")
    files.add_argument(
        "--consumed-file", metavar="FILE",
        help="where taken jobs are recorded (default: consumed.yaml beside the queue)")
    files.add_argument(
        "-w", "--hosts", metavar="HOSTS", action="append", dest="hosts",
        help="the hosts, instead of a hosts file: a comma list with ranges as pdsh and "
             "clush write them (node[01-16],gpu1); repeatable; '-' reads them from stdin, "
             "^FILE from a file (one host or range per line, # comments)")
    files.add_argument(
        "-x", "--exclude", metavar="HOSTS", action="append", default=[],
        help="leave these hosts out (the same syntax as -w); repeatable")
    files.add_argument(
        "--slurm", metavar="JOBID", nargs="?", const="current",
        help="the hosts of a Slurm allocation (default: the one pegasus runs inside), "
             "launched with srun, instead of a hosts file")
    files.add_argument(
        "commands", nargs="*", metavar="-- COMMAND",
        help="jobs given on the command line after --, instead of a queue file (queue "
             "mode: each one job; broadcast: each one lockstep step); nothing is written")

    run = parser.add_argument_group("running")
    run.add_argument(
        "-d", "--daemon", action="store_true",
        help="keep running when the queue is empty, and run what is added to it")
    run.add_argument(
        "--dry-run", action="store_true",
        help="print every job the queue expands to, with the command each "
             "sub-host would run, and consume nothing")
    run.add_argument(
        "-u", "--timeout", metavar="SECONDS", type=_seconds,
        help="stop a job that runs longer (SIGTERM, then SIGKILL) and count it "
             "as failed; an entry's own `timeout` key wins (-u: as pdsh's)")
    run.add_argument(
        "-f", "--fanout", metavar="N", type=_positive,
        help="at most N jobs running at once over all sub-hosts, and at most N "
             "connections being opened at once (pdsh's and clush's fan-out; default: "
             "every sub-host at once)")
    run.add_argument(
        "--retries", metavar="N", type=_count, default=0,
        help="run a job that failed (non-zero exit, timeout, host lost) again, up to N "
             "more times, on another sub-host when one can take it; counted per taken "
             "job; an entry's own `retries` key wins (default: 0)")
    run.add_argument(
        "--kill-grace", metavar="SECONDS", type=_grace, default=5.0,
        help="time between SIGTERM and SIGKILL when a job is stopped "
             "(default: %(default)g)")
    run.add_argument(
        "-e", "--error-aborts", action="store_true",
        help="take no further job once a job failed (on any sub-host); what is left "
             "stays in the queue" + ("" if fans_out else "; the same as --halt soon,fail=1"))
    if fans_out:
        run.add_argument(
            "-i", "--ignore-errors", action="store_true",
            help="keep going after a failure (the default; accepted for Pegasus 1.4 "
                 "scripts, whose broadcast mode stopped at the first failure)")
    run.add_argument(
        "--halt", metavar="RULE", type=_halt,
        help="as GNU parallel's: now|soon,fail|success=N|P%%: stop after N failures (or "
             "successes), or P%% of the jobs finished so far; now cancels running jobs, "
             "soon lets them finish; what is not taken stays in the queue")
    run.add_argument(
        "--on-cancel", choices=("requeue", "drop"), default="requeue",
        help="what becomes of jobs stopped by Ctrl-C, SIGTERM or SIGHUP: put back at the "
             "top of the queue, in their order (default), or dropped (always, for jobs "
             "given after --, which no file keeps)")
    if not fans_out:
        run.add_argument(
            "--black-hole", metavar="K/SECONDS", type=_black_hole, default=(3, 10.0),
            help="pause a sub-host whose last K jobs all failed within SECONDS of starting, "
                 "while a healthy sub-host can take the jobs, and give it one job again "
                 "after a growing pause; 'off' never pauses (default: 3/10)")

    out = parser.add_argument_group("output")
    out.add_argument(
        "--prefix", choices=PREFIXES, default="brackets",
        help="how job output lines are shown: brackets, '[host (k=v)] line' with a start "
             "and a done line per job (default); colon, 'host: line' as pdsh and clush "
             "print it, for `| dshbak -c`; none, the lines alone (-N); with colon and none, "
             "stdout holds the jobs' output only, and a failed job's done line goes to "
             "stderr")
    out.add_argument(
        "-N", action="store_const", const="none", dest="prefix",
        help="no host prefix: the same as --prefix none")
    out.add_argument(
        "--stderr", choices=("stderr", "stdout"), default="stderr", dest="job_stderr",
        help="where the jobs' stderr lines go: stderr (default), or stdout with the "
             "rest, as Pegasus 1.4 printed them")
    out.add_argument(
        "-p", "--print-period", metavar="N", type=_count, default=1,
        help="print the Nth, 2Nth... output line of each stream of each job; 0 prints "
             "none (default: 1)")
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
        "--progress", action="store_true",
        help="off a terminal too, print a status line (running, done, failed, left, "
             "ETA) on stderr every few seconds")
    out.add_argument(
        "--joblog", metavar="FILE",
        help="append one tab-separated line per finished job, in GNU parallel's "
             "columns (Seq Host Starttime JobRuntime Send Receive Exitval Signal Command); "
             "'-' writes them on stdout")
    out.add_argument(
        "--log-dir", metavar="DIR",
        help="also write each job's output to a file of its own in DIR")

    conn = parser.add_argument_group("ssh")
    conn.add_argument(
        "-l", "--user", metavar="USER",
        help="log in as USER on the hosts that do not name a user themselves "
             "(user@host); wins over your ssh config's User. localhost then runs jobs "
             "over ssh too, unless USER is you")
    conn.add_argument(
        "-t", "--connect-timeout", metavar="SECONDS", type=_positive,
        help="give up connecting to a host after SECONDS (ssh's ConnectTimeout; wins "
             "over your ssh config; default: your ssh config's, else 10)")
    conn.add_argument(
        "--ssh-config", metavar="FILE",
        help="ssh configuration file to use instead of ~/.ssh/config (ssh -F)")
    conn.add_argument(
        "-o", "--ssh-option", metavar="OPTION", action="append", default=[],
        help="an ssh option such as 'User=ann' or 'Port=2222'; repeatable; "
             "these win over your ssh configuration and pegasus's own defaults")
    conn.add_argument(
        "--connect-limit", metavar="N", type=_positive, default=64,
        help="open at most N connections at the same time; a server that turns "
             "some away (sshd's MaxStartups) is tried again (default: %(default)s)")
    conn.add_argument(
        "--max-sessions", metavar="N", type=_positive, default=10,
        help="sshd's MaxSessions on the hosts: at most N-1 jobs at once run "
             "over one connection (default: %(default)s)")
    _compatible(parser, editor=True, ignore=not fans_out)


def add_lock_options(parser: argparse.ArgumentParser) -> None:
    files = parser.add_argument_group("files")
    _queue_file(files)
    parser.add_argument(
        "--editor", metavar="COMMAND",
        help="editor command, split as a shell would (default: $VISUAL, "
             "then $EDITOR, then vi)")
    parser.add_argument(
        "--on-invalid", choices=("keep", "restore"), default="keep",
        help="off a terminal, what to do when the edited file is invalid: keep "
             "it (runners wait for a fix) or restore the version from before; "
             "either way the exit status is 2 (default: %(default)s)")
    parser.add_argument(
        "--append", metavar="COMMAND", action="append",
        help="add COMMAND to the end of the queue without an editor, under the "
             "lock; repeatable; '-' reads a YAML list, or one command per line, "
             "from stdin")
    parser.add_argument(
        "--prepend", action="store_true",
        help="with --append: put the new entries at the top of the queue")
    parser.add_argument(
        "--requeue", metavar="KIND",
        choices=("failed", "cancelled", "timeout", "lost", "all-failed"),
        help="put jobs back from the outcome record, at the top of the queue, each once: "
             "those whose latest run failed (non-zero exit, or could not start), was "
             "cancelled, timed out, lost its host, or all-failed (failed, timeout, lost); "
             "never one whose latest run succeeded or that is in the queue already")
    parser.add_argument(
        "--since", metavar="TIME", type=_since,
        help="with --requeue: only jobs that ended since TIME (30m, 2h, 1d, or "
             "2026-12-01T09:00)")
    parser.add_argument(
        "--bottom", action="store_true",
        help="with --requeue: put them at the bottom of the queue instead")
    parser.add_argument(
        "--dry-run", action="store_true",
        help="with --requeue: list the jobs it would put back, and change nothing")
    _compatible(parser, daemon=True, period=True, ignore=True, hosts=True)


def add_add_options(parser: argparse.ArgumentParser) -> None:
    _queue_file(parser.add_argument_group("files"))
    parser.add_argument(
        "--prepend", action="store_true",
        help="put the command at the top of the queue instead")
    parser.add_argument(
        "words", nargs=argparse.REMAINDER, metavar="COMMAND",
        help="the command: its words, joined with spaces ('-': a YAML list, or one command "
             "per line, from stdin)")


def add_status_options(parser: argparse.ArgumentParser) -> None:
    _queue_file(parser.add_argument_group("files"))
    parser.add_argument(
        "--json", action="store_true",
        help="print one JSON object (its keys: docs/watching.md, pegasus status)")
    parser.add_argument(
        "--job", metavar="SEQ", type=_job_number,
        help="one run, by the #SEQ of its start and done lines: where and how it ran and "
             "ended, and the last lines of its stdout and stderr; RUNNER:SEQ names "
             "another runner's (the latest runner's by default)")
    parser.add_argument(
        "--watch", action="store_true",
        help="show the status again every --interval seconds until Ctrl-C: redrawn in "
             "place on a terminal, else one snapshot after another")
    parser.add_argument(
        "--interval", metavar="SECONDS", type=_seconds, default=1.0,
        help="with --watch: seconds between two looks (default: %(default)g)")


def _job_number(text: str) -> Tuple[Optional[str], int]:
    """`--job 37` or `--job RUNNER:37` -> (runner or None, 37)."""
    runner, _, number = text.rpartition(":")
    if not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError("write the #SEQ of a run (37), or RUNNER:SEQ; "
                                         "not %r" % text)
    return (runner or None, int(number))
