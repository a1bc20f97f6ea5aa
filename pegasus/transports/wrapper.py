"""The job wrapper: a small POSIX sh script that every job runs inside, on
its host (remote over ssh, a Slurm node under srun, or locally), whatever
the transport. It gives the job a process group of its own and stops that
group when pegasus asks, or when pegasus is gone.
"""

from typing import List, Optional

from ..templates.template import shell_quote
from . import loginshell

# Every job runs inside this POSIX sh wrapper, on the remote host (or
# locally for localhost). $c is the command, run by `sh -c` byte-exact; $g
# the grace period in tenths of a second.
#
# - The command gets its own process group (setsid), so that cancelling it
#   reaches its pipelines and background children too.
# - Its stdin is /dev/null. The wrapper's own stdin (kept as fd 3) is the
#   ssh channel from pegasus: a line `t` asks for SIGTERM, `k` for SIGKILL,
#   and end-of-file -- pegasus cancelled, died, or lost the connection --
#   means SIGTERM, the grace period, then SIGKILL.
# - The shell itself only waits for the command; a subshell (the watcher)
#   reads the channel. Nothing ever signals the waiting shell: a trap that
#   interrupts `wait` just as the job ends makes bash lose the job's status
#   and wait forever, and ksh runs no trap at all while `read` blocks.
# - Once asked to stop, the watcher ignores SIGTERM, signals the group, and
#   stays until the group is gone, SIGKILL at the end of the grace period.
#   Meanwhile a second subshell keeps reading: a later `k` kills at once,
#   and its exit tells the watcher to stop waiting (an init that is slow to
#   reap zombies must not stretch a kill to the whole grace period).
# - When the command has ended, the shell sends the watcher SIGTERM and
#   waits for it: an idle watcher dies at once and the group's leftovers, if
#   any, are left alone (the job ended by itself); a stopping watcher
#   ignores it, so the shell exits only once nothing of the job is left.
#   Waiting even when the group is gone means that no process of the
#   wrapper outlives it: under srun with proctrack/cgroup, a process still
#   in the step when its task exits costs a second and a SIGKILL.
# - ksh93 gives the status of a command killed by signal N as 256+N; the
#   wrapper exits 128+N, as with every other shell.
# - Known: mksh may lose a SIGTERM that reaches a subshell it has just
#   forked. A job ending within a millisecond of its start then leaves the
#   watcher reading until pegasus closes its end (seen in about 0.5% of
#   such jobs under load, with this ending and with the one before it).
# - Without setsid (some BSDs), only the command's top process is signalled.
# - `hit` and `alive` also name the leader itself: for a moment after the
#   fork, setsid has not yet made its group. A stop that comes that early
#   waits for the group: before its exec, the child still runs the login
#   shell's signal handlers, and ksh's would swallow the SIGTERM. One `kill`
#   per target: ksh's stops at the first target that fails.
# - `wait ... 2>/dev/null` keeps the shells' own "Killed" notices out of the
#   job's output; zsh would otherwise renice background jobs (bg_nice).
JOB_WRAPPER = r"""[ -n "$ZSH_VERSION" ] && unsetopt bg_nice 2>/dev/null
exec 3<&0 0</dev/null
if command -v setsid >/dev/null 2>&1; then setsid sh -c -- "$c" 3<&- & p=-$!
else sh -c -- "$c" 3<&- & p=; fi
j=$!
hit() { kill -$1 $p 2>/dev/null; kill -$1 $j 2>/dev/null; }
alive() { kill -0 $p 2>/dev/null || kill -0 $j 2>/dev/null; }
(
s=TERM
while read -r m <&3; do
case $m in t) break ;; k) s=KILL; break ;; esac
done
n=0
while [ -n "$p" ] && ! kill -0 $p 2>/dev/null && kill -0 $j 2>/dev/null && [ $n -lt 20 ]
do sleep 0.1; n=$((n+1)); done
trap '' TERM
hit $s
if [ $s = TERM ]; then
(while read -r m <&3; do [ "$m" = k ] && { hit KILL; exit 0; }; done; exit 1) &
r=$!
n=0
while alive && [ $n -lt $g ]; do
[ -z "$r" ] || kill -0 $r 2>/dev/null || { wait $r && break; r=; }
sleep 0.1; n=$((n+1))
done
hit KILL
[ -z "$r" ] || kill -9 $r 2>/dev/null
fi
) &
w=$!
wait $j 2>/dev/null; s=$?
[ $s -gt 256 ] && s=$((s-128))
kill $w 2>/dev/null; wait $w 2>/dev/null
exit $s"""

CANCEL = b"t\n"
KILL = b"k\n"

# Linux caps one argument at 128 KiB (MAX_ARG_STRLEN), and the remote login
# shell receives the whole wrapped command as one argument.
MAX_REMOTE_COMMAND = 128 * 1024 - 1


def grace_tenths(seconds: float) -> int:
    return max(0, round(seconds * 10))


def wrapped_local(command: str, grace: float, setup: str = "",
                  value: Optional[str] = None) -> List[str]:
    """argv running `command` in a local `sh` inside the job wrapper (on
    this machine, or wherever a launcher such as srun starts it). `setup`:
    shell lines run before the wrapper, which find `value` in $d."""
    head = "c=$1 g=$2" + ("" if value is None else " d=$3")
    argv = ["sh", "-c", head + "\n" + setup + JOB_WRAPPER, "pegasus", command,
            str(grace_tenths(grace))]
    return argv if value is None else argv + [value]


def wrapped_remote(command: str, grace: float) -> str:
    """The one string ssh sends: whatever the remote login shell (see
    loginshell.py), `sh` runs the wrapper, which hands `command` to
    `sh -c` unchanged, whatever quotes or bytes it holds."""
    head = "c=%s g=%d\n" % (shell_quote(command), grace_tenths(grace))
    return loginshell.line(loginshell.escape(head) + _ESCAPED_WRAPPER)


# The same for every job: escaped once.
_ESCAPED_WRAPPER = loginshell.escape(JOB_WRAPPER)
