#!/usr/bin/env python3
"""The unit tests under the Pythons the README promises: scripts/test --all-pythons

For each of Python 3.9 to 3.13 it looks for an interpreter (pyenv's versions
first, then python3.X on PATH), makes a venv .venv-3.X with pegasus and its test
extra installed (again only when pyproject.toml changed), and runs there the tests
that need no sshd, tmux or Slurm, but those of the remote shell's side (the job
wrapper; tests/conftest.py's marks): pytest -m UNIT_TESTS. It says which
interpreters it found and which it skipped, and why. The version of the main venv
(.venv) is skipped: scripts/test has just run the whole suite under it.

By default only the oldest and the newest version found run (the main one
counted among them): they bound the language and the standard library that
pegasus may use, and each run takes minutes. `--every` (scripts/test
--every-python) runs the versions between them too.

Extra arguments go to each pytest. Exit status: 0 when every interpreter run
passed (none found is not a failure), 1 otherwise.
"""

import concurrent.futures
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import IO, List, Optional, Sequence, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSIONS = [(3, 9), (3, 10), (3, 11), (3, 12), (3, 13)]
PROBE_TIMEOUT = 30.0    # seconds for `python -c` to answer
STAMP = ".pegasus-installed"
PARALLEL = 2            # runs at once, at most (and at most one per core)
NO_TESTS = 5            # pytest's exit status when the arguments select no test
# The tests that need no sshd, tmux or Slurm, but those of the remote shell's side
# (the job wrapper under each login shell), where Python's version plays no part.
UNIT_TESTS = "not integration and not remote_shell"


def say(text: str) -> None:
    sys.stderr.write("all-pythons: %s\n" % text)
    sys.stderr.flush()


def dotted(version: Tuple[int, int]) -> str:
    return "%d.%d" % version


def candidates(version: Tuple[int, int]) -> List[str]:
    """Where an interpreter of version may be, best first: pyenv's own binaries
    (the newest patch release first), then python3.X on PATH (a pyenv shim there
    works only if pyenv has that version, which the probe finds out)."""
    name = "python%s" % dotted(version)
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(os.path.join(root, "versions", dotted(version) + ".*",
                                          "bin", name)),
                   key=patch_level, reverse=True)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(directory or ".", name)
        if os.access(path, os.X_OK) and path not in found:
            found.append(path)
    return found


def patch_level(path: str) -> int:
    """3 from .../versions/3.9.3/bin/python3.9 (sorting as text would put 3.9.18 first)."""
    release = path.split(os.sep + "versions" + os.sep, 1)[1].split(os.sep, 1)[0]
    try:
        return int(release.split(".")[2])
    except (IndexError, ValueError):
        return -1


def usable(path: str, version: Tuple[int, int]) -> Optional[str]:
    """None if path runs Python `version` and can make a venv; else why not."""
    code = ("import sys, ensurepip, venv; "
            "sys.stdout.write('%d.%d' % sys.version_info[:2])")
    try:
        probe = subprocess.run([path, "-c", code], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "%s does not run: %s" % (path, exc)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["exit status %d" % probe.returncode])
        return "%s: %s" % (path, last[-1])
    if probe.stdout != dotted(version):
        return "%s is Python %s" % (path, probe.stdout)
    return None


def find(version: Tuple[int, int]) -> Tuple[Optional[str], List[str]]:
    """(interpreter or None, why each candidate was refused)."""
    refused: List[str] = []
    for path in candidates(version):
        problem = usable(path, version)
        if problem is None:
            return path, refused
        refused.append(problem)
    return None, refused


def run(argv: Sequence[str], what: str, log: IO[str]) -> None:
    """Run argv in the repository, its output to log; raise RuntimeError if it fails."""
    log.flush()
    status = subprocess.run(list(argv), cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, check=False).returncode
    if status != 0:
        raise RuntimeError("%s failed (exit status %d)" % (what, status))


def venv_for(interpreter: str, version: Tuple[int, int], log: IO[str]) -> str:
    """The python of .venv-3.X, made and installed when missing or stale."""
    venv = os.path.join(REPO, ".venv-%s" % dotted(version))
    python = os.path.join(venv, "bin", "python")
    stamp = os.path.join(venv, STAMP)
    if not os.access(python, os.X_OK) or usable(python, version) is not None:
        log.write("making %s from %s\n" % (os.path.relpath(venv, REPO), interpreter))
        run([interpreter, "-m", "venv", "--clear", venv], "python -m venv", log)
        if pip_too_old(python):
            run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"], "pip upgrade",
                log)
    if install_is_stale(stamp):
        log.write("installing pegasus and its test extra in %s\n"
                  % os.path.relpath(venv, REPO))
        run([python, "-m", "pip", "install", "-q", "-e", ".[test]"], "pip install", log)
        with open(stamp, "w") as f:
            f.write(REPO + "\n")
    return python


