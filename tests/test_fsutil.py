"""fsutil: the one rule for files beside a queue, on the primitives that
enforce it (no second user needed: tests/test_shared_dirs.py has those)."""

import os
import stat

import pytest

from pegasus.fsutil import Directory, UnsafePath, check_writable, open_file
from pegasus.queuefile.inbox import EMPTY, LIVE, Inbox
from pegasus.queuefile.statedir import StateDir


def write(path, text):
    with open(path, "w") as stream:
        stream.write(text)


def read(path):
    with open(path) as stream:
        return stream.read()


def test_a_file_with_another_name_is_refused_before_it_is_truncated(tmp_path):
    precious = tmp_path / "precious"
    write(precious, "keep me\n")
    os.link(precious, tmp_path / "pending")
    with pytest.raises(UnsafePath, match="has 2 names"):
        open_file(str(tmp_path / "pending"), os.O_WRONLY | os.O_TRUNC)
    assert read(precious) == "keep me\n"


def test_your_own_link_is_followed_and_the_file_it_names_judged(tmp_path):
    real = tmp_path / "real.yaml"
    write(real, "a\n")
    os.symlink("real.yaml", tmp_path / "consumed.yaml")
    fd = open_file(str(tmp_path / "consumed.yaml"), os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"b\n")
    os.close(fd)
    assert read(real) == "a\nb\n"


def test_a_fifo_is_refused_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "jobs.tsv")
    with pytest.raises(UnsafePath, match="is a FIFO"):
        open_file(str(tmp_path / "jobs.tsv"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)


def test_checking_early_creates_nothing(tmp_path):
    check_writable(str(tmp_path / "consumed.yaml"))
    assert os.listdir(tmp_path) == []


def test_inside_a_directory_no_link_is_followed_even_your_own(tmp_path):
    write(tmp_path / "elsewhere", "x\n")
    os.symlink(str(tmp_path / "elsewhere"), tmp_path / "pending")
    directory = Directory.at(str(tmp_path))
    assert directory is not None
    try:
        with pytest.raises(UnsafePath, match="is a symbolic link"):
            directory.open("pending", os.O_WRONLY | os.O_TRUNC)
    finally:
        directory.close()
    assert read(tmp_path / "elsewhere") == "x\n"


def test_a_state_directory_found_open_is_refused_and_left_open(tmp_path):
    state = StateDir(str(tmp_path / "queue.yaml"))
    state.ensure()
    state.close()
    os.chmod(state.path, 0o770)
    with pytest.raises(UnsafePath, match=r"is open to other users \(mode 0770"):
        StateDir(str(tmp_path / "queue.yaml")).find()
    assert stat.S_IMODE(os.stat(state.path).st_mode) == 0o770


def test_a_state_file_with_a_second_name_is_refused(tmp_path):
    state = StateDir(str(tmp_path / "queue.yaml"))
    state.ensure()
    state.close()
    write(os.path.join(state.path, "outcomes.jsonl"), "{}\n")
    os.link(os.path.join(state.path, "outcomes.jsonl"), tmp_path / "copy")
    with pytest.raises(UnsafePath, match=r"outcomes\.jsonl: has 2 names"):
        StateDir(str(tmp_path / "queue.yaml")).find()


def test_a_link_at_the_queues_name_is_never_kept_for_appenders(tmp_path):
    """Kept files are read later as queue files: a link there (someone who
    may write the queue's directory put it at the queue's name) would make
    pegasus read the file it names."""
    write(tmp_path / "queue.yaml", "- a\n")
    write(tmp_path / "secret", "- b\n")
    os.symlink(str(tmp_path / "secret"), tmp_path / "swapped")
    inbox = Inbox(StateDir(str(tmp_path / "queue.yaml")))
    assert inbox.keep(str(tmp_path / "swapped"), os.lstat(tmp_path / "swapped").st_ino,
                      EMPTY, LIVE) is None
    assert inbox.all() == []
