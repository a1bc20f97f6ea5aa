r"""Handlebars templates for commands and hostnames: no HTML escaping, strict
about unknown variables, a few string helpers, each source compiled once.

pybars3 takes about half a second to import, so it is imported only when a
template actually contains `{{`. As in Handlebars, `\{{...}}` is literal text
(pybars3 itself lacks that escape).
"""

import functools
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

    def __call__(self, _this, *args):
        # pybars calls what a name resolves to when it is callable: this is
        # how `{{ frob x }}` with no helper `frob` is told from `{{ frob }}`,
        # and how `{{#if gpu}}` sees an undefined `gpu` as false.
        if args:
            raise _UnknownHelper(self.name)
        return self


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


def _resolve(pybars_resolve, context, *segments):
    """pybars' `resolve`, but a dotted path that leads nowhere (`{{ x.y }}`)
    is undefined rather than silently empty."""
    value = pybars_resolve(context, *segments)
    if value is None and any(segments):
        return Missing(".".join(s for s in segments if s))
    return value


def _resolve_subexpr(helpers, name, context, *args, **kwargs):
    """pybars' `resolve_subexpr`, reporting `(frob x)` as an unknown helper."""
    if name not in helpers:
        raise _UnknownHelper(name)
    return helpers[name](context, *args, **kwargs)


def shell_quote(text):
    """POSIX single-quoting: the result is one word for any sh."""
    if text and re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def _helper_missing(_this, name, *args):
    if args:
        raise _UnknownHelper(name)
    raise _Undefined(name)


class _HelperArguments(Exception):
    def __init__(self, name, given):
        super().__init__(name)
        self.name = name
        self.given = given


def _helper(name, function, arity):
    """`function` as a pybars helper taking exactly `arity` arguments."""
    def helper(_this, *args):
        if len(args) != arity:
            raise _HelperArguments(name, len(args))
        return function(*args)
    helper.arity = arity
    return helper


def _default(value, fallback):
    if isinstance(value, Missing) or value is None or value == "":
        return _text(fallback)
    return _text(value)


HELPERS = {
    "replace": _helper("replace", lambda s, old, new: _text(s).replace(_text(old), _text(new)), 3),
    "lower": _helper("lower", lambda s: _text(s).lower(), 1),
    "to_lower_case": _helper("to_lower_case", lambda s: _text(s).lower(), 1),
    "upper": _helper("upper", lambda s: _text(s).upper(), 1),
    "to_upper_case": _helper("to_upper_case", lambda s: _text(s).upper(), 1),
    "trim": _helper("trim", lambda s: _text(s).strip(), 1),
    "trim_start": _helper("trim_start", lambda s: _text(s).lstrip(), 1),
    "trim_end": _helper("trim_end", lambda s: _text(s).rstrip(), 1),
    "shell_quote": _helper("shell_quote", lambda s: shell_quote(_text(s)), 1),
    "default": _helper("default", _default, 2),
    "helperMissing": _helper_missing,
}

HELPER_EXAMPLES = {
    "replace": '{{ replace model "/" "--" }}',
    "default": '{{ default gpu "0" }}',
}

# pybars' own block helpers, and ours: a block `{{#name arg}}` must name one.
BLOCK_HELPERS = frozenset(["if", "unless", "each", "with"])

HELPER_NAMES = sorted(name for name in HELPERS if name != "helperMissing")

# `{{`, `{{{`, and their ends; `{{#name`, `{{/name` and `{{else}}` open,
# close and split blocks.
_MUSTACHE = re.compile(r"\{\{\{?|\}\}\}?")
_BLOCK = re.compile(r"\{\{~?\s*([#^/])\s*([A-Za-z_][\w-]*)")
_BLOCK_CALL = re.compile(r"\{\{~?\s*[#^]\s*([A-Za-z_][\w.-]*)\s+[^\s}~]")

# Text that is not template syntax: a raw block `{{{{raw}}}}...{{{{/raw}}}}`,
# and Handlebars' escape `\{{...}}`, which pybars3 lacks (and which, say,
# `docker ps --format '\{{.Names}}'` needs).
_LITERAL = re.compile(r"(\{\{\{\{\s*([^\s{}]+)[^{}]*\}\}\}\}.*?\{\{\{\{/\2\}\}\}\})"
                      r"|\\\{\{(?:(?!\{\{).)*?\}\}|\\\{\{", re.S)


def _masked(source):
    """`source` with its literal text blanked out (same offsets)."""
    return _LITERAL.sub(lambda m: "".join("\n" if c == "\n" else " " for c in m.group()),
                        source)


