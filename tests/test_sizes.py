"""Each module of pegasus/ reads in one sitting: at most MODULE_LINES lines,
and no class over CLASS_LINES. (Function complexity is ruff's, C901 with
max-complexity in pyproject.toml; annotations are mypy's,
disallow_untyped_defs for pegasus.*.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pegasus"
MODULE_LINES = 400
CLASS_LINES = 250

MODULES = sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def _lines(node: ast.stmt) -> int:
    return (node.end_lineno or node.lineno) - node.lineno + 1


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_is_at_most_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MODULE_LINES, "%s: %d lines; split it by what its parts own" % (
        _name(path), lines)


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_class_is_over_250_lines(path):
    big = ["%s (%d lines, from line %d)" % (node.name, _lines(node), node.lineno)
           for node in ast.walk(ast.parse(path.read_text()))
           if isinstance(node, ast.ClassDef) and _lines(node) > CLASS_LINES]
    assert big == [], "%s: %s" % (_name(path), ", ".join(big))


def test_the_limits_see_a_big_module(tmp_path):
    """The checks have teeth: a class of 300 lines in a module of 500 fails both."""
    source = "class Big:\n" + "    x = 1\n" * 299 + "y = 2\n" * 200
    tree = ast.parse(source)
    [big] = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    assert _lines(big) > CLASS_LINES
    assert len(source.splitlines()) > MODULE_LINES