def pip_too_old(python: str) -> bool:
    """Editable installs from pyproject.toml alone need pip >= 21.3 (PEP 660); the pip
    bundled with early Python 3.9 releases is older."""
    code = ("import pip, sys; "
            "sys.exit(tuple(int(n) for n in pip.__version__.split('.')[:2]) >= (21, 3))")
    return subprocess.run([python, "-c", code], check=False).returncode == 0


def install_is_stale(stamp: str) -> bool:
    """As scripts/setup decides for .venv: another checkout, or a newer pyproject.toml."""
    try:
        with open(stamp) as f:
            installed_from = f.read().strip()
        installed_at = os.path.getmtime(stamp)
    except OSError:
        return True
    return (installed_from != REPO
            or os.path.getmtime(os.path.join(REPO, "pyproject.toml")) > installed_at)


def unit_tests(version: Tuple[int, int], interpreter: str, pytest_args: Sequence[str],
               scratch: str) -> Tuple[bool, float, str]:
    """Set up .venv-3.X and run the unit tests there: (passed, seconds, output).
    Each run has its own --basetemp: runs side by side must not prune each other's."""
    start = time.monotonic()
    log_path = os.path.join(scratch, "%s.log" % dotted(version))
    with open(log_path, "w") as log:
        try:
            python = venv_for(interpreter, version, log)
            log.flush()
            status = subprocess.run(
                [python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "--basetemp", os.path.join(scratch, dotted(version)),
                 "-m", UNIT_TESTS, *pytest_args],
                cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                check=False).returncode
            if status == NO_TESTS:
                log.write("(the arguments select no unit test)\n")
            passed = status in (0, NO_TESTS)
        except RuntimeError as exc:
            log.write("%s\n" % exc)
            passed = False
    with open(log_path, errors="replace") as f:
        return passed, time.monotonic() - start, f.read()


def found_interpreters() -> List[Tuple[Tuple[int, int], str]]:
    """(version, interpreter) of each version to run, saying which are skipped."""
    main_version = sys.version_info[:2]
    found = []
    for version in VERSIONS:
        if version == main_version:
            say("%s: the main run (%s, Python %s) covers it"
                % (dotted(version), os.path.relpath(sys.prefix, REPO),
                   sys.version.split()[0]))
            continue
        interpreter, refused = find(version)
        if interpreter is None:
            say("%s: skipped, not found (pyenv versions, python%s on PATH)%s"
                % (dotted(version), dotted(version),
                   "".join("\n    " + problem for problem in refused)))
            continue
        found.append((version, interpreter))
    return found


def ends(found: List[Tuple[Tuple[int, int], str]]) -> List[Tuple[Tuple[int, int], str]]:
    """Of `found`, the oldest and the newest version, the main one counted
    among them (it has run already), saying which are left out."""
    versions = [version for version, _ in found] + [sys.version_info[:2]]
    bounds = (min(versions), max(versions))
    kept = []
    for version, interpreter in found:
        if version in bounds:
            kept.append((version, interpreter))
        else:
            say("%s: left out, between the oldest and the newest "
                "(scripts/test --every-python runs it)" % dotted(version))
    return kept


def main(argv: Optional[List[str]] = None) -> int:
    pytest_args = sys.argv[1:] if argv is None else argv
    every = pytest_args[:1] == ["--every"]
    if every:
        pytest_args = pytest_args[1:]
    found = found_interpreters()
    if not every:
        found = ends(found)
    for version, interpreter in found:
        say("%s: %s" % (dotted(version), interpreter))
    if not found:
        say("no other interpreter found: nothing run")
        return 0
    # The unit tests wait on child processes much of the time: two runs at once keep
    # two cores busy.
    workers = max(1, min(len(found), PARALLEL, os.cpu_count() or 1))
    say("unit tests (-m \"%s\") under %s, %d at a time"
        % (UNIT_TESTS, ", ".join(dotted(v) for v, _ in found), workers))
    scratch = tempfile.mkdtemp(prefix="pegasus-pythons-")
    results = []
    try:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            runs = {pool.submit(unit_tests, version, interpreter, pytest_args, scratch):
                    version for version, interpreter in found}
            for done in concurrent.futures.as_completed(runs):
                version = runs[done]
                passed, seconds, output = done.result()
                sys.stdout.write("\n===== Python %s: %s in %.0f s =====\n%s"
                                 % (dotted(version), "passed" if passed else "FAILED",
                                    seconds, output))
                sys.stdout.flush()
                results.append((version, passed, seconds))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for version, passed, seconds in sorted(results):
        say("%s: %s in %.0f s" % (dotted(version), "passed" if passed else "FAILED",
                                  seconds))
    return 0 if all(passed for _, passed, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
