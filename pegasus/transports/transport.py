"""How jobs reach a sub-host: the transport seam.

Each sub-host gets one Transport object, chosen once when the hosts are
loaded (`attach`): `local` for localhost, `srun` for the nodes of a Slurm
allocation (unless their entry says `launcher: ssh`), `ssh` for everything
else. It knows how to open the sub-host's connection (if it has one), how
to build a job's command line, what it can carry, and what its exit
statuses and its own messages mean. Nothing else in pegasus asks
"localhost, ssh or srun?".

Every transport runs the job inside the same job wrapper (wrapper.py), so
stopping a job is the same everywhere: a line on the wrapper's stdin.
"""

from __future__ import annotations

import os
import pwd
from typing import TYPE_CHECKING, ClassVar, Dict, List, Mapping, Optional, Sequence, Tuple, Type

from ..errors import UsageError
from . import loginshell, srun, ssh, wrapper

if TYPE_CHECKING:
    from ..settings import Settings
    from ..spec.hosts import SubHost
    from .ssh import ControlDirectory

LOCAL_NAMES = frozenset(["localhost", "127.0.0.1", "::1"])


class Transport:
    """How jobs reach one sub-host. Subclasses say how."""

    kind: ClassVar[str] = "?"
    # Whether a connection (a master process) must be up before jobs start.
    needs_connection: ClassVar[bool] = False

    def __init__(self, host: SubHost, settings: Settings):
        self.host = host
        self.settings = settings

    @property
    def sessions(self) -> Optional[int]:
        """At most this many jobs at once on this sub-host whatever its
        slots; None: no limit."""
        return None

    def prepare(self, control: ControlDirectory) -> None:
        """The run starts and this is its private directory: make there
        what the command lines below need (once per run, before any)."""

    def job_argv(self, command: str, control_path: str,
                 slots: Optional[Sequence[int]] = None) -> List[str]:
        """The command line of one job (`slots`: its slots, if it has any)."""
        raise NotImplementedError

    def job_env(self, environ: Mapping[str, str]) -> Optional[Dict[str, str]]:
        """The environment of a job's command line, from pegasus's own;
        None: pegasus's own."""
        return None

    def command_problem(self, command: str) -> Optional[str]:
        """Why `command` cannot be sent this way, or None."""
        return None

    def master_argv(self, control_path: str) -> List[str]:
        """The command line of the connection's master process."""
        raise NotImplementedError

    def session_job(self, command: str, grace: float) -> Optional[Tuple[bytes, bytes]]:
        """(the line that hands `command` to the master's own session, the
        marker that ends its output) -- see wrapper.SESSION_LOOP -- or None:
        it runs as a process of its own."""
        return None

    def master_ready(self, line: str) -> bool:
        """Whether this line of the master's stdout says it is up."""
        return False

    def exit_may_mean_lost(self, returncode: Optional[int], said: Sequence[str] = ()) -> bool:
        """Whether a job's exit status (and the transport's own lines on
        its stderr) might mean that the connection or the allocation, not
        the command, failed: then connections.py finds out (the master, or
        `state_argv`)."""
        return False

    @property
    def allocation(self) -> Optional[str]:
        """What ends with the sub-host's Slurm allocation: its job id (srun);
        None for a host that is no allocation's."""
        return None

    def over_by(self, said: Sequence[str]) -> Optional[str]:
        """Whether the transport's own lines on a job's stderr say that the
        whole allocation is over (no sub-host of it will run a job again):
        why, or None."""
        return None

    def state_argv(self) -> Optional[List[str]]:
        """A command that says whether the allocation still runs (None:
        none to ask); `state_says` reads what it printed."""
        return None

    def state_says(self, lines: Sequence[str], returncode: Optional[int]) -> Optional[str]:
        """Why the allocation is over, from `state_argv`'s output; None if
        it still runs or nothing is known."""
        return None

    def login_refused(self, stdout_lines: Sequence[str], stderr_lines: Sequence[str],
                      returncode: Optional[int]) -> Optional[str]:
        """Whether a connection that ended before it was up was refused by
        the host's login shell (it cannot run pegasus's jobs): why, or None."""
        return None

    def refused_for_now(self, stderr_lines: Sequence[str]) -> bool:
        """Whether a failed connection was turned away for now (try again
        soon) rather than for a reason that stays."""
        return False

    def failure_reason(self, stderr_lines: Sequence[str], returncode: Optional[int]) -> str:
        """One line saying why the connection failed."""
        return "exited with status %s" % returncode

    def own_message(self, line: str) -> Optional[str]:
        """If this line of a job's stderr was printed by the transport
        itself (its client complaining), not by the job: what it says.
        Such lines are not the job's output."""
        return None

    def lost_by(self, said: Sequence[str]) -> Optional[str]:
        """Whether the transport's own lines on a job's stderr (`said`, what
        own_message took, in order) say that the sub-host is gone for good:
        why, or None. Only connections.py asks (its `judge`)."""
        return None

    def job_ended(self, returncode: Optional[int],
                  said: Sequence[str]) -> Tuple[Optional[int], Optional[str]]:
        """A job's command line exited with `returncode` after saying
        `said`: the job's exit status as pegasus reads it (as in
        subprocess, -N for signal N), and why it never started, if the
        transport's own lines tell (else None)."""
        return returncode, None


