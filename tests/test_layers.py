"""The folders of pegasus/ are layers, and a module imports only downwards.

LAYERS below is the order, written once, here: a module may import its own
folder (or, for a top-level module, itself) and every layer below its own;
names that share a layer (`ui | queuefile`) do not import each other. Every
import counts, as import-linter counts them: at the top of a module, inside
a function (the lazy ones), and under `if TYPE_CHECKING:`. A module that is
in no layer fails too, so that a new one is placed on purpose.

Each folder's `__init__.py` says, in a paragraph `May import: ...`, which layers
it may import: at most those below it in LAYERS (`nothing` for none), and its
modules import no others, so the code map in the folders cannot drift from
what is enforced.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pegasus"

# Top first. A name is a folder of pegasus/ or a top-level module.
LAYERS = [
    "__init__ | __main__",   # the package itself, and `python -m pegasus`
    "main",                  # dispatch; errors become messages and exit statuses
    "cli",                   # the command line (standard library only: see its __init__)
    "modes",                 # each mode of the `pegasus` command
    "ui | queuefile",        # what a person sees; everything written beside a queue
    "engine",                # the run: connections, taking, runs, the loop
    "policy | transports",   # where jobs go and what their ends mean; how they get there
    "events",                # what the engine tells the rest
    "spec",                  # what the user's files say
    "templates",             # the template language
    "fsutil | settings",     # opening files beside a queue; what a run was asked to do
    "errors",                # typed errors, exit statuses
]


def _rank() -> Dict[str, int]:
    ranks = {}
    for depth, layer in enumerate(LAYERS):
        for name in layer.split("|"):
            ranks[name.strip()] = len(LAYERS) - depth
    return ranks


RANK = _rank()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def component(module: str) -> str:
    """The layer name of `pegasus.x.y`: `x` (`__init__` for the package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path, source: Optional[str] = None) -> Iterator[Tuple[int, str]]:
    """(line, module) for every pegasus module that `path` imports."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(source if source is not None else path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pegasus":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "pegasus":
                continue
            for alias in node.names:
                # `from . import words` imports the module pegasus.ui.words
                sub = target + "." + alias.name
                yield node.lineno, sub if _exists(sub) else target


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def violations(path: Path, source: Optional[str] = None) -> List[str]:
    """What `path` (or `source`, as if it were that file) imports upwards or
    sideways."""
    here = component(module_name(path))
    found = []
    for line, target in imports(path, source):
        there = component(target)
        if there == here:
            continue
        if RANK[there] < RANK[here]:
            continue
        relation = "above" if RANK[there] > RANK[here] else "beside"
        found.append("%s:%d imports %s, which is %s %s in the layers (tests/test_layers.py)"
                     % (path.relative_to(PACKAGE.parent), line, target, relation, here))
    return found


def modules() -> List[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_layer():
    unplaced = sorted({component(module_name(path)) for path in modules()} - set(RANK))
    assert unplaced == [], "add these to LAYERS in tests/test_layers.py: %s" % unplaced


def test_no_module_imports_upwards_or_sideways():
    found = [problem for path in modules() for problem in violations(path)]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("low, source", [
    ("spec/jobs.py", "from ..main import main\n"),
    ("spec/jobs.py", "def late():\n    from .. import main\n"),
    ("errors.py", "import pegasus.main\n"),
    ("engine/runner.py", "from typing import TYPE_CHECKING\n"
                         "if TYPE_CHECKING:\n    from ..ui.printer import Printer\n"),
    ("ui/words.py", "from ..queuefile import queue\n"),   # beside: ui | queuefile
])
def test_a_low_module_importing_upwards_fails(low, source):
    """The check has teeth: a module that imported the entry point (or any
    layer above it, or beside it) would be named."""
    path = PACKAGE / low
    assert violations(path, path.read_text() + "\n" + source)


def _may_import(name: str) -> Set[str]:
    return {other for other, rank in RANK.items() if rank < RANK[name]}


FOLDERS = sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py"))


@pytest.mark.parametrize("folder", FOLDERS)
def test_each_folder_says_what_it_holds_and_may_import(folder):
    doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text())) or ""
    assert len(doc.split("\n")) >= 3, "%s/__init__.py: say what the folder holds" % folder
    match = re.search(r"^May import: (.*?)\.?(?:\n\n|\Z)", doc, re.M | re.S)
    assert match, "%s/__init__.py: its docstring has no paragraph 'May import: ...'" % folder
    said = {name.strip() for name in match.group(1).split(",")} - {"nothing"}
    assert said <= _may_import(folder), (
        "%s/__init__.py says it may import %s, above it or beside it in LAYERS"
        % (folder, sorted(said - _may_import(folder))))
    used = {component(target) for path in (PACKAGE / folder).rglob("*.py")
            for _line, target in imports(path)} - {folder}
    assert used <= said, "%s/ imports %s, which its __init__.py does not say it may" % (
        folder, sorted(used - said))
