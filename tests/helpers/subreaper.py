"""Run a command the way a real host's init treats it: this process becomes
the child subreaper of its own new session and reaps every orphan at once
(the init of some test machines reaps only every second or so, which would
slow every job that leaves an orphan behind). Exits with the command's
status, 128+N for signal N.

usage: python3 subreaper.py COMMAND [ARG...]
"""

import ctypes
import os
import sys

PR_SET_CHILD_SUBREAPER = 36


def main(argv):
    if os.getsid(0) != os.getpid():
        os.setsid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    while True:
        child, status = os.waitpid(-1, 0)
        if child == pid:
            if os.WIFSIGNALED(status):
                return 128 + os.WTERMSIG(status)
            return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
