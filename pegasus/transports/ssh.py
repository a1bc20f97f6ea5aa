"""The ssh command lines: control masters and the jobs that reuse them, the
run's own ssh configuration file, the private directory of both, and what
ssh's own messages mean. Only argument lists and that file are made here;
the loop runs them, and transports.py decides which sub-hosts use ssh.

Who may change an option: ssh keeps the first value it obtains for each
option, taking the command line's `-o` before any configuration file, and
in a file the first line that applies. So pegasus puts its options in
three places:
- forced: on the command line before the user's `-o`; pegasus does not work
  without them, so nothing overrides them;
- off unless asked: on the command line after the user's `-o`; they beat
  every configuration file, and the user's `-o` beats them;
- defaults: in the run's configuration file (`write_config`), after the
  user's own configuration, which is included first: what the user's
  config sets wins; the rest gets pegasus's value.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from typing import List, Optional, Sequence, Tuple

from ..settings import SshSettings
from . import loginshell, wrapper

# The master runs this as its own session, through the same line as every
# job (loginshell.py): `sh` first checks that the line reached it intact
# -- a login shell that cannot run pegasus's jobs is refused here, before
# any job goes there -- then the marker tells us the connection is up (and
# the control socket listening). sh then runs the jobs pegasus writes on
# its stdin, one at a time (wrapper.SESSION_LOOP), until our end of its
# stdin closes -- when we are done, or when we die -- so a master never
# outlives pegasus. (`read`, a builtin, costs no process on the host.)
MASTER_READY = "pegasus-master-ready"
MASTER_COMMAND = loginshell.for_any_shell(
    loginshell.check_script() + "echo %s\n" % MASTER_READY + wrapper.SESSION_LOOP)

FORCED = [
    # Nobody is there to type a password or a passphrase, or to answer a
    # question: ssh must fail at once instead of waiting for an answer.
    "-o", "BatchMode=yes",
    # No pty: stdout and stderr stay apart, bytes arrive unaltered, and the
    # job wrapper's stdin stays the channel that stops the job.
    "-o", "RequestTTY=no",
    # A RemoteCommand in the ssh config would replace the command we send.
    "-o", "RemoteCommand=none",
]

OFF_UNLESS_ASKED = [
    # A fan-out would hand the user's agent to every host: whoever is root
    # on any of them could log in elsewhere as the user while jobs run.
    "-o", "ForwardAgent=no",
    # The same for the user's X display (keystrokes, screen), and a display
    # per connection is of no use to a batch job.
    "-o", "ForwardX11=no",
    # LocalForward & co. from the ssh config would collide between the many
    # connections of one run.
    "-o", "ClearAllForwardings=yes",
]


def defaults(settings: SshSettings) -> List[Tuple[str, str]]:
    """pegasus's defaults, for what the user's ssh config does not set."""
    return [
        # A host that does not answer is reported at start, not after minutes.
        ("ConnectTimeout", str(settings.connect_timeout)),
        # Notice a host that went away mid-job (about interval x count s).
        ("ServerAliveInterval", str(settings.alive_interval)),
        ("ServerAliveCountMax", str(settings.alive_count)),
        # As Pegasus 1.4 did: a host never seen before is added to
        # known_hosts (nobody is there to say yes); a changed key is still
        # refused. (accept-new needs OpenSSH 7.6, as RemoteCommand=none does;
        # Include, 7.3.)
        ("StrictHostKeyChecking", "accept-new"),
        # Forced on the command line already; here for the ssh a ProxyJump
        # starts, which reads this file but not our -o.
        ("BatchMode", "yes"),
    ]


def master_argv(settings: SshSettings, config: str, destination: str,
                control_path: str) -> List[str]:
    """The command line of the control master of one sub-host."""
    return _argv(settings, config, destination, [
        # Be the master for this sub-host's socket, in the foreground, and
        # exit with pegasus: no ControlPersist daemon left behind.
        "-o", "ControlMaster=yes",
        "-o", "ControlPath=" + control_path,
        "-o", "ControlPersist=no",
    ]) + ["--", destination, MASTER_COMMAND]


def job_argv(settings: SshSettings, config: str, destination: str, control_path: str,
             remote_command: str) -> List[str]:
    """The command line of one job, multiplexed over the sub-host's master."""
    return _argv(settings, config, destination, [
        # Use the master's socket, never become a master ourselves.
        "-o", "ControlMaster=no",
        "-o", "ControlPath=" + control_path,
    ]) + ["--", destination, remote_command]


def _argv(settings: SshSettings, config: str, destination: str,
          control: List[str]) -> List[str]:
    # `--` before the destination: a host named "-oProxyCommand=..." in a
    # hosts file stays a host name.
    return ([settings.program, "-F", config] + FORCED + control + _user(settings, destination)
            + settings.user_options() + OFF_UNLESS_ASKED)


