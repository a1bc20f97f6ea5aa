"""pegasus as its users install it: a wheel built from this checkout and installed,
not editable, into a fresh venv, once per test session.

The editable install in .venv imports from the source tree, so it cannot see what the
wheel leaves out (a subpackage missing from pyproject.toml once made every mode die on
import, while every test passed). The integration tests therefore run the wheel's
`pegasus` (tests/helpers/runpegasus.py), and tests/test_install.py checks the wheel itself.

Building costs about ten seconds (pip fetches setuptools for the isolated build and
the runtime dependencies for the venv, or takes them from its cache); it happens on
first use, so a run of unit tests that never starts `pegasus` does not pay it.
"""

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from typing import List

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What `pip install .` would not see either, or what is not ours to copy: the build
# runs on a copy of the checkout, so that it leaves no build/ or *.egg-info in it and
# two test sessions do not share one build directory.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "*.egg-info",
                                    "build", "dist", ".mypy_cache", ".ruff_cache",
                                    ".pytest_cache", ".hypothesis")
PIP_TIMEOUT = 600.0     # a safety net for a slow index, not an expectation


class InstallError(RuntimeError):
    """The wheel could not be built or installed; the message holds pip's output."""


class Installed:
    """A fresh venv holding pegasus from its wheel."""

    def __init__(self, root: str, wheel: str):
        self.root = root
        self.wheel = wheel
        self.venv = os.path.join(root, "venv")
        self.bin = os.path.join(self.venv, "bin")
        self.python = os.path.join(self.bin, "python")
        self.pegasus = os.path.join(self.bin, "pegasus")

    def wheel_files(self) -> List[str]:
        with zipfile.ZipFile(self.wheel) as wheel:
            return wheel.namelist()


def _run(argv: List[str], what: str) -> None:
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True,
                            timeout=PIP_TIMEOUT, check=False)
    if result.returncode != 0:
        raise InstallError("%s failed (exit status %d):\n%s"
                           % (what, result.returncode, result.stdout[-4000:]))


def build(root: str, python: str = sys.executable) -> Installed:
    """Copy the checkout under root, build its wheel there with `python`'s pip and
    install it into root/venv, made by that Python: what `pip install .` does, in two
    steps so that the wheel itself can be inspected."""
    source = os.path.join(root, "source")
    shutil.copytree(REPO, source, ignore=NOT_COPIED, symlinks=True)
    dist = os.path.join(root, "dist")
    _run([python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, source],
         "pip wheel (building pegasus's wheel from a copy of the checkout)")
    wheels = [name for name in os.listdir(dist) if name.endswith(".whl")]
    if len(wheels) != 1:
        raise InstallError("pip wheel made %r, not one wheel" % wheels)
    installed = Installed(root, os.path.join(dist, wheels[0]))
    _run([python, "-m", "venv", installed.venv], "python -m venv")
    _run([installed.python, "-m", "pip", "install", "-q", installed.wheel],
         "pip install (the wheel, into a fresh venv)")
    shutil.rmtree(source)
    return installed


@functools.lru_cache(maxsize=None)
def installed() -> Installed:
    """This session's installed pegasus, built on first use and removed at exit."""
    root = tempfile.mkdtemp(prefix="pegasus-wheel-")
    atexit.register(shutil.rmtree, root, True)
    return build(root)
