"""What a host name may be: one rule for every name that may reach ssh --
from hosts.yaml (a rendered hostname template included), `-w` and `-x`,
a `-w ^FILE`, and the nodes of a Slurm allocation.

A host name is passed to ssh as its destination, and ssh may hand it to a
shell: a `ProxyCommand` or `Match exec` in the user's ssh configuration
gets it as `%h`, run by the user's shell (which may be sh, csh or fish).
OpenSSH refuses some characters there itself, but only from 9.6 on (or
with a distribution's backport), and not all of those the shells act on.
So pegasus refuses, before anything is taken, a name holding white space,
a control character, or any character one of those shells would act on;
or one that ssh would read as an option (a leading `-`) or as an empty
user or host (`@host`, `user@`).

What stays legal: letters and digits (in any script), `.`, `-`, `_`,
`user@host`, `:` (IPv6 addresses such as `::1`, `ssh://host:2222`), `%`
(an IPv6 zone, `fe80::1%eth0`), `/`, `+`, `=` and `,`.
"""

import unicodedata
from typing import Optional

# What sh, bash, zsh, csh, tcsh or fish would act on in an unquoted word:
# separators, pipes, substitutions, quotes, redirections, globs, braces,
# the home directory, history, comments, and the Bourne shell's old pipe.
SHELL_ACTIVE = frozenset(";|&$()`'\"\\<>*?[]{}~!#^")

HINT = ("a host name is one word for ssh: letters, digits, '.', '-', '_', user@host, "
        "IPv6 addresses such as ::1; characters a shell would act on are refused, so "
        "that none can reach a shell through ssh's %h")


def _shown(char: str) -> str:
    if char.isspace() or unicodedata.category(char)[0] == "C":
        return "%r (U+%04X)" % (char, ord(char))
    return repr(char)


def problem(name: str) -> Optional[str]:
    """What is wrong with `name` as a host name, or None: 'holds ';'' and
    the like, to follow the name in a message."""
    if not name:
        return "is empty"
    for char in name:
        if char in SHELL_ACTIVE or char.isspace() or unicodedata.category(char)[0] == "C":
            return "holds %s" % _shown(char)
    if name.startswith("-"):
        return "starts with '-' (ssh would read it as an option)"
    if name.startswith("@") or name.endswith("@"):
        return "has an empty user or host around '@'"
    return None