def _pybars_source(source):
    r"""`source` with each `\{{...}}` turned into a raw block for pybars."""
    def literal(match):
        if match.group(1):
            return match.group()
        return "{{{{raw}}}}" + match.group()[1:] + "{{{{/raw}}}}"
    return _LITERAL.sub(literal, source) if "\\{{" in source else source


def _at(source, offset):
    """Where `offset` is, for a message: a column, or a line and column in a
    multi-line template."""
    line = source.count("\n", 0, offset)
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    if "\n" not in source:
        return "column %d" % column
    return "line %d column %d of the template" % (line + 1, column)


def _lex_check(source):
    """Return a description of what is unbalanced in `source`, or None.

    pybars3 silently drops an unterminated `{{ x` and an unclosed
    `{{#if}}` block; this catches both before it sees them.
    """
    masked = _masked(source)
    opened = None
    for match in _MUSTACHE.finditer(masked):
        token = match.group()
        if token.startswith("{"):
            if opened is not None:
                return "'%s' at %s is not closed before the next '{{'" % (
                    opened[0], _at(source, opened[1]))
            opened = (token, match.start())
        elif opened is None:
            return "'%s' at %s closes nothing" % (token, _at(source, match.start()))
        else:
            opened = None
    if opened is not None:
        return "'%s' at %s is never closed with '%s'" % (
            opened[0], _at(source, opened[1]), "}" * len(opened[0]))
    stack = []
    for match in _BLOCK.finditer(masked):
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


def _unknown_block_helper(source):
    """The name of a block `{{#name arg}}` that calls no known helper."""
    for match in _BLOCK_CALL.finditer(_masked(source)):
        name = match.group(1)
        if name not in BLOCK_HELPERS and name not in HELPERS:
            return name
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


def _unknown_helper_error(source, where, name):
    if name == "else":
        return TemplateError(Problem(
            where.path, where.line,
            "the %s template '%s' chains '{{else if ...}}', which pybars3 does not support"
            % (where.what, _excerpt(source)),
            "nest the blocks: {{#if a}}...{{else}}{{#if b}}...{{/if}}{{/if}}"))
    return TemplateError(Problem(
        where.path, where.line,
        "the %s template '%s' calls an unknown helper '%s'" % (
            where.what, _excerpt(source), name),
        "helpers: " + ", ".join(HELPER_NAMES)
        + "; a variable is written alone: {{ name }}"))


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
            unknown = _unknown_block_helper(source)
            if unknown is not None:
                raise _unknown_helper_error(source, where, unknown)
            if self._compiler is None:
                import pybars  # costly: only now that a template needs it
                self._compiler = pybars.Compiler()
            try:
                function = self._compiler.compile(_pybars_source(source))
            except Exception as exc:  # pybars raises PybarsError and others
                trouble = str(exc) or type(exc).__name__
        if trouble is not None:
            hint = ("templates use Handlebars syntax: {{ name }}, "
                    "{{ helper arg ... }}, {{#if name}}...{{/if}}")
            if "closes nothing" in trouble:
                hint = ("'}}' ends a '{{ ... }}'; if these braces belong to the command "
                        "(awk, a shell function), put a space between them: '} }'")
            elif "never closed with '}" in trouble or "not closed before" in trouble:
                hint += "; write a literal '{{' as '\\{{'"
            raise TemplateError(Problem(
                where.path, where.line,
                "the %s template '%s' does not parse: %s" % (
                    where.what, _excerpt(source), trouble), hint))
        # The compiled module looks these up in its own globals: replacing
        # them there changes this template only. `prepare` without HTML
        # escaping; lookups that report what is undefined.
        names = function.__globals__
        names["prepare"] = _prepare
        names["resolve"] = functools.partial(_resolve, names["resolve"])
        names["resolve_subexpr"] = _resolve_subexpr
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
            raise _unknown_helper_error(source, where, exc.name) from None
        except _HelperArguments as exc:
            arity = HELPERS[exc.name].arity
            example = HELPER_EXAMPLES.get(exc.name, "{{ %s name }}" % exc.name)
            raise TemplateError(Problem(
                where.path, where.line,
                "the %s template '%s' calls '%s' with %d argument%s; it takes %d" % (
                    where.what, _excerpt(source), exc.name, exc.given,
                    "" if exc.given == 1 else "s", arity),
                "e.g. " + example)) from None
        except TemplateError:
            raise
        except Exception as exc:  # a helper or pybars failing some other way
            raise TemplateError(Problem(
                where.path, where.line,
                "the %s template '%s' fails: %s" % (where.what, _excerpt(source), exc))) from None
        return str(result)
