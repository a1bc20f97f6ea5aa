"""The ssh command lines: control masters, the jobs that reuse them, and the
remote wrapper every job runs in.

Only argument lists are built here; the loop runs them.
"""

import os
import re
import shutil
import tempfile

from .template import shell_quote

# The master runs this as its own session: the marker tells us the
# connection is up (and the control socket listening); the login shell then
# waits in `read` until our end of its stdin closes -- when we are done, or
# when we die -- so a master never outlives pegasus. (`read`, a builtin,
# costs no process on the host.)
MASTER_READY = "pegasus-master-ready"
MASTER_COMMAND = "echo %s; read pegasus" % MASTER_READY

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
# - When the command has ended but its group has not, the shell sends the
#   watcher SIGTERM and waits for it: an idle watcher dies at once and the
#   group's leftovers are left alone (the job ended by itself); a stopping
#   watcher ignores it, so the shell exits only once nothing of the job is
#   left.
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
alive && kill $w 2>/dev/null && wait $w 2>/dev/null
kill $w 2>/dev/null
exit $s"""

CANCEL = b"t\n"
KILL = b"k\n"

# Linux caps one argument at 128 KiB (MAX_ARG_STRLEN), and the remote login
# shell receives the whole wrapped command as one argument.
MAX_REMOTE_COMMAND = 128 * 1024 - 1


def grace_tenths(seconds):
    return max(0, int(round(seconds * 10)))


def wrapped_local(command, grace):
    """argv running `command` locally inside the job wrapper."""
    return ["sh", "-c", "c=$1 g=$2\n" + JOB_WRAPPER, "pegasus", command,
            str(grace_tenths(grace))]


def wrapped_remote(command, grace):
    """The one string ssh sends. The remote login shell (sh, bash, dash,
    zsh, ksh: any POSIX shell) runs the wrapper itself -- one exec less per
    job than handing it to `sh` -- and the wrapper hands `command` to
    `sh -c` unchanged, whatever quotes or bytes it holds."""
    return "c=%s g=%d\n%s" % (shell_quote(command), grace_tenths(grace), JOB_WRAPPER)


class SshSettings:
    """What the user said about ssh: `-F FILE` and `-o` options."""

    def __init__(self, config_file=None, options=(), connect_timeout=10,
                 alive_interval=5, alive_count=3, program="ssh"):
        self.config_file = config_file
        self.options = list(options)
        self.connect_timeout = connect_timeout
        self.alive_interval = alive_interval
        self.alive_count = alive_count
        self.program = program

    def user_args(self):
        """The user's own options. They come first on every command line:
        ssh keeps the first value it gets for an option, so these win."""
        args = []
        if self.config_file:
            args += ["-F", self.config_file]
        for option in self.options:
            args += ["-o", option]
        return args


def master_argv(settings, destination, control_path):
    """The command line of the control master of one sub-host."""
    return [settings.program] + settings.user_args() + [
        # Nobody is there to type a password or accept a host key.
        "-o", "BatchMode=yes",
        # A host that does not answer is reported at start, not after minutes.
        "-o", "ConnectTimeout=%d" % settings.connect_timeout,
        # Notice a host that went away mid-job (about interval x count s).
        "-o", "ServerAliveInterval=%d" % settings.alive_interval,
        "-o", "ServerAliveCountMax=%d" % settings.alive_count,
        # Be the master for this sub-host's socket, in the foreground, and
        # exit with pegasus: no ControlPersist daemon left behind.
        "-o", "ControlMaster=yes",
        "-o", "ControlPath=" + control_path,
        "-o", "ControlPersist=no",
    ] + _session_options() + ["--", destination, MASTER_COMMAND]


def job_argv(settings, destination, control_path, remote_command):
    """The command line of one job, multiplexed over the sub-host's master."""
    return [settings.program] + settings.user_args() + [
        # Use the master's socket, never become a master ourselves.
        "-o", "ControlMaster=no",
        "-o", "ControlPath=" + control_path,
        # If the master is gone, a direct connection must not prompt either.
        "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=%d" % settings.connect_timeout,
    ] + _session_options() + ["--", destination, remote_command]


def _session_options():
    return [
        # No pty: stdout and stderr stay apart and bytes arrive unaltered.
        "-o", "RequestTTY=no",
        # A RemoteCommand in ~/.ssh/config would replace the command we send.
        "-o", "RemoteCommand=none",
        # LocalForward & co. from ~/.ssh/config would collide between the
        # many connections of one run.
        "-o", "ClearAllForwardings=yes",
    ]


class ControlDirectory:
    """A private (0700) directory for the control sockets of one run.

    Socket paths must stay under ~104 bytes, and ssh appends a random suffix
    while binding, so the directory lives in a short temporary path, and each
    sub-host's socket is named by its index. (ssh's `%C` hashes host, port
    and user, which sub-hosts of one host share, so it cannot tell them
    apart.)
    """

    PREFIX = "pegasus-"
    OWNER = "owner"

    def __init__(self):
        base = tempfile.gettempdir()
        if len(base) > 40:
            base = "/tmp"
        remove_stale(base, self.PREFIX, self.OWNER)
        self.path = tempfile.mkdtemp(prefix=self.PREFIX, dir=base)
        with open(os.path.join(self.path, self.OWNER), "w") as stream:
            stream.write("%d\n" % os.getpid())

    def socket(self, index):
        return os.path.join(self.path, str(index))

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


def remove_stale(base, prefix, owner):
    """Remove the socket directories of runs that died without cleaning up
    (SIGKILL): ours, with an owner file naming a process that is gone."""
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix):
            continue
        path = os.path.join(base, name)
        try:
            if os.lstat(path).st_uid != os.getuid():
                continue
            with open(os.path.join(path, owner)) as stream:
                pid = int(stream.read().strip())
        except (OSError, ValueError):
            continue
        try:
            os.kill(pid, 0)
            continue  # that run is alive
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            continue


_REFUSED = re.compile(
    r"kex_exchange_identification|Connection reset by peer|"
    r"Connection closed by .* port|ssh_exchange_identification|"
    r"Too many authentication|no more sessions|"
    r"administratively prohibited", re.IGNORECASE)


def looks_refused(stderr_text):
    """Whether ssh failed because the server turned us away for now (its
    MaxStartups or MaxSessions) rather than for good."""
    return bool(_REFUSED.search(stderr_text))


def failure_reason(stderr_lines, returncode):
    """A one-line reason from what ssh printed when it failed."""
    lines = [line.strip() for line in stderr_lines if line.strip()]
    useful = [line for line in lines if not line.startswith(("Warning: Permanently added",))]
    if useful:
        return useful[-1]
    return "ssh exited with status %s" % returncode
