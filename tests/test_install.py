"""pegasus as users install it (`pip install .`, `pip install --user .`, `pipx install
.`): the wheel holds the whole source tree and the man page, and the installed
command runs every mode, on localhost and over the loopback sshd.

The wheel is built once per session (tests/helpers/installed.py); every other integration
test runs its `pegasus` too. The tests without an sshd run under every Python of
`scripts/test --all-pythons`, which builds and installs the wheel under each."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from helpers.installed import REPO, Installed, build, installed
from helpers.runpegasus import Workspace, environment

import pegasus


@pytest.fixture(scope="module")
def wheel() -> Installed:
    return installed()


def base_python():
    """The interpreter this test's venv was made from, as a user has it: a venv's own
    python refuses `pip install --user`."""
    version = "python%d.%d" % sys.version_info[:2]
    return os.path.join(sys.base_prefix, "bin", version)


def run(argv, cwd, **options):
    return subprocess.run(argv, cwd=str(cwd), env=environment(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120,
                          check=False, **options)


def source_modules():
    """pegasus/.../x.py of the checkout, as paths inside a wheel."""
    found = set()
    for directory, subdirectories, files in os.walk(os.path.join(REPO, "pegasus")):
        subdirectories[:] = [name for name in subdirectories if name != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.relpath(os.path.join(directory, name), REPO)
                found.add(path.replace(os.sep, "/"))
    return found


def test_the_wheel_holds_every_module_of_the_source_tree(wheel):
    modules = source_modules()
    assert "pegasus/queuefile/queue.py" in modules     # the walk itself sees subpackages
    missing = modules - set(wheel.wheel_files())
    assert not missing, "left out of the wheel: %s" % ", ".join(sorted(missing))


def test_the_installed_package_imports_every_module_from_the_venv_not_the_tree(wheel):
    code = ("import importlib, pkgutil, pegasus\n"
            "for m in pkgutil.walk_packages(pegasus.__path__, 'pegasus.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            "print(pegasus.__file__)")
    result = run([wheel.python, "-c", code], cwd=wheel.root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(wheel.venv + os.sep)


def test_the_man_page_is_installed_beside_the_command(wheel):
    page = os.path.join(wheel.venv, "share", "man", "man1", "pegasus.1")
    with open(page) as installed_page, open(os.path.join(REPO, "man", "pegasus.1")) as ours:
        assert installed_page.read() == ours.read()


@pytest.mark.skipif(shutil.which("man") is None, reason="man (man-db) is not installed")
def test_man_finds_the_page_through_path(wheel, tmp_path):
    env = dict(environment(), PATH=wheel.bin + os.pathsep + "/usr/bin:/bin",
               HOME=str(tmp_path))
    env.pop("MANPATH", None)
    result = subprocess.run(["man", "-w", "pegasus"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert os.path.realpath(result.stdout.strip()) == os.path.realpath(
        os.path.join(wheel.venv, "share", "man", "man1", "pegasus.1"))


def test_version_of_the_command_and_of_python_m_pegasus(wheel, tmp_path):
    for argv in ([wheel.pegasus, "--version"], [wheel.python, "-m", "pegasus", "-V"]):
        result = run(argv, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "pegasus " + pegasus.__version__


def test_the_version_is_above_pegasus_1_4():
    major, minor = (int(part) for part in pegasus.__version__.split(".")[:2])
    assert (major, minor) > (1, 4)


def test_an_ad_hoc_run_on_localhost(wheel, tmp_path):
    result = run([wheel.pegasus, "q", "-w", "localhost", "--", "echo hi"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "hi" in result.stdout.split()
    assert os.listdir(str(tmp_path)) == []


def test_every_mode_from_files_on_localhost(wheel, tmp_path):
    """append, status, a dry run, a queue run and a broadcast, in one queue."""
    work = Workspace(tmp_path)
    work.hosts("- localhost\n")
    work.queue("- echo first\n")
    pegasus_ = [wheel.pegasus]

    appended = run(pegasus_ + ["l", "--append", "echo second {{ hostname }}"], tmp_path)
    assert appended.returncode == 0, appended.stderr
    dry = run(pegasus_ + ["q", "--dry-run"], tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "echo second localhost" in dry.stdout
    assert work.read("queue.yaml").count("- ") == 2      # a dry run takes nothing

    queued = run(pegasus_ + ["q"], tmp_path)
    assert queued.returncode == 0, queued.stderr
    assert "first" in queued.stdout and "second localhost" in queued.stdout
    status = run(pegasus_ + ["status", "--json"], tmp_path)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["finished"]["ok"] == 2

    work.queue("- echo everywhere\n")
    broadcast = run(pegasus_ + ["b"], tmp_path)
    assert broadcast.returncode == 0, broadcast.stderr
    assert "everywhere" in broadcast.stdout


@pytest.mark.skipif(os.environ.get("PIPX_HOME") is not None or shutil.which("pipx") is None,
                    reason="pipx is not installed (scripts/setup installs it as root)")
def test_pipx_install_gives_a_working_command(wheel, tmp_path):
    env = dict(environment(), PIPX_HOME=str(tmp_path / "pipx"),
               PIPX_BIN_DIR=str(tmp_path / "bin"), PIPX_MAN_DIR=str(tmp_path / "man"))
    # pipx's own default interpreter, as `pipx install .` takes it: the other
    # Pythons are covered by the venv and by `pip install --user`.
    subprocess.run(["pipx", "install", wheel.wheel], env=env,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600, check=True)
    result = run([str(tmp_path / "bin" / "pegasus"), "q", "-w", "localhost", "--",
                  "echo via-pipx"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "via-pipx" in result.stdout


def test_pip_install_user_gives_a_working_command(wheel, tmp_path):
    """`pip install --user` into a user base of its own (PYTHONUSERBASE), with the
    interpreter the venv was made from: what a user of a login node without root does."""
    base = base_python()
    env = dict(environment(), PYTHONUSERBASE=str(tmp_path / "user"))
    result = subprocess.run([base, "-m", "pip", "install", "-q", "--user", wheel.wheel],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=600, check=False)
    if "externally-managed-environment" in result.stdout:
        pytest.skip("%s is managed by the system (PEP 668): users of it take pipx" % base)
    assert result.returncode == 0, result.stdout
    command = tmp_path / "user" / "bin" / "pegasus"
    ran = subprocess.run([str(command), "q", "-w", "localhost", "--", "echo via-user"],
                         env=env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=120,
                         check=False)
    assert ran.returncode == 0, ran.stderr
    assert "via-user" in ran.stdout


def test_a_subpackage_left_out_of_pyproject_fails_the_wheel_check(tmp_path, monkeypatch):
    """The check above has teeth: a checkout whose pyproject.toml lists only the top
    package gives a wheel without its subpackages (pegasus/queuefile/...), and the check
    names it."""
    copy = tmp_path / "checkout"
    shutil.copytree(REPO, str(copy), ignore=shutil.ignore_patterns(
        ".git", ".venv*", "__pycache__", "*.egg-info", "build", "dist", ".*_cache", "tests",
        "scripts", "docs"))
    pyproject = copy / "pyproject.toml"
    text = pyproject.read_text()
    start = text.index("[tool.setuptools.packages.find]")
    end = text.index("\n\n", start)
    pyproject.write_text(text[:start] + '[tool.setuptools]\npackages = ["pegasus"]'
                         + text[end:])
    monkeypatch.setattr("helpers.installed.REPO", str(copy))
    broken = build(str(tmp_path / "build"))
    assert "pegasus/queuefile/queue.py" not in broken.wheel_files()
    work = Workspace(tmp_path)
    work.hosts("- localhost\n")
    work.queue("- true\n")
    result = run([broken.pegasus, "q"], cwd=tmp_path)     # a run needs its subpackages
    assert result.returncode != 0
    assert "No module named 'pegasus." in result.stderr


# Over the loopback sshd.

@pytest.fixture
def work(tmp_path, sshd):
    return Workspace(tmp_path, sshd.config)


def test_queue_and_broadcast_over_ssh_from_files(work, wheel):
    assert work.argv("q")[0] == wheel.pegasus      # the harness runs the wheel too
    work.hosts("- hostname: [node-1, node-2]\n")
    work.queue("- command: echo job {{ n }} on {{ hostname }}\n  n: [1, 2, 3, 4]\n")
    queued = work.run("q")
    assert queued.returncode == 0, queued.stderr
    assert sorted(line.split("] ", 1)[1].split(" on ")[0] for line in queued.stdout.splitlines()
                  if "] job " in line) == ["job 1", "job 2", "job 3", "job 4"]
    work.queue("- echo hello from {{ hostname }}\n")
    broadcast = work.run("b")
    assert broadcast.returncode == 0, broadcast.stderr
    assert "[node-1] hello from node-1" in broadcast.stdout
    assert "[node-2] hello from node-2" in broadcast.stdout


def test_an_ad_hoc_broadcast_over_ssh(work):
    result = work.run("b", "-w", "node-[1-3]", "--", "echo up on {{ hostname }}")
    assert result.returncode == 0, result.stderr
    for n in (1, 2, 3):
        assert "[node-%d] up on node-%d" % (n, n) in result.stdout