class LocalTransport(Transport):
    """localhost: each job is a local `sh -c` inside the wrapper; no
    connection, no session limit."""

    kind = "local"

    def job_argv(self, command: str, control_path: str,
                 slots: Optional[Sequence[int]] = None) -> List[str]:
        return wrapper.wrapped_local(command, self.settings.kill_grace)

    def command_problem(self, command: str) -> Optional[str]:
        return _argument_problem(command)


def _argument_problem(command: str) -> Optional[str]:
    """Why `command` cannot be one argument of a local command line."""
    size = len(command.encode("utf-8", "surrogateescape"))
    if size > wrapper.MAX_REMOTE_COMMAND:
        return "command too long (%d bytes; one argument carries at most %d)" % (
            size, wrapper.MAX_REMOTE_COMMAND)
    return None


class SshTransport(Transport):
    """A host reached with the system ssh: one ControlMaster per sub-host,
    every job a session over it (see ssh.py for every option and why)."""

    kind = "ssh"
    needs_connection = True

    def __init__(self, host: SubHost, settings: Settings):
        super().__init__(host, settings)
        self.control: Optional[str] = None   # the run's private directory
        self.config: Optional[str] = None    # what ssh -F gets

    def prepare(self, control: ControlDirectory) -> None:
        self.control = control.path
        self.config = control.ssh_config(self.settings.ssh)

    def _config(self) -> str:
        assert self.config is not None, "prepare() first"
        return self.config

    @property
    def sessions(self) -> Optional[int]:
        # sshd caps the sessions of one connection (MaxSessions, 10 by
        # default, one of them the master's own).
        return self.settings.sessions

    def _remote(self, command: str) -> str:
        return wrapper.wrapped_remote(command, self.settings.kill_grace)

    def job_argv(self, command: str, control_path: str,
                 slots: Optional[Sequence[int]] = None) -> List[str]:
        return ssh.job_argv(self.settings.ssh, self._config(), self.host.hostname,
                            control_path, self._remote(command))

    def command_problem(self, command: str) -> Optional[str]:
        size = len(self._remote(command).encode("utf-8", "surrogateescape"))
        if size > wrapper.MAX_REMOTE_COMMAND:
            return "command too long for ssh (%d bytes once quoted)" % size
        return None

    def master_argv(self, control_path: str) -> List[str]:
        return ssh.master_argv(self.settings.ssh, self._config(), self.host.hostname,
                               control_path)

    def master_ready(self, line: str) -> bool:
        return line == ssh.MASTER_READY

    def session_job(self, command: str, grace: float) -> Optional[Tuple[bytes, bytes]]:
        return wrapper.session_job(command, grace)

    def exit_may_mean_lost(self, returncode: Optional[int], said: Sequence[str] = ()) -> bool:
        # ssh exits 255 when the connection fails, and so does a command
        # that exits 255.
        return returncode == 255

    def login_refused(self, stdout_lines: Sequence[str], stderr_lines: Sequence[str],
                      returncode: Optional[int]) -> Optional[str]:
        return loginshell.refusal(stdout_lines, stderr_lines, returncode)

    def refused_for_now(self, stderr_lines: Sequence[str]) -> bool:
        return ssh.turned_away(stderr_lines)

    def failure_reason(self, stderr_lines: Sequence[str], returncode: Optional[int]) -> str:
        return ssh.failure_reason(stderr_lines, returncode, self.host.hostname)

    def own_message(self, line: str) -> Optional[str]:
        return ssh.own_message(line, self.control)


