r"""Handlebars templates for commands and hostnames: no HTML escaping, strict
about unknown variables, the helpers of Pegasus 1.4, each source parsed once.

No template runs code on the controller. pybars3 compiles a template to
Python source, pasting some of its text in unescaped; so every template is
first parsed by our own strict grammar (template_syntax) and pybars3 only
ever compiles the canonical form written back from that syntax tree
(template_emit), in which nothing of the user's text remains but plain text
and hex-encoded tokens.

pybars3 takes about half a second to import, so it is imported only when a
template actually contains `{{` and is rendered; our own grammar and the
helpers, only once a template is parsed (a run whose commands hold no `{{`
loads neither). As in Handlebars, `\{{...}}` is literal text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, List, Mapping, Optional

from ..errors import Problem, TemplateError
from .quoting import shell_quote

if TYPE_CHECKING:
    from .helpers import HelperSpec
    from .syntax import Node

__all__ = ["Templates", "Where", "is_template", "shell_quote"]

# The only text pybars3 is given: tags of names, tokens, spaces, parentheses.
_SAFE_SHAPE = re.compile(r"(?:\{\{[A-Za-z0-9_@.=() #/-]*\}\})*")


def is_template(source: str) -> bool:
    return "{{" in source


class Where:
    """Where a template comes from, for error messages."""

    __slots__ = ("path", "line", "what")

    def __init__(self, path: str, line: Optional[int], what: str = "command") -> None:
        self.path = path
        self.line = line
        self.what = what


def parse(source: str) -> List[Node]:
    """Our grammar's syntax tree of `source` (template_syntax.parse, loaded
    with the first template)."""
    from .syntax import parse as parse_syntax
    return parse_syntax(source)


def _excerpt(source: str, limit: int = 60) -> str:
    first = source.splitlines()[0] if source else ""
    if len(first) > limit or "\n" in source:
        first = first[:limit] + "..."
    return first


def _at(source: str, offset: int) -> str:
    """Where `offset` is, for a message: a column, or a line and column in a
    multi-line template."""
    line = source.count("\n", 0, offset)
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    if "\n" not in source:
        return "column %d" % column
    return "line %d column %d of the template" % (line + 1, column)


def _arity(spec: HelperSpec) -> str:
    if spec.most is None:
        return "at least %d" % spec.least
    if spec.most != spec.least:
        return "%d to %d" % (spec.least, spec.most)
    return "%d" % spec.least


class _Parsed:
    """One distinct source, parsed: its tree, or why it does not parse."""

    __slots__ = ("nodes", "failure", "canonical", "constants", "variables", "sections")

    def __init__(self, source: str):
        from .emit import root_variables
        from .syntax import ElseChain, SyntaxTrouble, UnknownHelper, WrongArity
        self.nodes: Optional[List[Node]] = None
        self.failure: Optional[Exception] = None
        self.canonical: Optional[str] = None
        self.constants: list = []
        self.variables: FrozenSet[str] = frozenset()
        self.sections: Dict[str, str] = {}
        try:
            self.nodes = parse(source)
        except (SyntaxTrouble, UnknownHelper, WrongArity, ElseChain) as exc:
            self.failure = exc
            return
        except RecursionError:
            self.failure = SyntaxTrouble("it is nested too deeply", 0,
                                         "nest fewer blocks and sub-expressions")
            return
        except Exception as exc:  # noqa: BLE001 - no template may crash a runner
            self.failure = SyntaxTrouble("it cannot be read (%s: %s)" % (
                type(exc).__name__, exc), 0, "please report this template")
            return
        from .emit import sections
        self.variables = root_variables(self.nodes)
        self.sections = sections(self.nodes)


_LEFT_OUT_WHY = {"assign": "it sets a variable from inside a template"}


def _failure_problem(source: str, where: Where, failure: Exception) -> Problem:
    from .helpers import HELPER_NAMES, LEFT_OUT
    from .syntax import SYNTAX_HINT, ElseChain, SyntaxTrouble, UnknownHelper, WrongArity
    template = "the %s template '%s'" % (where.what, _excerpt(source))
    if isinstance(failure, UnknownHelper) and failure.name in LEFT_OUT:
        return Problem(where.path, where.line,
                       "%s calls an unknown helper '%s', a helper of Pegasus 1.4 left out on "
                       "purpose: %s" % (template, failure.name, _LEFT_OUT_WHY.get(
                           failure.name, "it reads files or the network of the machine "
                           "running pegasus")),
                       "work such values out before the run and give them to the job as "
                       "parameters in queue.yaml or hosts.yaml")
    if isinstance(failure, UnknownHelper):
        return Problem(where.path, where.line,
                       "%s calls an unknown helper '%s'" % (template, failure.name),
                       "helpers: " + ", ".join(HELPER_NAMES)
                       + "; a variable is written alone: {{ name }}")
    if isinstance(failure, WrongArity):
        spec, given = failure.spec, failure.given
        hint = "e.g. " + spec.example
        if given == 0 and spec.least:
            hint += "; to insert a variable named '%s', write {{ this.%s }}" % (
                spec.name, spec.name)
        return Problem(where.path, where.line, "%s calls '%s' with %d argument%s; it takes %s"
                       % (template, spec.name, given, "" if given == 1 else "s", _arity(spec)),
                       hint)
    if isinstance(failure, ElseChain):
        return Problem(where.path, where.line,
                       "%s chains '{{else if ...}}', which pegasus (like Pegasus 1.4) does "
                       "not support" % template,
                       "nest the blocks: {{#if a}}...{{else}}{{#if b}}...{{/if}}{{/if}}")
    assert isinstance(failure, SyntaxTrouble)
    what = failure.what if len(failure.what) <= 160 else failure.what[:157] + "..."
    return Problem(where.path, where.line, "%s does not parse: at %s, %s" % (
        template, _at(source, failure.offset), what), failure.hint or SYNTAX_HINT)


class Templates:
    """Parses each distinct template source once, compiles each distinct
    canonical form once with pybars3, and renders strictly."""

    def __init__(self) -> None:
        self._parsed: Dict[str, _Parsed] = {}
        self._functions: Dict[str, Callable[..., Any]] = {}
        self._compiler: Any = None  # pybars.Compiler, once a template needs it
        self._helpers: Optional[Dict[str, Callable[..., Any]]] = None

    def _parse(self, source: str, where: Where) -> _Parsed:
        parsed = self._parsed.get(source)
        if parsed is None:
            parsed = self._parsed[source] = _Parsed(source)
        if parsed.failure is not None:
            raise TemplateError(_failure_problem(source, where, parsed.failure))
        return parsed

    def compile(self, source: str, where: Where) -> None:
        """Check the syntax of `source`; raise TemplateError if it is bad."""
        if is_template(source):
            self._parse(source, where)

    def variables_used(self, source: str, where: Where) -> FrozenSet[str]:
        """The variables `source` reads from its entry and host (not helper
        names, nor what it reads inside {{#each}} or {{#with}} from the
        value they iterate over). Raises TemplateError if it does not parse."""
        if not is_template(source):
            return frozenset()
        return self._parse(source, where).variables

    def _function(self, source: str, parsed: _Parsed, where: Where) -> Callable[..., Any]:
        from .emit import canonical
        from .runtime import ensure_scope, prepare, resolve, resolve_subexpr
        if parsed.canonical is None:
            assert parsed.nodes is not None
            shape, constants = canonical(parsed.nodes)
            if not _SAFE_SHAPE.fullmatch(shape):
                # template_emit promises this shape; checked where it matters.
                raise TemplateError(Problem(
                    where.path, where.line, "the %s template '%s' cannot be compiled safely"
                    % (where.what, _excerpt(source)), "please report this template"))
            parsed.canonical, parsed.constants = shape, constants
        function = self._functions.get(parsed.canonical)
        if function is None:
            if self._compiler is None:
                import pybars  # costly: only now that a template needs it
                self._compiler = pybars.Compiler()
            try:
                function = self._compiler.compile(parsed.canonical)
            except Exception as exc:  # noqa: BLE001 - pybars3 raises several kinds
                raise TemplateError(Problem(
                    where.path, where.line, "the %s template '%s' cannot be compiled: %s"
                    % (where.what, _excerpt(source), exc),
                    "nest fewer blocks and sub-expressions")) from None
            # The compiled module looks these up in its own globals: replacing
            # them there changes this template only.
            names = function.__globals__
            names.update(prepare=prepare, resolve=resolve, resolve_subexpr=resolve_subexpr,
                         ensure_scope=ensure_scope)
            self._functions[parsed.canonical] = function
        return function

    def _pybars_helpers(self) -> Dict[str, Callable[..., Any]]:
        if self._helpers is None:
            from .helpers import SPECS
            from .runtime import helper_missing
            helpers = {name: spec.pybars() for name, spec in SPECS.items()}
            helpers["helperMissing"] = helper_missing
            helpers["blockHelperMissing"] = helper_missing
            self._helpers = helpers
        return self._helpers

    def render(self, source: str, values: Dict[str, str], where: Where,
               owner: Optional[str] = None) -> str:
        """Render `source` with the variables in `values` (a dict of str).

        `owner` names who lacks a variable (a sub-host), for the message.
        """
        if not is_template(source):
            return source
        from .runtime import Frame, HelperProblem, Undefined
        parsed = self._parse(source, where)
        function = self._function(source, parsed, where)
        try:
            root = Frame(values, constants=parsed.constants)
            return str(function(root, helpers=self._pybars_helpers()))
        except Undefined as exc:
            section = parsed.sections.get(exc.name) if exc.block == "with" else None
            raise self._undefined(source, values, where, owner, exc.name, exc.block,
                                  section) from None
        except HelperProblem as exc:
            why = str(exc) if len(str(exc)) <= 200 else str(exc)[:197] + "..."
            raise TemplateError(Problem(
                where.path, where.line, "the %s template '%s' fails: %s" % (
                    where.what, _excerpt(source), why),
                exc.hint or "see the helpers in docs/files.md, Templates")) from None
        except Exception as exc:  # noqa: BLE001 - no template may crash a runner
            raise TemplateError(Problem(
                where.path, where.line, "the %s template '%s' fails: %s: %s" % (
                    where.what, _excerpt(source), type(exc).__name__, exc))) from None

    @staticmethod
    def _undefined(source: str, values: Mapping[str, str], where: Where, owner: Optional[str],
                   name: str, block: Optional[str] = None,
                   section: Optional[str] = None) -> TemplateError:
        """`name` is not defined: printed, given to a helper, or (`block`)
        opened by `{{#each}}`, `{{#with}}` or a `section` such as
        `{{#name}}`."""
        from .helpers import BLOCK_HELPER_NAMES
        known = ", ".join(sorted(values)) or "none"
        template = "the %s template '%s'" % (where.what, _excerpt(source))
        hint = "define '%s' in this entry or in hosts.yaml; variables here: %s" % (name, known)
        if block is not None:
            hint += "; or, to let it be missing, open the block inside {{#if %s}}...{{/if}}" % (
                name)
        if section is not None:
            message = "%s opens '{{%s}}', but '%s' is neither a block helper nor a variable " \
                "defined" % (template, section, name)
            hint = "block helpers: %s; or %s" % (", ".join(BLOCK_HELPER_NAMES), hint)
        else:
            message = "%s uses '%s', which is not defined" % (template, name)
        if owner:
            message += " for %s" % owner
        return TemplateError(Problem(where.path, where.line, message, hint))

