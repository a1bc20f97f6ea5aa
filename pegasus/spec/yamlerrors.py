"""What a YAML syntax error is told as: the line to mend (where an unclosed
quote or bracket opens, not where the parser noticed it) and what to do."""

from __future__ import annotations

from typing import Optional, overload

import yaml

from ..errors import SpecError


@overload
def line_of(mark: yaml.Mark) -> int: ...
@overload
def line_of(mark: None) -> None: ...
def line_of(mark: Optional[yaml.Mark]) -> Optional[int]:
    """The line (from 1) of a YAML mark; None without one."""
    return None if mark is None else mark.line + 1


def _indented_with_tab(text: Optional[str], mark: Optional[yaml.Mark]) -> bool:
    """Whether the line of `mark` in `text` is indented with a tab."""
    if text is None or mark is None:
        return False
    lines = text.split("\n")
    if mark.line >= len(lines):
        return False
    line = lines[mark.line]
    return "\t" in line[:len(line) - len(line.lstrip(" \t"))]


def syntax_error(exc: yaml.YAMLError, path: str, text: Optional[str] = None) -> SpecError:
    """The SpecError of a YAML syntax error in `path` (whose `text`, if
    given, tells a tab in an indentation), at the line to mend."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    message = "YAML syntax error: %s" % problem
    if context:
        message += " (%s)" % context
    hint = "check the indentation and quoting on this line and the one above"
    opened = context and ("quoted" in context or "flow" in context)
    if context and opened and context_mark is not None and mark is not None \
            and context_mark.line != mark.line:
        # An unclosed quote or bracket is noticed lines later, or at the
        # end of the file: point at where it opens.
        what = context.split(" a ", 1)[-1]
        if "end of stream" in problem:
            found = "the file ends first"
        else:
            found = "at line %d: %s" % (line_of(mark), problem)
        message = "YAML syntax error: the %s that starts here is not closed (%s)" % (what, found)
        if "quoted" in context:
            hint = ("close the quote on this line; inside '...' a quote is written '', "
                    "inside \"...\" it is written \\\"")
        else:
            hint = "close the bracket on this line, or quote the value"
        return SpecError.at(path, line_of(context_mark), message, hint)
    if "mapping values are not allowed" in problem:
        hint = ("a value holding ': ' must be quoted, e.g. command: 'echo \"a: b\"'; "
                "otherwise check that the keys of this entry are indented alike")
    elif "tab character" in problem or "'\\t'" in problem or _indented_with_tab(text, mark):
        hint = "YAML does not allow tabs for indentation: use spaces"
    elif "found undefined alias" in problem:
        hint = "'*' starts an alias in YAML: quote a value that begins with '*'"
    return SpecError.at(path, line_of(mark), message, hint)