class SrunTransport(Transport):
    """A node of a Slurm allocation: each job one `srun` step there, inside
    the job wrapper, stopped through the wrapper's stdin as over ssh (see
    slurm.py for the command line and for why srun is never signalled).
    No connection to open: the node list comes from the allocation itself,
    and a node that has left it says so at its first step (it is then lost,
    `lost_by`), so no check beforehand would save anything. (slurm.py is
    imported by the methods: a run without Slurm does not load it.)"""

    kind = "srun"

    def __init__(self, host: SubHost, settings: Settings):
        from . import srun
        super().__init__(host, settings)
        assert host.slurm is not None   # choose() picks srun for a node of Slurm alone
        self.node: srun.Node = host.slurm
        self.messages = srun.StepMessages(self.node.job_id, host.hostname)
        self._env: Optional[Tuple[Mapping[str, str], Dict[str, str]]] = None

    @property
    def sessions(self) -> Optional[int]:
        from . import srun
        return srun.STEPS_PER_NODE

    def job_argv(self, command: str, control_path: str,
                 slots: Optional[Sequence[int]] = None) -> List[str]:
        from . import srun
        devices = ",".join(str(i) for i in slots or [0]) if self.node.gpus else ""
        wrapped = wrapper.wrapped_local(command, self.settings.kill_grace,
                                        srun.GPU_SETUP, devices)
        return srun.srun_argv(self.node.job_id, self.host.hostname, wrapped)

    def job_env(self, environ: Mapping[str, str]) -> Optional[Dict[str, str]]:
        from . import srun
        if self._env is None or self._env[0] is not environ:
            self._env = (environ, srun.step_environment(environ, self.node))
        return self._env[1]

    def command_problem(self, command: str) -> Optional[str]:
        return _argument_problem(command)

    def own_message(self, line: str) -> Optional[str]:
        return self.messages.own(line)

    def lost_by(self, said: Sequence[str]) -> Optional[str]:
        return self.messages.lost(said)

    def job_ended(self, returncode: Optional[int],
                  said: Sequence[str]) -> Tuple[Optional[int], Optional[str]]:
        return self.messages.ended(returncode, said)

    def exit_may_mean_lost(self, returncode: Optional[int], said: Sequence[str] = ()) -> bool:
        return self.messages.doubtful(returncode, said)

    @property
    def allocation(self) -> Optional[str]:
        return self.node.job_id

    def over_by(self, said: Sequence[str]) -> Optional[str]:
        return self.messages.over(said)

    def state_argv(self) -> Optional[List[str]]:
        return self.messages.state_argv()

    def state_says(self, lines: Sequence[str], returncode: Optional[int]) -> Optional[str]:
        return self.messages.state(lines, returncode)


def is_local(hostname: str) -> bool:
    """Whether commands for `hostname` run through a local `sh -c`."""
    return hostname.lower() in LOCAL_NAMES


def choose(host: SubHost, other_user: Optional[str] = None) -> Type[Transport]:
    """The transport class for `host`; `other_user`: -l names a user who
    is not the one running pegasus (localhost is then reached over ssh, as
    that user, and srun, which runs as oneself, cannot serve)."""
    if host.slurm is not None:
        if host.slurm.launcher != srun.SRUN:
            return SshTransport
        if other_user is not None:
            raise UsageError(
                "-l %s: the nodes of a Slurm allocation run jobs with srun, as you; give "
                "them `launcher: ssh` in hosts.yaml to log in as %s" % (other_user, other_user))
        return SrunTransport
    return LocalTransport if is_local(host.hostname) and other_user is None else SshTransport


def attach(subhosts: Sequence[SubHost], settings: Settings) -> None:
    """Give every sub-host its transport, once."""
    user = settings.ssh.user
    other_user = user if user is not None and user != _me() else None
    for host in subhosts:
        host.transport = choose(host, other_user)(host, settings)


def _me() -> str:
    """The login name of the user running pegasus (not $USER, which anyone may set)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())
