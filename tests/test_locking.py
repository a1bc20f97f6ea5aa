"""What a user sees when fcntl locks do not work (an NFS mount without a
lock service): a clear error, exit status 2, nothing changed."""

import errno
import subprocess
import sys
import threading

import pytest

from pegasus.errors import LockError
from pegasus.queuefile import QueueFile


def broken_lock(*_args, **_kwargs):
    # What fasteners raises for any fcntl failure but "already held".
    try:
        raise OSError(errno.ENOLCK, "No locks available")
    except OSError:
        raise threading.ThreadError("Unable to acquire lock")  # noqa: B904 (as fasteners)


def test_a_lock_that_cannot_work_is_reported_with_what_to_do(tmp_path, monkeypatch):
    (tmp_path / "queue.yaml").write_text("- echo a\n")
    queue = QueueFile(str(tmp_path / "queue.yaml"))
    monkeypatch.setattr(queue._lock._lock, "acquire", broken_lock)
    with pytest.raises(LockError) as caught:
        queue.try_lock()
    message = str(caught.value)
    assert "No locks available" in message and "lockd" in message and "nolock" in message
    assert caught.value.exit_status == 2
    assert (tmp_path / "queue.yaml").read_text() == "- echo a\n"


def test_a_held_lock_is_not_an_error(tmp_path):
    (tmp_path / "queue.yaml").write_text("")
    holder = QueueFile(str(tmp_path / "queue.yaml"))
    other = QueueFile(str(tmp_path / "queue.yaml"))
    assert holder.try_lock()
    try:
        # fcntl locks are per process: another process must try.
        code = ("import sys; from pegasus.queuefile import QueueFile; "
                "sys.exit(0 if not QueueFile(sys.argv[1]).try_lock() else 1)")
        from helpers.runpegasus import environment
        assert subprocess.run([sys.executable, "-c", code, str(tmp_path / "queue.yaml")],
                              env=environment(), check=False).returncode == 0
    finally:
        holder.unlock()
    assert other.try_lock()
    other.unlock()
