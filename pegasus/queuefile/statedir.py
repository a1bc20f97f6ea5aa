"""The state directory beside a queue, `.queue.yaml.pegasus/`: private to
its owner (0700). It holds each runner's journal (journal.py), the note of
a replace in flight (replace.py), the queue's replaced files while someone
may still be writing to them (inbox.py), the outcome record (outcomes.py),
and files pegasus saved rather than overwrote (conflicts/).

pegasus acts on what it finds here -- it puts a dead runner's jobs back,
settles a replace by its note, appends what arrived in a kept file -- so
nothing here may come from anyone else. The directory is opened once per
process and judged on its descriptor before anything in it is read or
written: it must be yours and closed to everyone else, and so must its
subdirectories; everything in it must be yours, no link, and (but for the
kept queue files, which are links of queue.yaml by design) have no other
name. A kept queue file may also belong to someone who may write the queue
(queue.yaml or its directory): they could add its jobs there directly.
Anything else is refused with a message that names it, and nothing is
changed -- never a silent chmod: what an open directory holds cannot be
trusted after the fact. Everything in it is then reached relative to the
descriptor (fsutil.Directory), so that the name of the directory, in a
queue directory others may write to, cannot be swapped under pegasus.

A queue's state is one user's: a second user is refused by every command
with a sentence naming the owner (`another_users_queue`).
"""

from __future__ import annotations

import os
import stat
from typing import Callable, List, Optional

from ..fsutil import Directory, UnsafePath, mine, mode_text, who

INBOX = "inbox"
CONFLICTS = "conflicts"
EDITS = "edit"          # the copy `pegasus l` gives the editor (editing.py)
PENDING = "pending"
SHOWN = 5   # problems listed in one refusal


def state_path(queue_target: str) -> str:
    directory, name = os.path.split(queue_target)
    return os.path.join(directory, "." + name + ".pegasus")


def another_users_queue(path: str, uid: int, queue: str, link: bool = False) -> UnsafePath:
    """The refusal a second user of a queue gets, from every command."""
    owner = who(uid)
    return UnsafePath(
        path, "%sbelongs to another user, %s" % ("is a symbolic link that " if link else "",
                                                owner),
        "pegasus runs and edits a queue as one user only, and keeps that user's private "
        "state beside it: run from your own copy of the queue, or ask %s. To add jobs to "
        "this one, append them to the file itself (echo '- command' >> %s) if you may write "
        "it. If %s should not have it, remove it (or have it removed): pegasus has changed "
        "nothing" % (owner.split(" (")[0], queue, owner.split(" (")[0]), owner=uid)