def _user(settings: SshSettings, destination: str) -> List[str]:
    """-l USER (pdsh's): ssh's own -l, which wins over the config's User;
    but a host written user@host keeps its user, as in pdsh (ssh itself
    would let -l win)."""
    if settings.user is None or "@" in destination:
        return []
    return ["-l", settings.user]


# --- the run's ssh configuration file -------------------------------------------

CONFIG_NAME = "ssh_config"
# What `ssh` reads without -F; -F skips both, so the run's file includes them.
# ssh expands `~` from the password database, as it does for ~/.ssh/config.
# The system file is where Debian's, Red Hat's and Apple's ssh look; an ssh
# built for another prefix (/usr/local/etc/ssh) is not followed there.
HOME_CONFIG = "~/.ssh/config"
SYSTEM_CONFIG = "/etc/ssh/ssh_config"
# A path ssh's Include takes as it is: no spaces, quotes, globs or tokens.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9_./+@,:=-]*")


def write_config(directory: str, settings: SshSettings) -> str:
    """Write the run's ssh configuration file in `directory` (private);
    return what to pass to `ssh -F`.

    It includes the user's configuration first -- the --ssh-config file, or
    ~/.ssh/config then the system file, as ssh reads them without -F -- and
    sets pegasus's defaults after it, under `Host *`. A relative Include in
    the user's files means the same as before: ssh reads a -F file as a
    user file, so it resolves against ~/.ssh either way.

    A --ssh-config file that ssh would refuse to Include (owned by another
    user, or group or world writable) is copied in instead: ssh checks
    included files, not a -F file. One pegasus cannot read is passed to -F
    as it is, so that ssh says what is wrong with it, as without pegasus.
    """
    lines = ["# The ssh configuration of one pegasus run, removed when it ends.",
             "# The user's configuration first: what it sets wins."]
    if settings.config_file is None:
        lines += ["Include " + HOME_CONFIG, "Include " + SYSTEM_CONFIG]
    elif settings.config_file != "none":
        path = os.path.abspath(settings.config_file)
        included = _include(path)
        if included is None:
            return settings.config_file
        lines += included
    lines += ["", "# pegasus's defaults, for what the configuration above leaves unset.",
              "Host *"]
    lines += ["    %s %s" % option for option in defaults(settings)]
    config = os.path.join(directory, CONFIG_NAME)
    descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write("\n".join(lines) + "\n")
    return config


def _include(path: str) -> Optional[List[str]]:
    """The lines that bring the user's file `path` in, or None if it
    cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as stream:
            info = os.fstat(stream.fileno())
            text = stream.read()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    ssh_accepts = info.st_uid in (0, os.getuid()) and not info.st_mode & 0o022
    if ssh_accepts and _PLAIN_PATH.fullmatch(path):
        return ["Include " + path]
    return ["# The text of %s:" % path.replace("\n", "?"), text.rstrip("\n"),
            "# End of the text of %s." % path.replace("\n", "?")]


class ControlDirectory:
    """A private (0700) directory for the control sockets of one run, and
    its ssh configuration file.

    Socket paths must stay under ~104 bytes, and ssh appends a random suffix
    while binding, so the directory lives in a short temporary path, and each
    sub-host's socket is named by its index. (ssh's `%C` hashes host, port
    and user, which sub-hosts of one host share, so it cannot tell them
    apart.) Each new master of a sub-host gets a new name (its generation):
    a master that died without removing its socket leaves a file at the old
    name, and a new master would find it there and run without any socket.
    """

    PREFIX = "pegasus-"
    OWNER = "owner"

    def __init__(self) -> None:
        base = tempfile.gettempdir()
        if len(base) > 40:
            base = "/tmp"
        remove_stale(base, self.PREFIX, self.OWNER)
        self.path = tempfile.mkdtemp(prefix=self.PREFIX, dir=base)
        with open(os.path.join(self.path, self.OWNER), "w") as stream:
            stream.write("%d\n" % os.getpid())
        self._config: Optional[str] = None

    def socket(self, index: int, generation: int = 0) -> str:
        name = str(index) if not generation else "%d.%d" % (index, generation)
        return os.path.join(self.path, name)

    def ssh_config(self, settings: SshSettings) -> str:
        """What to pass to `ssh -F` in this run (written once)."""
        if self._config is None:
            self._config = write_config(self.path, settings)
        return self._config

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def remove_socket(path: str) -> None:
    """Remove the socket a dead master left behind, if any."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except OSError:
        pass


def remove_stale(base: str, prefix: str, owner: str) -> None:
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


# --- what ssh says ----------------------------------------------------------------

