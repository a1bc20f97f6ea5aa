"""Handlebars templates for commands and hostnames: no HTML escaping, strict
about unknown variables, a few string helpers, each source compiled once.

pybars3 takes about half a second to import, so it is imported only when a
template actually contains `{{`.
"""

import re

from .errors import Problem, TemplateError


class Missing:
    """What a lookup of an undefined variable yields.

    It is falsy, so `{{#if gpu}}` treats an undefined `gpu` as false, and the
    `default` helper can replace it; printing it, or passing it to any other
    helper, is an error that names the variable.
    """

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __bool__(self):
        return False

    def __iter__(self):
        return iter(())


class _Undefined(Exception):
    def __init__(self, name):
        super().__init__(name)
        self.name = name


class _UnknownHelper(Exception):
    def __init__(self, name):
        super().__init__(name)
        self.name = name


class Variables:
    """The template context: a mapping whose missing keys yield `Missing`.

    Deliberately not a dict: pybars falls back to attribute lookups, and a
    dict would answer `{{ keys }}` with its own method.
    """

    __slots__ = ("_values",)

    def __init__(self, values):
        self._values = values

    def __getitem__(self, name):
        try:
            return self._values[name]
        except KeyError:
            return Missing(name)

    def __contains__(self, name):
        return name in self._values

    def __len__(self):
        return len(self._values)

    def __str__(self):
        return ""


def _text(value):
    if isinstance(value, Missing):
        raise _Undefined(value.name)
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _prepare(value, should_escape):
    """Stands in for pybars' own `prepare`: the same, minus HTML escaping."""
    if isinstance(value, Missing):
        raise _Undefined(value.name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def shell_quote(text):
    """POSIX single-quoting: the result is one word for any sh."""
    if text and re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def _helper_missing(_this, name, *args):
    if args:
        raise _UnknownHelper(name)
    raise _Undefined(name)


HELPERS = {
    "replace": lambda _this, s, old, new: _text(s).replace(_text(old), _text(new)),
    "lower": lambda _this, s: _text(s).lower(),
    "to_lower_case": lambda _this, s: _text(s).lower(),
    "upper": lambda _this, s: _text(s).upper(),
    "to_upper_case": lambda _this, s: _text(s).upper(),
    "trim": lambda _this, s: _text(s).strip(),
    "trim_start": lambda _this, s: _text(s).lstrip(),
    "trim_end": lambda _this, s: _text(s).rstrip(),
    "shell_quote": lambda _this, s: shell_quote(_text(s)),
    "default": lambda _this, value, fallback: (
        _text(fallback) if isinstance(value, Missing) or value in (None, "") else _text(value)),
    "helperMissing": _helper_missing,
}

HELPER_NAMES = sorted(name for name in HELPERS if name != "helperMissing")

# `{{`, `{{{`, and their ends; `{{#name`, `{{/name` and `{{else}}` open,
# close and split blocks.
_MUSTACHE = re.compile(r"\{\{\{?|\}\}\}?")
_BLOCK = re.compile(r"\{\{~?\s*([#^/])\s*([A-Za-z_][\w-]*)")


def _lex_check(source):
    """Return a description of what is unbalanced in `source`, or None.

    pybars3 silently drops an unterminated `{{ x` and an unclosed
    `{{#if}}` block; this catches both before it sees them.
    """
    opened = None
    for match in _MUSTACHE.finditer(source):
        token = match.group()
        if token.startswith("{"):
            if opened is not None:
                return "'%s' at column %d is not closed before the next '{{'" % (
                    opened[0], opened[1] + 1)
            opened = (token, match.start())
        elif opened is None:
            return "'%s' at column %d closes nothing" % (token, match.start() + 1)
        else:
            opened = None
    if opened is not None:
        return "'%s' at column %d is never closed with '%s'" % (
            opened[0], opened[1] + 1, "}" * len(opened[0]))
    stack = []
    for match in _BLOCK.finditer(source):
        kind, name = match.groups()
        if kind in "#^":
            stack.append(name)
        elif not stack:
            return "'{{/%s}}' closes a block that was never opened" % name
        elif stack[-1] != name:
            return "'{{/%s}}' closes '{{#%s}}'" % (name, stack[-1])
        else:
            stack.pop()
    if stack:
        return "block '{{#%s}}' is never closed with '{{/%s}}'" % (stack[-1], stack[-1])
    return None


def is_template(source):
    return "{{" in source


class Where:
    """Where a template comes from, for error messages."""

    __slots__ = ("path", "line", "what")

    def __init__(self, path, line, what="command"):
        self.path = path
        self.line = line
        self.what = what


def _excerpt(source, limit=60):
    first = source.splitlines()[0] if source else ""
    if len(first) > limit or "\n" in source:
        first = first[:limit] + "..."
    return first


class Templates:
    """Compiles each distinct template source once and renders it strictly."""

    def __init__(self):
        self._compiled = {}
        self._compiler = None

    def compile(self, source, where):
        """Check the syntax of `source`; raise TemplateError if it is bad."""
        if is_template(source):
            self._function(source, where)

    def _function(self, source, where):
        function = self._compiled.get(source)
        if function is not None:
            return function
        trouble = _lex_check(source)
        if trouble is None:
            if self._compiler is None:
                import pybars  # costly: only now that a template needs it
                self._compiler = pybars.Compiler()
            try:
                function = self._compiler.compile(source)
            except Exception as exc:  # pybars raises PybarsError and others
                trouble = str(exc) or type(exc).__name__
        if trouble is not None:
            raise TemplateError(Problem(
                where.path, where.line,
                "the %s template '%s' does not parse: %s" % (
                    where.what, _excerpt(source), trouble),
                "templates use Handlebars syntax: {{ name }}, "
                "{{ helper arg ... }}, {{#if name}}...{{/if}}"))
        # The compiled module looks `prepare` up in its own globals: replacing
        # it there turns HTML escaping off for this template only.
        function.__globals__["prepare"] = _prepare
        self._compiled[source] = function
        return function

    def render(self, source, values, where, owner=None):
        """Render `source` with the variables in `values` (a dict of str).

        `owner` names who lacks a variable (a sub-host), for the message.
        """
        if not is_template(source):
            return source
        function = self._function(source, where)
        try:
            result = function(Variables(values), helpers=HELPERS)
        except _Undefined as exc:
            known = ", ".join(sorted(values)) or "none"
            message = "the %s template '%s' uses '%s', which is not defined" % (
                where.what, _excerpt(source), exc.name)
            if owner:
                message += " for %s" % owner
            raise TemplateError(Problem(
                where.path, where.line, message,
                "define '%s' in this entry or in hosts.yaml; variables here: %s"
                % (exc.name, known))) from None
        except _UnknownHelper as exc:
            raise TemplateError(Problem(
                where.path, where.line,
                "the %s template '%s' calls an unknown helper '%s'" % (
                    where.what, _excerpt(source), exc.name),
                "helpers: " + ", ".join(HELPER_NAMES))) from None
        except TemplateError:
            raise
        except Exception as exc:  # a helper given the wrong number of arguments...
            raise TemplateError(Problem(
                where.path, where.line,
                "the %s template '%s' fails: %s" % (where.what, _excerpt(source), exc))) from None
        return str(result)
