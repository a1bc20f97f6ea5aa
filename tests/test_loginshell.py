"""What the remote login shell receives (loginshell.py): one line that the
nine login shells read alike, run here the way sshd runs it,
`LOGIN_SHELL -c LINE`, without ssh."""

import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pegasus.templates.helpers import shell_quote
from pegasus.transports import loginshell, ssh

# The nine login shells, by program name (csh: the BSD one, as Debian's csh).
PROGRAMS = ["sh", "bash", "dash", "zsh", "ksh93", "mksh", "bsd-csh", "tcsh", "fish"]
FOUND = [name for name in PROGRAMS if shutil.which(name)]

# Every byte but NUL, and more text than one word of the line holds, so
# that csh's limit on a word's length is crossed.
EVERY_BYTE = "".join(chr(byte) for byte in range(1, 128)) + "".join(
    chr(0xDC00 + byte) for byte in range(0x80, 0x100))
LONG = (EVERY_BYTE + "\u00e9\u4e2d!%'\\\n") * 40


@pytest.fixture(params=PROGRAMS)
def login_shell(request):
    if request.param not in FOUND:
        pytest.skip("%s is not installed (scripts/setup installs it)" % request.param)
    return request.param


def run(shell, line):
    return subprocess.run([shell, "-c", line], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=60, check=False)


def test_the_script_reaches_sh_byte_for_byte(login_shell):
    text = LONG.encode("utf-8", "surrogateescape")
    assert len(loginshell.escape(LONG)) > 3 * loginshell.WORD
    result = run(login_shell, loginshell.for_any_shell(
        "printf '%s' " + shell_quote(LONG) + "; exit 3"))
    assert result.stderr == b""
    assert result.stdout == text
    assert result.returncode == 3


def test_the_master_s_check_passes_and_it_says_it_is_ready(login_shell):
    result = run(login_shell, ssh.MASTER_COMMAND)
    assert result.stdout == b"pegasus-master-ready\n", result.stderr
    assert result.stderr == b""


def test_a_shell_that_alters_the_line_fails_the_master_s_check(tmp_path):
    altering = tmp_path / "altering"
    altering.write_text("#!/bin/sh\nexec /bin/sh -c \"$(printf '%s' \"$2\" | tr '~' '-')\"\n")
    altering.chmod(0o755)
    result = subprocess.run([str(altering), "-c", ssh.MASTER_COMMAND], capture_output=True,
                            text=True, env={"SHELL": str(altering), "PATH": "/usr/bin:/bin"},
                            stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines == ["%s %s" % (loginshell.GARBLED, altering)]
    reason = loginshell.refusal(lines, [], 1)
    assert reason is not None and str(altering) in reason and "altered" in reason


def _words(line):
    head = "exec sh -c '%s' sh " % loginshell.DECODE
    assert line.startswith(head)
    words = re.findall(r"'[^']*'", line[len(head):])
    assert " ".join(words) == line[len(head):]
    return [word[1:-1] for word in words]


def _assert_fish_and_csh_read_alike(body):
    assert len(body) <= loginshell.WORD
    assert not set(body) & set("'!%\n"), body
    assert all(0x20 <= ord(char) < 0x7F for char in body)
    # A backslash only starts an octal escape: never `\\` or `\'`, which
    # fish reads inside single quotes.
    for index, char in enumerate(body):
        if char == "\\":
            escape = body[index + 1:index + 4]
            assert len(escape) == 3 and escape.isdigit(), body[index:index + 4]


@pytest.mark.parametrize("shift", range(4))
def test_no_word_ends_inside_an_escape(shift):
    # Each escape is four characters: cut every WORD characters, some would
    # end in a backslash, and fish would read the closing quote as escaped.
    words = _words(loginshell.for_any_shell("x" * shift + "\u00e9" * 3000))
    assert len(words) > 2
    for body in words:
        _assert_fish_and_csh_read_alike(body)


@settings(database=None, max_examples=200)
@given(st.text(st.one_of(
    st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]),
    # Bytes that are not UTF-8, as Python holds them (surrogateescape).
    st.sampled_from([chr(0xDC80 + byte) for byte in range(0x80)]))))
def test_the_words_hold_only_what_every_shell_reads_alike(script):
    for body in _words(loginshell.for_any_shell(script)):
        _assert_fish_and_csh_read_alike(body)


@pytest.mark.parametrize("stdout, stderr, status, said", [
    ([], [], 1, "ran no command: it exited with status 1 and said nothing"),
    (["This account is currently not available."], [], 1,
     "(exit status 1): This account is currently not available."),
    ([], ["rbash: line 1: exec: restricted"], 1, "(exit status 1): rbash: line 1: exec"),
    (["%s /usr/local/bin/oddsh" % loginshell.GARBLED], [], 1, "/usr/local/bin/oddsh altered"),
])
def test_a_login_shell_that_ran_nothing_is_a_refusal_saying_why(stdout, stderr, status, said):
    reason = loginshell.refusal(stdout, stderr, status)
    assert reason is not None and said in reason


@pytest.mark.parametrize("status", [255, None, -15])
def test_ssh_s_own_failures_are_not_the_login_shell_s(status):
    assert loginshell.refusal([], ["ssh: connect to host x port 22: Connection refused"],
                              status) is None
