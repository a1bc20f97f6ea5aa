"""POSIX single-quoting: how a word reaches a shell as that word. The job
wrapper quotes every command with it, and templates offer it as the
`shell_quote` helper; it lives apart so that the wrapper does not load the
template helpers."""

import re

_SAFE_WORD = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def shell_quote(word: str) -> str:
    """POSIX single-quoting: the result is one word for any sh."""
    if word and _SAFE_WORD.fullmatch(word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"
