"""What the remote login shell receives.

sshd runs every command it is sent as `LOGIN_SHELL -c STRING`, whatever
that shell is. pegasus's job wrapper and the master's session are POSIX sh
scripts, so STRING must be one line that sh, bash, dash, zsh, ksh93, mksh,
csh, tcsh and fish all read the same way, and that hands the script to a
POSIX `sh` byte for byte. `for_any_shell` makes it:

    exec sh -c 'DECODE' sh 'WORD' 'WORD' ...

- The script travels as single-quoted words that hold only printable ASCII
  and octal escapes (`\\ooo`) for everything else. Single quotes mean the
  same in all nine shells as long as they hold no `'`, no `\\` (fish reads
  `\\\\` and `\\'` in them), no `!` (csh and tcsh expand history even in
  quotes, even under -c), no newline (csh needs a backslash before one);
  `%` is escaped too, for printf. Bytes outside printable ASCII (Unicode,
  control characters, bytes that are not UTF-8) are escaped as well: csh
  and tcsh may not keep them in every locale.
- csh refuses a word longer than about 8,000 characters ("Word too long"),
  so the escaped script is cut into words of WORD characters.
- `sh` joins the words, printf turns the escapes back into bytes, and eval
  runs the result: sh alone reads the script, whatever the login shell.
  (`exec`: the login shell is replaced, no process waits for sh.)

A login shell that cannot do this -- /bin/false, nologin, a restricted
shell, a shell of another family -- is found when the connection opens:
the master's session runs through the same line, and first checks that a
probe holding every byte arrived intact (`check_script`). Only then does
it say it is ready; otherwise the sub-host is refused with what its shell
said (`refusal`), before any job could go there.
"""

from typing import List, Optional, Sequence

# Characters that go into the words as they are: printable ASCII but for
# those the shells or printf would act on even inside single quotes.
_RAW = frozenset(range(0x20, 0x7F)) - frozenset(b"'\\!%")
WORD = 4000
# sh's side: close what the login shell left open beyond stdin, stdout and
# stderr (csh's exec leaves its own copies of stdout and stderr on fds 4
# and 5: a job's background child would hold the session open through them
# after its command ended), join the words, decode, run. No `'`, `\`, `!`,
# newline or `%` here either. (`$(...)` drops trailing newlines: a script
# ends with a command, so none is lost.)
DECODE = ('exec 3<&- 4<&- 5<&- 6<&- 7<&- 8<&- 9<&-; '
          's=; for w do s=$s$w; done; eval "$(printf "$s")"')
_ESCAPES = ["\\%03o" % byte for byte in range(256)]
# Bytes (as latin-1 characters) -> their text in the words.
_TABLE = {byte: (chr(byte) if byte in _RAW else _ESCAPES[byte]) for byte in range(256)}


def escape(script: str) -> str:
    """`script` as printf-format text of printable ASCII without `'`, `\\`
    (but in its own escapes), `!` or `%`."""
    return script.encode("utf-8", "surrogateescape").decode("latin-1").translate(_TABLE)


def _words(text: str) -> List[str]:
    """The escaped text in words of at most WORD characters, never cut
    inside an escape (a backslash and three digits; no other backslash is
    left): a word ending in `\\` would make fish read its closing quote as
    an escaped one."""
    words = []
    start = 0
    while True:
        end = min(start + WORD, len(text))
        escape_at = text.rfind("\\", max(start, end - 3), end)
        if escape_at >= 0 and end < len(text):
            end = escape_at
        words.append(text[start:end])
        if end >= len(text):
            return words
        start = end


def line(escaped: str) -> str:
    """The one string any of the nine login shells runs as: `sh` runs the
    script whose escape() is `escaped` (escaping goes byte by byte, so the
    escapes of a script's parts, joined, are the escape of the script)."""
    words = _words(escaped)
    return "exec sh -c '%s' sh %s" % (DECODE, " ".join("'%s'" % word for word in words))


def for_any_shell(script: str) -> str:
    """The one string any of the nine login shells runs as: `sh` runs
    `script`, byte for byte."""
    return line(escape(script))


# --- the check a master's session makes first -------------------------------------

# Every byte but NUL, as literal text in the script (it travels in the
# words, raw or escaped) and rebuilt by sh's printf from octal digits alone
# (which any shell that runs the line at all keeps): if a login shell
# altered anything on the way, the two differ.
PROBE = "".join(chr(byte) for byte in range(1, 128)) + "\u00e9\u4e2d" + "".join(
    chr(0xDC00 + byte) for byte in range(0x80, 0x100))
GARBLED = "pegasus-login-shell-garbled"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def check_script() -> str:
    """sh lines that go on only if the line reached sh intact; otherwise
    they print GARBLED and the login shell's path, and exit 1."""
    rebuilt = "".join(_ESCAPES[byte] for byte in PROBE.encode("utf-8", "surrogateescape"))
    return ("p=%s\nq=$(printf '%s_')\n"
            '[ "$p" = "${q%%_}" ] || { echo %s "$SHELL"; exit 1; }\n'
            % (_quote(PROBE), rebuilt, GARBLED))


def refusal(stdout_lines: Sequence[str], stderr_lines: Sequence[str],
            returncode: Optional[int]) -> Optional[str]:
    """Why a master that ended before it was ready was refused by the login
    shell on its host (not by ssh), or None: the session ran and ended by
    itself (ssh's own failures exit 255), or the check said so."""
    said = [line.strip() for line in stdout_lines if line.strip()]
    for line in said:
        if line.startswith(GARBLED):
            shell = line[len(GARBLED):].strip() or "?"
            return ("its login shell %s altered pegasus's command line on its way to sh: "
                    "pegasus needs a login shell such as sh, bash, dash, zsh, ksh, mksh, "
                    "csh, tcsh or fish" % shell)
    if returncode is None or returncode < 0 or returncode == 255:
        return None
    errors = [line.strip() for line in stderr_lines if line.strip()]
    words: List[str] = errors[-1:] or said[-1:]
    if not words:
        return ("its login shell ran no command: it exited with status %d and said nothing "
                "(is it /bin/false or nologin?); pegasus needs a login shell such as sh, "
                "bash, zsh, csh, tcsh or fish" % returncode)
    return ("its login shell did not run pegasus's command line (exit status %d): %s"
            % (returncode, words[0]))
