#!/usr/bin/env python3
"""A private OpenSSH server on 127.0.0.1 for integration tests.

It generates its own host key and client key, listens on a free loopback port and
writes an ssh_config in which the aliases node-1..node-N all reach it, so that
`ssh -F CONFIG node-3 CMD` goes through a real sshd without touching ~/.ssh or the
system's sshd. Only 127.0.0.1 is ever used.

    with LoopbackSshd(None, aliases=8) as sshd:
        subprocess.run(sshd.ssh_argv("node-3", "echo hello"))

Run as a script, it starts one, prints the ssh_config path and waits for Ctrl-C or
SIGTERM:  python3 scripts/loopback_sshd.py --aliases 8
"""

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional

from procs import freeze_tree, kill_tree, wait_until  # beside this file

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0     # seconds for sshd to accept TCP connections
BIND_ATTEMPTS = 5        # another process may take the free port before sshd binds it


class SshdError(RuntimeError):
    """sshd is missing, or did not start."""


def find_sshd():
    """Return the absolute path of sshd, or None.

    sshd is usually in /usr/sbin, which is not on a normal user's PATH. It must be
    run by absolute path: it re-executes itself for every connection.
    """
    found = shutil.which("sshd")
    if found:
        return os.path.abspath(found)
    for candidate in ("/usr/sbin/sshd", "/usr/local/sbin/sshd"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def user_name():
    return pwd.getpwuid(os.getuid()).pw_name


def generate_key(path):
    """An ed25519 key pair at path and path.pub, without passphrase."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pegasus-test", "-f", path],
        check=True, stdin=subprocess.DEVNULL,
    )


def read_public_key(path):
    """'ssh-ed25519 AAAA...' from a .pub file, without its comment."""
    with open(path + ".pub") as f:
        key_type, blob = f.read().split()[:2]
    return "%s %s" % (key_type, blob)


def write_file(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def ensure_privsep_dir():
    """sshd started by root refuses to run without its privilege-separation
    directory ("Missing privilege separation directory: /run/sshd"), which only the
    Debian service unit creates; a container or CI machine that never started the
    system sshd does not have it."""
    if os.getuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        os.chmod("/run/sshd", 0o755)


def locked_account_problem():
    """Why sshd would refuse us, or None.

    An sshd run by root without PAM refuses an account whose /etc/shadow password
    starts with "!" (locked, as root is on Ubuntu), even for key logins, and says so
    only at a log level we hide. Run by anyone else, it cannot read /etc/shadow and
    does not check.
    """
    if os.getuid() != 0:
        return None
    try:
        with open("/etc/shadow") as f:
            entries = dict(line.split(":")[:2] for line in f if line.count(":") >= 1)
    except OSError:
        return None
    if entries.get(user_name(), "").startswith("!"):
        return ("the account %r is locked ('!' in /etc/shadow) and sshd without PAM "
                "refuses locked accounts: run the tests as another user, or unlock it "
                "for key logins with: usermod -p '*' %s" % (user_name(), user_name()))
    return None


class LoopbackSshd:
    """One sshd on 127.0.0.1 and an ssh_config whose aliases all reach it."""

    def __init__(self, directory=None, aliases=8, alias_prefix="node-", max_sessions=64,
                 max_startups=256, skip_bashrc=True, any_user=False):
        self._own_directory = directory is None
        # Short, because callers put unix sockets (ControlPath) beside it: ~100 bytes max.
        self.directory = directory or tempfile.mkdtemp(prefix="pgsshd-", dir="/tmp")
        self.aliases = ["%s%d" % (alias_prefix, i) for i in range(1, aliases + 1)]
        self.extra_aliases: List[str] = []
        self.max_sessions = max_sessions
        self.max_startups = max_startups
        self.skip_bashrc = skip_bashrc
        # Other accounts may log in with the client key too (as root only: sshd
        # reads a user's authorized keys as that user, so the file must be theirs
        # to read); each reached by an alias of its own (add_user_alias).
        self.any_user = any_user
        self.user_aliases: Dict[str, str] = {}
        self.config = self._path("ssh_config")
        self.sshd_config = self._path("sshd_config")
        self.host_key = self._path("host_ed25519")
        self.client_key = self._path("client_ed25519")
        self.known_hosts = self._path("known_hosts")
        self.log = self._path("sshd.log")
        self.port: Optional[int] = None
        self.pid: Optional[int] = None
        self._process: Optional["subprocess.Popen[Any]"] = None

    def _path(self, name):
        return os.path.join(self.directory, name)

    def _chosen_port(self) -> int:
        if self.port is None:
            raise SshdError("no port chosen yet: start() first")
        return self.port

    # -- lifecycle -------------------------------------------------------------------

    def start(self):
        sshd = find_sshd()
        if sshd is None:
            raise SshdError("sshd not found on PATH or in /usr/sbin: "
                            "install openssh-server (scripts/test does)")
        problem = locked_account_problem()
        if problem:
            raise SshdError(problem)
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        ensure_privsep_dir()
        self._make_keys()
        for attempt in range(BIND_ATTEMPTS):
            self.port = free_port()
            self._write_sshd_config()
            if self._launch(sshd):
                break
            if attempt == BIND_ATTEMPTS - 1:
                raise SshdError("sshd could not bind a port on %s:\n%s"
                                % (LOOPBACK, self._log_text()))
        self._write_client_files()
        return self

    def stop(self, keep=False):
        """Stop sshd and every process it started (its per-connection children and
        their sessions), by PID, as if the host went away: all are frozen, then
        killed, so open connections drop without a word. (Terminated, a session
        could report its command's exit status before its connection drops, and
        the client would see a job killed by SIGTERM rather than a lost host.)
        With `keep`, its keys, config and port are kept for restart()."""
        if self._process is not None:
            # Until we reap it, its PID cannot be reused; once reaped (it died on its
            # own, or a test killed it by PID) we must not signal that number any more.
            if self._process.poll() is None:
                kill_tree(freeze_tree(self._process.pid), self._process)
            self._process = None
        if self._own_directory and not keep:
            shutil.rmtree(self.directory, ignore_errors=True)

    def restart(self):
        """Start again, on the same port, after stop(keep=True): the host is back."""
        sshd = find_sshd()
        if sshd is None or not self._launch(sshd):
            raise SshdError("sshd could not bind %s:%s again:\n%s"
                            % (LOOPBACK, self.port, self._log_text()))
        return self

    def wait(self):
        """Block until sshd exits; return its exit status."""
        if self._process is None:
            raise SshdError("sshd is not running")
        return self._process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- what callers use ------------------------------------------------------------

    def ssh_argv(self, alias, command):
        return ["ssh", "-F", self.config, alias, command]

    def add_alias(self, name):
        """One more Host name that reaches this sshd (fault tests name hosts freely)."""
        if name not in self.aliases and name not in self.extra_aliases:
            self.extra_aliases.append(name)
        if self.port is not None:
            self._write_ssh_config()

    def add_user_alias(self, name, user):
        """A Host name that reaches this sshd as `user` (needs any_user)."""
        self.user_aliases[name] = user
        if self.port is not None:
            self._write_ssh_config()

    # -- files -----------------------------------------------------------------------

    def _authorized_keys(self):
        if self.any_user:
            # Readable by every account: a directory of its own, and the way to it
            # open to traverse (0711 lists nothing; the private keys stay 0600).
            return self._path(os.path.join("public", "authorized_keys"))
        return self._path("authorized_keys")

    def _make_keys(self):
        for key in (self.host_key, self.client_key):
            if not os.path.exists(key):
                generate_key(key)
        # Readable by every local user, in a directory they may cross: a test may
        # log in as another user with the same key (pegasus -l, the login shells).
        authorized_keys = self._authorized_keys()
        if self.any_user:
            os.makedirs(os.path.dirname(authorized_keys), exist_ok=True)
            os.chmod(os.path.dirname(authorized_keys), 0o755)
        os.chmod(self.directory, 0o711)
        write_file(authorized_keys, read_public_key(self.client_key) + "\n", 0o644)

    def _write_sshd_config(self):
        lines = [
            "ListenAddress %s" % LOOPBACK,
            "Port %d" % self._chosen_port(),
            "HostKey %s" % self.host_key,
            "PidFile %s" % self._path("sshd.pid"),
            "AuthorizedKeysFile %s" % self._authorized_keys(),
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            # PAM would run the machine's login stack (/etc/pam.d/sshd), which wants
            # root and varies between machines; key authentication needs none of it.
            "UsePAM no",
            # The keys live in a /tmp directory that sshd's ownership checks dislike.
            "StrictModes no",
            "PermitRootLogin yes",
            # Tests open many connections and sessions at once; with the defaults
            # (MaxStartups 10:30:100) sshd drops some at random and tests flake.
            "MaxSessions %d" % self.max_sessions,
            "MaxStartups %d" % self.max_startups,
            "PrintMotd no",
            # ~/.ssh/rc would make a session depend on the machine's state.
            "PermitUserRC no",
            "LogLevel ERROR",
        ]
        if self.skip_bashrc:
            # Debian's bash sources ~/.bashrc for `ssh host cmd` when it was started by
            # sshd and SHLVL < 2. On a machine whose ~/.bashrc runs `pyenv init` that
            # costs ~90 ms per command. With SHLVL=1 the remote bash counts itself as
            # level 2 and skips it, so tests measure pegasus, not the user's dotfiles.
            lines.append("SetEnv SHLVL=1")
        # No AcceptEnv: the client's environment does not leak into sessions.
        write_file(self.sshd_config, "\n".join(lines) + "\n")

    def _write_client_files(self):
        host_key = read_public_key(self.host_key)
        write_file(self.known_hosts, "[%s]:%d %s\n" % (LOOPBACK, self._chosen_port(), host_key))
        self._write_ssh_config()

    def _write_ssh_config(self):
        lines = self._host_block(" ".join(self.aliases + self.extra_aliases), user_name())
        for name, user in sorted(self.user_aliases.items()):
            lines += self._host_block(name, user)
        # Written to a temp file and renamed: an ssh started meanwhile reads a whole file.
        temporary = self.config + ".tmp"
        write_file(temporary, "\n".join(lines) + "\n")
        os.replace(temporary, self.config)

    def _host_block(self, names, user):
        return [
            "Host %s" % names,
            "    HostName %s" % LOOPBACK,
            "    Port %d" % self._chosen_port(),
            "    User %s" % user,
            "    IdentityFile %s" % self.client_key,
            "    IdentitiesOnly yes",
            # Our own known_hosts, pre-filled: strict checking passes and nothing is
            # written to ~/.ssh/known_hosts.
            "    UserKnownHostsFile %s" % self.known_hosts,
            "    GlobalKnownHostsFile /dev/null",
            "    StrictHostKeyChecking yes",
            "    PasswordAuthentication no",
            "    BatchMode yes",
            "    LogLevel ERROR",
        ]

    def _log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read().strip() or "(sshd log is empty)"
        except OSError as exc:
            return "(no sshd log: %s)" % exc

    # -- the process -----------------------------------------------------------------

    def _launch(self, sshd):
        """Start sshd; True once its port accepts, False if it failed to bind."""
        port = self._chosen_port()
        with open(self.log, "ab") as log:
            # Own session: a Ctrl-C meant for the test run does not reach sshd; we stop
            # it ourselves, by PID.
            process = subprocess.Popen(
                [sshd, "-D", "-e", "-f", self.sshd_config],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )
        self._process, self.pid = process, process.pid
        if wait_until(lambda: process.poll() is not None or _accepts(port), START_TIMEOUT):
            if process.poll() is None:
                return True
            self._process = self.pid = None
            if _bind_failed(self._log_text()):
                return False
            raise SshdError("sshd exited at start:\n%s" % self._log_text())
        message = ("sshd did not accept connections on %s:%d within %gs:\n%s"
                   % (LOOPBACK, port, START_TIMEOUT, self._log_text()))
        self.stop()
        raise SshdError(message)


def _accepts(port):
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1):
            return True
    except OSError:
        return False


def _bind_failed(log_text):
    return "Address already in use" in log_text or "Cannot bind any address" in log_text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aliases", type=int, default=8, help="number of aliases")
    parser.add_argument("--prefix", default="node-", help="alias prefix (node-)")
    parser.add_argument("--directory", help="where keys and configs go (a new /tmp dir)")
    args = parser.parse_args(argv)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    # SIGINT too: a job started with `&` by a script inherits it ignored, and Python
    # then never raises KeyboardInterrupt.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sshd = LoopbackSshd(args.directory, aliases=args.aliases, alias_prefix=args.prefix)
    try:
        sshd.start()
        print(sshd.config, flush=True)
        sys.stderr.write("sshd pid %d on %s:%d; try: ssh -F %s %s true\n"
                         "Ctrl-C stops it.\n"
                         % (sshd.pid or 0, LOOPBACK, sshd.port or 0, sshd.config,
                            sshd.aliases[0]))
        status = sshd.wait()
        sys.stderr.write("sshd exited with status %d:\n%s\n" % (status, sshd._log_text()))
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        sshd.stop()


if __name__ == "__main__":
    sys.exit(main())
