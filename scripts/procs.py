"""Process helpers shared by the scripts (the loopback sshd, the demo, the benchmark):
waiting for a condition, looking up processes and their trees in /proc, and stopping
processes by PID, with a grace period between asking and forcing.

Everything here acts on PIDs the caller started or found below one it started; none
of it looks processes up by name.
"""

import errno
import os
import signal
import subprocess
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

POLL_INTERVAL = 0.01     # seconds between two looks at a condition


def wait_until(condition: Callable[[], object], timeout: float,
               interval: float = POLL_INTERVAL,
               hurry: Optional[Callable[[], bool]] = None) -> bool:
    """Poll condition() until it is true or timeout seconds have passed; return
    whether it came true. hurry(), when given and true, ends the wait early."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline or (hurry is not None and hurry()):
            return False
        time.sleep(interval)


# -- looking processes up ------------------------------------------------------------

def _stat_fields(pid: int) -> Optional[List[str]]:
    """The fields of /proc/PID/stat after the command name (state first), or None if
    it has gone. The name, in parentheses, may contain spaces: split after it."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None


def exists(pid: int) -> bool:
    """Whether pid is a process that has not exited: a zombie waiting for its parent
    counts as gone where /proc tells (without /proc, as alive, briefly)."""
    if os.path.isdir("/proc/self"):
        try:
            fields = _stat_fields(pid)
        except OSError:         # unreadable: ask the kernel instead
            fields = []
        if fields is None:
            return False
        if fields:
            return fields[0] != "Z"
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def process_table() -> Iterator[Tuple[int, int]]:
    """(pid, ppid) of every process: /proc on Linux, `ps` elsewhere (minimal Debian
    images have no procps, hence /proc first)."""
    if os.path.isdir("/proc/self"):
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    fields = _stat_fields(int(name))
                except OSError:
                    continue
                if fields is not None:        # else it exited meanwhile
                    yield int(name), int(fields[1])
        return
    out = subprocess.run(["ps", "-A", "-o", "pid=", "-o", "ppid="],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    for line in out.splitlines():
        pid, ppid = line.split()
        yield int(pid), int(ppid)


def descendants(pid: int) -> List[int]:
    """PIDs of every process below pid (children first found, then theirs)."""
    children: Dict[int, List[int]] = {}
    for child, parent in process_table():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def children_of(pid: int) -> List[int]:
    """PIDs of the processes whose parent is pid and that have not exited."""
    return [child for child, parent in process_table() if parent == pid and exists(child)]


def processes_mentioning(marker: str) -> List[Tuple[int, str]]:
    """(pid, command line) of every live process but this one whose argv contains
    marker (a path only our own runs use, such as a private temporary directory)."""
    found = []
    if not os.path.isdir("/proc/self"):
        out = subprocess.run(["ps", "-A", "-o", "pid=", "-o", "args="],
                             stdout=subprocess.PIPE, universal_newlines=True,
                             check=False).stdout
        for line in out.splitlines():
            pid, _, args = line.strip().partition(" ")
            if marker in args and int(pid) != os.getpid():
                found.append((int(pid), args))
        return found
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                args = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in args and exists(int(name)):
            found.append((int(name), args.strip()))
    return found


# -- stopping them -------------------------------------------------------------------

def signal_all(pids: Iterable[int], signum: int) -> None:
    """Send signum to each pid; one that has exited meanwhile is skipped."""
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise


def freeze_tree(pid: int) -> List[int]:
    """SIGSTOP pid and all its descendants; return their PIDs.

    A stopped process cannot fork, so once a pass finds nobody new the list is
    complete: no child started meanwhile escapes the kill (killing the parent first
    would orphan its children where we cannot find them).
    """
    frozen: List[int] = []
    while True:
        new = [p for p in [pid, *descendants(pid)] if p not in frozen]
        if not new:
            return frozen
        signal_all(new, signal.SIGSTOP)
        frozen += new


def terminate_tree(pids: List[int], grace: float, reap: "subprocess.Popen[Any]") -> None:
    """SIGTERM pids (frozen by freeze_tree: they are let go on at once), SIGKILL those
    left after grace seconds. reap is the Popen of the one that is our child; the
    others are gone once they no longer exist or are zombies waiting for their parent.
    """
    def alive() -> List[int]:
        return [pid for pid in pids
                if (reap.poll() is None if pid == reap.pid else exists(pid))]

    signal_all(pids, signal.SIGTERM)
    signal_all(pids, signal.SIGCONT)      # they were frozen; now let them handle TERM
    wait_until(lambda: not alive(), grace)
    signal_all(alive(), signal.SIGKILL)
    reap.wait()


def kill_tree(pids: List[int], reap: "subprocess.Popen[Any]") -> None:
    """SIGKILL pids (frozen by freeze_tree) and reap the one that is our child.
    A frozen process killed never runs again: none of them can tell a peer
    anything first, as when a machine vanishes (no exit status is sent for a
    session whose command the signal ends)."""
    signal_all(pids, signal.SIGKILL)
    reap.wait()


def stop_process(process: "subprocess.Popen[Any]", grace: float, own_exit: float = 0.0,
                 hurry: Optional[Callable[[], bool]] = None) -> Optional[int]:
    """Stop a child by its PID and reap it; return its exit status (None if it had to
    be killed). It gets own_exit seconds to end by itself (one that shared our Ctrl-C
    is finishing already), then SIGTERM and grace seconds, then SIGKILL. hurry(), when
    true, cuts the waits short (a second Ctrl-C during clean-up)."""
    for signum, wait in ((None, own_exit), (signal.SIGTERM, grace)):
        if process.poll() is not None:
            return process.returncode
        if signum is not None:
            process.send_signal(signum)
        wait_until(lambda: process.poll() is not None, wait, hurry=hurry)
    if process.poll() is not None:
        return process.returncode
    process.kill()
    process.wait()
    return None
