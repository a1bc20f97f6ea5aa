"""The command line: argparse only.

This module imports nothing but the standard library, because argparse-manpage
executes it at build time to write man/pegasus.1, and because `pegasus --help`
must answer without paying for PyYAML or pybars3.
"""

import argparse
import sys
import time

# 2.x: this Python re-implementation, which reads Pegasus 1.4's files and command
# line; a script that compares versions sees an upgrade from 1.4, not a downgrade.
__version__ = "2.0.0"

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
file (nothing was run or consumed), 130 cancelled by Ctrl-C, 141 the reader
of its output left (`pegasus q | head`: running jobs went back to the queue).
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
told where and offered to edit it again. An editor that fails (exits non-zero,
as vim's :cq) changes nothing: queue.yaml is put back as it was, exit status 1.

example:
  $ pegasus l                      # edit with $VISUAL, $EDITOR or vi
  $ pegasus l --editor 'code --wait'
  $ pegasus l --append 'python train.py --lr 0.5'
  $ generate-jobs | pegasus l --append -
  $ pegasus l --requeue failed     # put failed jobs back, from the outcome record
"""

STATUS_HELP = """\
Show what every runner of a queue is doing, from what the runners keep beside
the queue: no connection to a runner is needed, so this works from another
terminal or another login node sharing the directory.

--json prints one object: queued (jobs left; null if the queue is invalid, with
queue_error), runners (each: pid, machine, mode, daemon, since, subhosts,
connected, journal, running: [{seq, host, command, started, elapsed,
attempt}]), recoverable (jobs of dead runners: [{runner, command, job}]),
finished (counts keyed ok, failed, cancelled, lost, timeout), recent_failures,
per_subhost ([{host, running, done, failed, mean}]), at. Exit status 0; 2 when
the queue file is missing; with --job, 1 when no run has that number.

example:
  $ pegasus status                 # runners, running jobs, what is left, outcomes
  $ pegasus status --json | jq .finished
  $ pegasus status --job 37        # how run #37 ended, and its last lines (ts -c)
  $ pegasus status --watch         # again every second, until Ctrl-C
"""

ADD_HELP = """\
Add one command to the end of the queue, under its lock, as task-spooler's
`ts CMD` does: the short form of `pegasus l --append`. The words are joined
with spaces into one shell command, as ssh and pdsh join theirs, so quote
what the queue's shell must see whole.

example:
  $ pegasus add python train.py --lr 0.5
  $ pegasus add 'cd ~/project && make test'
  $ pegasus add --prepend -Q jobs.yaml ./urgent.sh
"""

COMING_FROM = """\
coming from pdsh, clush, GNU parallel, pssh or ts (peer, then pegasus):
  pdsh -w 'n[1-8]' -l ann -f 4 -t 5 -u 60 cmd
      pegasus b -w 'n[1-8]' -l ann -f 4 -t 5 -u 60 -- cmd
  pdsh -w 'n[1-8]' cmd | dshbak -c;  clush -w 'n[1-8]' -b cmd
      pegasus b -w 'n[1-8]' --prefix colon -- cmd | dshbak -c;  ... --gather
  pdsh -N ...
      pegasus b -N ...
  parallel --onall -S n1,n2 ::: 'cmd a' 'cmd b'
      pegasus b -w n1,n2 -- 'cmd a' 'cmd b'
  parallel -S n1,n2 --joblog - ::: 'cmd a' 'cmd b'
      pegasus q -w n1,n2 --joblog - -- 'cmd a' 'cmd b'
  parallel --resume-failed ...
      pegasus l --requeue failed; pegasus q
  parallel --bar / --eta
      the status line (on a terminal), or --progress
  pssh -h hosts.txt -p 8 -t 60 cmd
      pegasus b -H hosts.yaml -f 8 -u 60 -- cmd
  ts cmd;  ts -c ID;  ts -l
      pegasus add cmd;  pegasus status --job SEQ;  pegasus status
"""

ADHOC_EPILOG = """\
without files, as pdsh and clush users type it:
  $ pegasus b -w 'node[01-16]' -- uname -r
  $ pegasus q -w node-1,node-2 -x node-2 -- 'cmd 1' 'cmd 2'
"""


# --- values -------------------------------------------------------------------

def _bounded(convert, low, above, words):
    """An argparse type: `convert`ed, and above (or at least) `low`."""
    def check(text):
        value = convert(text)
        if not (value > low if above else value >= low):
            raise argparse.ArgumentTypeError("must be " + words)
        return value
    return check


_seconds = _bounded(float, 0, True, "a number of seconds above 0")
_grace = _bounded(float, 0, False, "a number of seconds, 0 or more")
_count = _bounded(int, 0, False, "0 or more")
_positive = _bounded(int, 1, False, "1 or more")

# --prefix: how a job's output lines are shown (output.py).
PREFIXES = ("brackets", "colon", "none")


def _halt(text):
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


def _black_hole(text):
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


def _since(text):
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


# --- options ------------------------------------------------------------------

def _queue_file(group):
    group.add_argument(
        "-Q", "--queue-file", metavar="FILE", default="queue.yaml",
        help="the queue (default: %(default)s)")


def _compatible(parser, *, daemon=False, period=False, ignore=False, editor=False,
                hosts=False):
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


def _add_run_options(parser, fans_out):
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
             "top of the queue, in their order (default), or dropped")
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


def _add_lock_options(parser):
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


def build_parser():
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

    def mode(name, alias, summary, text, epilog=None):
        return modes.add_parser(name, aliases=[alias] if alias else [], help=summary,
                                description=text, epilog=epilog,
                                formatter_class=argparse.RawDescriptionHelpFormatter)

    _add_run_options(mode("queue", "q", "run each command once, on the next free host",
                          QUEUE_HELP, ADHOC_EPILOG), fans_out=False)
    _add_run_options(mode("broadcast", "b", "run each command on every host, in lockstep",
                          BROADCAST_HELP, ADHOC_EPILOG), fans_out=True)
    _add_lock_options(mode("lock", "l", "lock queue.yaml and open it in an editor",
                           LOCK_HELP))
    _add_add_options(mode("add", None, "add a command to the end of the queue (pegasus l "
                                       "--append)", ADD_HELP))
    _add_status_options(mode("status", None, "what every runner of a queue is doing",
                             STATUS_HELP))
    return parser


def _add_add_options(parser):
    _queue_file(parser.add_argument_group("files"))
    parser.add_argument(
        "--prepend", action="store_true",
        help="put the command at the top of the queue instead")
    parser.add_argument(
        "words", nargs=argparse.REMAINDER, metavar="COMMAND",
        help="the command: its words, joined with spaces ('-': a YAML list, or one command "
             "per line, from stdin)")


def _add_status_options(parser):
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


def _job_number(text):
    """`--job 37` or `--job RUNNER:37` -> (runner or None, 37)."""
    runner, _, number = text.rpartition(":")
    if not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError("write the #SEQ of a run (37), or RUNNER:SEQ; "
                                         "not %r" % text)
    return (runner or None, int(number))


MODE_NAMES = {"q": "queue", "queue": "queue", "b": "broadcast", "broadcast": "broadcast",
              "l": "lock", "lock": "lock", "add": "add", "status": "status"}

# The peers' options that pegasus does not take, and what to write instead.
PEERS = {
    "--bar": "--progress prints a status line with an ETA (always shown on a terminal)",
    "--eta": "--progress prints a status line with an ETA (always shown on a terminal)",
    "--tag": "every output line carries its sub-host already; --prefix colon prints "
             "'host: line'",
    "--tagstring": "--prefix brackets|colon|none chooses how lines name their sub-host",
    "--onall": "pegasus b runs each job on every host",
    "--nonall": "pegasus b -- COMMAND runs COMMAND on every host",
    "--resume-failed": "pegasus l --requeue failed puts failed jobs back; then run again",
    "--retry-failed": "pegasus l --requeue failed puts failed jobs back; then run again",
    "--resume": "what was not run stays in queue.yaml: run pegasus q again",
    "-S": "hosts come from -w HOSTS or -H hosts.yaml (parallel's -S); the exit status is "
          "already 1 when a job failed anywhere (pdsh's -S)",
    "--sshlogin": "hosts come from -w HOSTS or -H hosts.yaml",
    "--sshloginfile": "hosts come from -H hosts.yaml",
    "--slf": "hosts come from -H hosts.yaml",
    "-k": "lines are printed as they come, whole; --gather prints each job's output "
          "whole when it ends",
    "--keep-order": "lines are printed as they come, whole; --gather prints each job's "
                    "output whole when it ends",
    "-j": "each sub-host runs one job at a time (slots: N in hosts.yaml for more); -f N "
          "caps the jobs running at once",
    "--jobs": "each sub-host runs one job at a time (slots: N in hosts.yaml for more); "
              "-f N caps the jobs running at once",
    "-P": "-f N: at most N jobs at once",
    "--par": "-f N: at most N jobs at once",
    "-b": "--gather prints each distinct output once, under its sub-hosts",
    "-B": "--gather --stderr stdout prints each distinct output once, with stderr",
    "-L": "--prefix colon prints 'host: line'",
    "-g": "host groups are not supported: list the hosts with -w or in hosts.yaml",
    "-a": "the hosts of hosts.yaml are used by default (-H FILE for another)",
    "-R": "pegasus reaches hosts with ssh (localhost runs locally, Slurm nodes use srun)",
    "--results": "--log-dir DIR keeps each job's output in a file of its own",
    "--line-buffer": "every line is printed whole as it comes, by default",
    "-c": "pegasus status --job SEQ shows a finished job's last lines",
}


def _peer_hints(extras):
    """One line per unknown option a peer takes, naming pegasus's way."""
    hints: list = []
    for word in extras:
        name = word.split("=", 1)[0]
        hint = PEERS.get(name)
        if hint is not None and name not in [seen for seen, _ in hints]:
            hints.append((name, hint))
    return ["pegasus has no %s: %s" % pair for pair in hints]


def _takes_value(parser):
    """Every option string of every mode that takes a value."""
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _takes_value(sub)
        elif action.option_strings and action.nargs != 0:
            found.update(action.option_strings)
    return found


def mode_first(argv, parser):
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


def parse_args(argv=None):
    """Parse the command line; the mode is normalised to its long name.
    `args.notes` lists the options given that do nothing in this mode."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    argv = mode_first(argv, parser)
    args, extras = parser.parse_known_args(argv)
    if extras:
        parser.error("\n".join(["unrecognized arguments: %s" % " ".join(extras)]
                               + _peer_hints(extras)))
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
