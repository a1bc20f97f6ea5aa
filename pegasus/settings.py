"""What a run was asked to do, from the command line: one value, passed to
the parts that need it (no module-level state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List, Optional

if TYPE_CHECKING:
    from argparse import Namespace


@dataclass
class SshSettings:
    """What the user said about ssh -- `--ssh-config FILE` (`ssh -F`) and
    `-o` options -- and the values of pegasus's own defaults, which apply
    where the user's ssh config sets nothing (see ssh.py)."""

    config_file: Optional[str] = None
    options: List[str] = field(default_factory=list)
    user: Optional[str] = None            # -l: for hosts that name no user
    timeout_given: bool = False           # -t: ConnectTimeout wins over the config
    connect_timeout: int = 10
    alive_interval: int = 5
    alive_count: int = 3
    program: str = "ssh"

    def user_options(self) -> List[str]:
        """The user's `-o` options, as ssh arguments. ssh keeps the first
        value it gets for an option, and takes the command line before any
        config file: these win over the config and over pegasus's
        defaults."""
        args: List[str] = []
        if self.timeout_given:
            # -t is pdsh's: asked for on the command line, it wins over the
            # config, as an -o would.
            args += ["-o", "ConnectTimeout=%d" % self.connect_timeout]
        for option in self.options:
            args += ["-o", option]
        return args


@dataclass
class Settings:
    """Everything a run needs to know, from the command line."""

    mode: str = "queue"
    daemon: bool = False
    timeout: Optional[float] = None
    kill_grace: float = 5.0
    ssh: SshSettings = field(default_factory=SshSettings)
    connect_parallel: int = 64
    error_aborts: bool = False
    # At most this many jobs at once over one ssh connection (MaxSessions - 1).
    sessions: int = 9
    retries: int = 0
    halt: Optional[tuple] = None          # (when, what, number, percent): halting.py
    on_cancel: str = "requeue"            # or "drop"
    black_hole: Optional[tuple] = (3, 10.0)   # (K jobs, S seconds), None: never pause
    files_per_job: int = 0                # files held open per running job (--log-dir)
    fanout: Optional[int] = None          # -f: at most this many runs at once, None: no cap

    @classmethod
    def from_args(cls, args: Namespace) -> Settings:
        return cls(
            mode=args.mode, daemon=args.daemon, timeout=args.timeout,
            kill_grace=args.kill_grace,
            ssh=_ssh_settings(args),
            connect_parallel=min(args.connect_limit, args.fanout or args.connect_limit),
            fanout=args.fanout,
            error_aborts=getattr(args, "error_aborts", False),
            sessions=max(1, args.max_sessions - 1),
            retries=args.retries, halt=args.halt, on_cancel=args.on_cancel,
            black_hole=getattr(args, "black_hole", None),
            files_per_job=1 if getattr(args, "log_dir", None) else 0)


def _ssh_settings(args: Namespace) -> SshSettings:
    settings = SshSettings(config_file=args.ssh_config, options=list(args.ssh_option),
                           user=args.user)
    if args.connect_timeout is not None:
        settings.connect_timeout, settings.timeout_given = args.connect_timeout, True
    return settings