class StateDir:
    """The state directory of the queue at `queue_target`. `find()` (it
    may not exist) and `ensure()` (make it) return it as a Directory,
    judged once per process (and its mode again at each call) before
    anything in it is read or written; `inbox()` and `conflicts()` its
    subdirectories."""

    def __init__(self, queue_target: str):
        self.queue_target = queue_target
        self.path = state_path(queue_target)
        self.pending = os.path.join(self.path, PENDING)
        self._top: Optional[Directory] = None
        self._subs: dict = {}

    def exists(self) -> bool:
        return self.find() is not None

    def find(self) -> Optional[Directory]:
        """The state directory, judged; None if there is none."""
        if self._top is None:
            try:
                top = Directory.at(self.path)
            except UnsafePath as exc:
                if exc.owner is None:
                    raise
                raise another_users_queue(self.path, exc.owner, self.queue_target,
                                          link="symbolic link" in exc.why) from None
            if top is None:
                return None
            self._adopt(top)
        else:
            self._still_private(self._top)
        return self._top

    def ensure(self) -> Directory:
        """The state directory, made if missing (with its inbox), judged
        (once: readers judge its mode again with `find`; writing a file of
        ours in it by its descriptor needs no more)."""
        if self._top is not None and INBOX in self._subs:
            return self._top
        top = self.find() or self._make()
        self.inbox(create=True)
        return top

    def claim(self) -> None:
        """Refuse (another_users_queue) to start pegasus's state beside a
        queue that is not this user's: the state directory and the lock
        file are made by the owner of queue.yaml or of its directory alone.
        Made by a group member who ran pegasus first, they would be theirs,
        and the queue's owner could neither use them nor remove them."""
        try:
            info = os.stat(self.queue_target)
        except OSError:
            return  # no queue yet: whoever makes it owns it
        if mine(info.st_uid):
            return
        try:
            if mine(os.stat(os.path.dirname(self.queue_target) or ".").st_uid):
                return
        except OSError:
            pass
        raise another_users_queue(self.queue_target, info.st_uid, self.queue_target)

    def _make(self) -> Directory:
        self.claim()
        made = Directory.at(self.path, create=True)
        assert made is not None
        self._adopt(made)
        return made

    def inbox(self, create: bool = False) -> Optional[Directory]:
        return self._sub(INBOX, create)

    def conflicts(self, create: bool = False) -> Optional[Directory]:
        return self._sub(CONFLICTS, create)

    def edits(self, create: bool = False) -> Optional[Directory]:
        return self._sub(EDITS, create)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def close(self) -> None:
        for sub in self._subs.values():
            sub.close()
        self._subs.clear()
        if self._top is not None:
            self._top.close()
            self._top = None

    # --- judging ------------------------------------------------------------------

    def _sub(self, name: str, create: bool) -> Optional[Directory]:
        sub = self._subs.get(name)
        if sub is not None:
            return sub
        top = self.find()
        if top is None:
            if not create:
                return None
            top = self._make()
        sub = Directory.at(top.file(name), create=create, parent=top)
        if sub is None:
            return None
        try:
            self._judge_directory(sub, sub.info())
        except BaseException:
            sub.close()
            raise
        self._subs[name] = sub
        return sub

    def _adopt(self, top: Directory) -> None:
        try:
            info = top.info()
            if not mine(info.st_uid):
                raise another_users_queue(self.path, info.st_uid, self.queue_target)
            problems = self._problems(top)
            if info.st_mode & 0o077:
                raise self._open(top.path, info, problems)
            if problems:
                raise self._foreign(top.path, problems)
        except BaseException:
            top.close()
            raise
        self._top = top

    def _still_private(self, top: Directory) -> None:
        info = top.info()
        if not mine(info.st_uid) or info.st_mode & 0o077:
            raise self._open(top.path, info, [])

    def _judge_directory(self, directory: Directory, info: os.stat_result) -> None:
        if not mine(info.st_uid):
            raise self._foreign(directory.path, ["%s: belongs to another user, %s" % (
                os.path.basename(directory.path), who(info.st_uid))])
        if info.st_mode & 0o077:
            raise self._open(directory.path, info, [])

    def _problems(self, top: Directory) -> List[str]:
        """What in the state directory pegasus may not act on, in words."""
        problems: List[str] = []
        for name, info in top.entries():
            if name in (INBOX, CONFLICTS, EDITS) and stat.S_ISDIR(info.st_mode):
                problems += self._sub_problems(top, name, info)
            else:
                problems += _entry_problem(name, info, False, None)
        return problems

    def _sub_problems(self, top: Directory, name: str, info: os.stat_result) -> List[str]:
        if not mine(info.st_uid):
            return ["%s/: belongs to another user, %s" % (name, who(info.st_uid))]
        problems = []
        if info.st_mode & 0o077:
            problems.append("%s/: is open to other users (mode %s)" % (name, mode_text(
                info.st_mode)))
        sub = Directory.at(top.file(name), parent=top)
        if sub is None:
            return problems
        try:
            for entry, entry_info in sub.entries():
                problems += _entry_problem(name + "/" + entry, entry_info, name == INBOX,
                                           self.may_write_queue)
        finally:
            sub.close()
        return problems

    def may_write_queue(self, uid: int) -> bool:
        """Whether user `uid` may write queue.yaml or its directory (then a
        kept queue file of theirs holds nothing they could not have put in
        queue.yaml)."""
        for path in (self.queue_target, os.path.dirname(self.queue_target) or "."):
            try:
                info = os.stat(path)
            except OSError:
                continue
            if _may_write(uid, info):
                return True
        return False

    def _open(self, path: str, info: os.stat_result, problems: List[str]) -> UnsafePath:
        why = "is open to other users (mode %s%s)" % (
            mode_text(info.st_mode), _group(info))
        return UnsafePath(path, why + _listed(problems), (
            "pegasus keeps its state there private (0700) and acts on it: while it is open, "
            "another user could put a journal or a note there that makes pegasus run a job "
            "of theirs, or change a file of yours. Look at what it holds and remove what you "
            "did not expect, then close it: chmod -R go= %s. pegasus has changed nothing"
            % self.path))

    def _foreign(self, path: str, problems: List[str]) -> UnsafePath:
        return UnsafePath(path, "holds what pegasus did not put there" + _listed(problems), (
            "pegasus acts on what it keeps there (it would put a journal's jobs back in the "
            "queue, settle a note's files): look at these, and remove them (pegasus makes "
            "only files of yours there, with a single name and no links). pegasus has "
            "changed nothing"))


def _entry_problem(name: str, info: os.stat_result, kept_queue_file: bool,
                   may_write_queue: Optional[Callable[[int], bool]]) -> List[str]:
    if stat.S_ISLNK(info.st_mode):
        return ["%s: is a symbolic link%s" % (name, "" if mine(info.st_uid) else
                                              " of another user, %s" % who(info.st_uid))]
    if not mine(info.st_uid) and not (kept_queue_file and stat.S_ISREG(info.st_mode)
                                      and may_write_queue is not None
                                      and may_write_queue(info.st_uid)):
        return ["%s: belongs to another user, %s" % (name, who(info.st_uid))]
    if stat.S_ISDIR(info.st_mode) and info.st_mode & 0o077:
        return ["%s/: is open to other users (mode %s)" % (name, mode_text(info.st_mode))]
    if stat.S_ISREG(info.st_mode) and info.st_nlink > 1 and not kept_queue_file:
        return ["%s: has %d names (hard links): through another, someone could change it"
                % (name, info.st_nlink)]
    return []


def _listed(problems: List[str]) -> str:
    if not problems:
        return ""
    shown = problems[:SHOWN]
    more = len(problems) - len(shown)
    return ":" + "".join("\n    " + line for line in shown) + (
        "\n    ... and %d more" % more if more else "")


def _group(info: os.stat_result) -> str:
    if not info.st_mode & 0o070:
        return ""
    import grp
    try:
        return ", group %s" % grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        return ", group %d" % info.st_gid


def _may_write(uid: int, info: os.stat_result) -> bool:
    if uid == 0 or uid == info.st_uid or info.st_mode & stat.S_IWOTH:
        return True
    return bool(info.st_mode & stat.S_IWGRP) and info.st_gid in _groups(uid)


def _groups(uid: int) -> List[int]:
    import pwd
    try:
        entry = pwd.getpwuid(uid)
        return os.getgrouplist(entry.pw_name, entry.pw_gid)
    except (KeyError, OSError):
        return []