# What ssh prints, and nothing else, when a server closes a connection before
# it even says hello: sshd's MaxStartups (or, in newer versions, its
# penalties) turning us away for now -- the first line, and at LogLevel INFO
# the second, where a ProxyJump or ProxyCommand makes the host "UNKNOWN port
# 65535". The second alone is no such sign: ssh prints it whenever a
# connection ends before it is up, whatever the cause.
_CLOSED_BEFORE_HELLO = re.compile(
    r"(kex|ssh)_exchange_identification: (read: Connection reset by peer|"
    r"Connection closed by remote host|"
    r"banner line \d+: (Exceeded MaxStartups|Not allowed at this time))")
_CLOSED_BY = re.compile(r"Connection (closed|reset) by \S+ port \d+")

# Lines that follow the cause of a failure, weakest first: when ssh says
# nothing better, the most useful of them is the reason.
_CONSEQUENCES = [
    re.compile(r"Warning: Permanently added .*"),
    _CLOSED_BY,
    _CLOSED_BEFORE_HELLO,
    re.compile(r"banner exchange: .*"),
    # A ProxyJump's own ssh could not reach the target (at LogLevel INFO it
    # says why first: "channel 0: open failed: connect failed: ...").
    re.compile(r"stdio forwarding failed"),
]


def turned_away(stderr_lines: Sequence[str]) -> bool:
    """Whether a master failed only because the server turned it away for
    now (try again soon), rather than for a reason that stays: every line
    ssh printed says the server closed the connection before greeting us,
    and none says anything else (a ProxyJump that failed adds its own)."""
    lines = [line.strip() for line in stderr_lines if line.strip()]
    return any(_CLOSED_BEFORE_HELLO.fullmatch(line) for line in lines) and all(
        _CLOSED_BEFORE_HELLO.fullmatch(line) or _CLOSED_BY.fullmatch(line) for line in lines)


def failure_reason(stderr_lines: Sequence[str], returncode: Optional[int],
                   destination: str = "HOST") -> str:
    """A one-line reason from what ssh printed when it failed: its most
    useful line (the cause, not what followed from it), or what to do about
    a host key it refused."""
    lines = [line.strip() for line in stderr_lines if line.strip()]
    host_key = _host_key_reason(lines, destination)
    if host_key is not None:
        return host_key
    if not lines:
        if returncode is not None and returncode < 0:
            return "ssh was killed by signal %d" % -returncode
        return "ssh exited with status %s" % returncode

    def weakness(line: str) -> int:
        for rank, pattern in enumerate(_CONSEQUENCES):
            if pattern.fullmatch(line):
                return len(_CONSEQUENCES) - rank
        return 0

    # The strongest line; among equals, the last (ssh's fatal error).
    return min(reversed(lines), key=weakness)


_CHANGED_FOR = re.compile(r"Host key for (\S+) has changed")
_UNKNOWN_FOR = re.compile(r"No \S+ host key is known for (\S+) and you have requested strict")


def _host_key_reason(lines: List[str], destination: str) -> Optional[str]:
    text = "\n".join(lines)
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
        found = _CHANGED_FOR.search(text)
        host = found.group(1) if found else destination
        remove = next((line for line in lines if line.startswith("ssh-keygen ")),
                      "ssh-keygen -R '%s'" % host)
        return ("host key verification failed: the host key of %s has changed "
                "(REMOTE HOST IDENTIFICATION HAS CHANGED). Once you have checked that the "
                "new key is expected, remove the old one with: %s" % (host, remove))
    if "Host key verification failed." not in lines:
        return None
    found = _UNKNOWN_FOR.search(text)
    if found:
        return ("host key verification failed: no key of %s is in known_hosts and "
                "StrictHostKeyChecking is yes (ssh config or -o); check the host's key and "
                "add it, or drop that setting to let pegasus accept new keys" % found.group(1))
    return ("host key verification failed for %s; if its key changed on purpose, "
            "remove the old one with: ssh-keygen -R '%s'" % (destination, destination))


# What the ssh client of a job may print on the job's stderr about itself
# (whole lines; never the remote command's words): the master was gone and
# it connected by itself, the master refused it a session (sshd's
# MaxSessions) and it connected by itself, the host key it added then, the
# connection it lost then. A job that the master's own session runs has the
# master's stderr: there the master says how its connection went.
_OWN = re.compile(
    r"mux_client_\w+: .*|"
    r"Warning: Permanently added .* to the list of known hosts\.|"
    r"Connection to \S+ closed by remote host\.|"
    r"Timeout, server \S+ not responding\.|"
    r"client_loop: send disconnect: .*|"
    r"Read from remote host \S+: .*")


def own_message(line: str, control_directory: Optional[str]) -> Optional[str]:
    """If ssh itself printed `line` on a job's stderr (not the job), what it
    says; else None."""
    text = line.strip()
    if control_directory and text.startswith("Control socket connect(%s/" % control_directory):
        return text
    if _OWN.fullmatch(text):
        return text
    return None
