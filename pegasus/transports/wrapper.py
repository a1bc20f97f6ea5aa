"""The job wrapper: a small POSIX sh script that every job runs inside, on
its host (remote over ssh, a Slurm node under srun, or locally), whatever
the transport. It gives the job a process group of its own and stops that
group when pegasus asks, or when pegasus is gone.
"""

import itertools
import os
from typing import Callable, List, Optional, Tuple

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
_ZSH = '[ -n "$ZSH_VERSION" ] && unsetopt bg_nice 2>/dev/null\n'
_STOPPING = r"""hit() { kill -$1 $p 2>/dev/null; kill -$1 $j 2>/dev/null; }
alive() { kill -0 $p 2>/dev/null || kill -0 $j 2>/dev/null; }
"""
# The watcher, then the wait for the command: $s is its exit status.
_WATCH_AND_WAIT = r"""(
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
"""
JOB_WRAPPER = (_ZSH + r"""exec 3<&0 0</dev/null
if command -v setsid >/dev/null 2>&1; then setsid sh -c -- "$c" 3<&- & p=-$!
else sh -c -- "$c" 3<&- & p=; fi
j=$!
""" + _STOPPING + _WATCH_AND_WAIT + "exit $s")

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


# --- jobs in the master's own session ----------------------------------------------
#
# The master of an ssh sub-host runs a session of its own (ssh.py); once
# its login shell has passed the check, that session's `sh` runs the
# sub-host's jobs itself, one at a time, each inside the same wrapper: no
# ssh process, no new session and no login shell per job. pegasus writes a
# job as one line on the session's stdin, `J k=MARKER g=GRACE c='COMMAND'`
# (sh quoting; a newline in the command travels as '"$nl"'), and sh `eval`s
# the assignments. While the job runs, the session's stdin is the wrapper's
# channel (`t`, `k`, end-of-file) exactly as a job's own stdin is; a line
# that is no job (a `t` that came as the job ended) is skipped. The job's
# output is the session's output; when the command has ended, sh prints
# the marker, which pegasus chose at random for this job and which nothing
# else prints, at the end of each stream: `MARKER STATUS LEFT` on stdout,
# `MARKER` on stderr (pegasus cuts them out of the bytes, so a last line
# without a newline stays the job's). LEFT is 1 when processes of the job
# still run in its process group: they may hold its output open, and with
# plain ssh the job would last until they close it. Then sh ends the
# session instead of taking more jobs; it stays open, as a job's session
# would, until they close its output, and the master exits with it (see
# connections.py). Without setsid a job would get no process group of its
# own: sh answers `MARKER R` (refused) and pegasus runs the sub-host's jobs
# as sessions of their own.
SESSION_LOOP = _ZSH + "nl='\n'\n" + _STOPPING + r"""command -v setsid >/dev/null 2>&1 && S=1 || S=
while IFS= read -r l; do
case $l in "J "*) ;; *) continue ;; esac
eval "${l#J }"
if [ -z "$S" ]; then printf '%s R\n' "$k"; printf '%s\n' "$k" >&2; continue; fi
exec 3<&0 0</dev/null
setsid sh -c -- "$c" 3<&- & p=-$!
j=$!
""" + _WATCH_AND_WAIT + r"""exec 0<&3 3<&-
t=0; kill -0 $p 2>/dev/null && t=1
printf '%s %s %s\n' "$k" $s $t; printf '%s\n' "$k" >&2
[ $t = 0 ] || exit 0
done
"""

END_PREFIX = "pegasus-end-"
# A job line is written in one piece: at most PIPE_BUF bytes, which a pipe
# takes whole (the master's stdin holds nothing else while no job runs but
# a stray `t` or `k`). Longer commands run as sessions of their own.
SESSION_LINE_MAX = 4096
REFUSED = "R"


# Markers: a random part drawn once per pegasus, which no job can know,
# then a count (drawing 12 bytes from the system for every job costs more).
_MARKERS = itertools.count()
_MARKER_PREFIX = END_PREFIX + os.urandom(12).hex() + "-"


def session_job(command: str, grace: float) -> Optional[Tuple[bytes, bytes]]:
    """(the line that hands `command` to a master's session, the marker
    that will end its output), or None if it does not fit in one line."""
    raw = command.encode("utf-8", "surrogateescape")
    if b"\0" in raw:
        return None
    marker = ("%s%d" % (_MARKER_PREFIX, next(_MARKERS))).encode("ascii")
    quoted = b"'" + raw.replace(b"'", b"'\\''").replace(b"\n", b"'\"$nl\"'") + b"'"
    line = b"J k=%s g=%d c=%s\n" % (marker, grace_tenths(grace), quoted)
    if len(line) > SESSION_LINE_MAX:
        return None
    return line, marker


class MarkedStream:
    """One of the session's two streams while it runs a job: the job's
    bytes go to `emit` until the job's marker; the rest of the marker's
    line is then `said` (its words, as text), and `marked()` is called.
    `feed` returns what came after that line (not the job's)."""

    __slots__ = ("marker", "emit", "marked", "held", "said", "_tail")

    def __init__(self, marker: bytes, emit: Callable[[bytes], None],
                 marked: Callable[[], None]):
        self.marker = marker
        self.emit = emit
        self.marked = marked
        self.held = b""       # bytes that may be the start of the marker
        self.said: Optional[List[str]] = None
        self._tail: Optional[bytes] = None   # the marker's line so far

    @property
    def ended(self) -> bool:
        """Whether the marker's line is in."""
        return self.said is not None

    def feed(self, data: bytes) -> bytes:
        if self.said is not None:
            return data
        if self._tail is not None:
            return self._line(self._tail + data)
        data = self.held + data
        found = data.find(self.marker)
        if found >= 0:
            self.held = b""
            if found:
                self.emit(data[:found])
            return self._line(data[found + len(self.marker):])
        keep = _prefix_at_end(data, self.marker)
        self.held = data[len(data) - keep:] if keep else b""
        if len(data) > keep:
            self.emit(data[:len(data) - keep])
        return b""

    def _line(self, data: bytes) -> bytes:
        end = data.find(b"\n")
        if end < 0:
            self._tail = data
            return b""
        self._tail = None
        self.said = data[:end].decode("ascii", "replace").split()
        self.marked()
        return data[end + 1:]

    def close(self) -> None:
        """End of the stream before the marker: what was held was the job's."""
        if self.held:
            self.emit(self.held)
            self.held = b""


def _prefix_at_end(data: bytes, marker: bytes) -> int:
    """The length of the longest end of `data` that begins `marker`."""
    for size in range(min(len(marker) - 1, len(data)), 0, -1):
        if data.endswith(marker[:size]):
            return size
    return 0
