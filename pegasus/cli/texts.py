"""The words of `pegasus --help` and of each mode's help, and the hints for
options of other tools (pdsh, clush, parallel...) given by mistake. Standard
library only (see __init__.py)."""

from typing import List

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


def peer_hints(extras: List[str]) -> List[str]:
    """One line per unknown option a peer takes, naming pegasus's way."""
    hints: list = []
    for word in extras:
        name = word.split("=", 1)[0]
        hint = PEERS.get(name)
        if hint is not None and name not in [seen for seen, _ in hints]:
            hints.append((name, hint))
    return ["pegasus has no %s: %s" % pair for pair in hints]
