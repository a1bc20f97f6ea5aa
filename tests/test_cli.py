"""The command line (SPEC §3): modes with short and long names, help with
examples, --version, and a --help that pays for no heavy import."""

import argparse
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pegasus
from pegasus.cli import parser as cli

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("yaml", "pybars", "psutil", "fasteners")


def env_with_repo():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_pegasus(cwd, *args):
    return subprocess.run([sys.executable, "-m", "pegasus", *args], cwd=cwd, env=env_with_repo(),
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("short, long", [("q", "queue"), ("b", "broadcast"), ("l", "lock")])
def test_each_mode_has_a_short_and_a_long_name(short, long):
    assert cli.parse_args([short]).mode == long
    assert cli.parse_args([long]).mode == long


def test_run_options_parse_in_both_spellings():
    short = cli.parse_args(["q", "-Q", "a.yaml", "-H", "b.yaml"])
    long = cli.parse_args(["queue", "--queue-file", "a.yaml", "--hosts-file", "b.yaml",
                           "--dry-run"])
    assert (short.queue_file, short.hosts_file, short.dry_run) == ("a.yaml", "b.yaml", False)
    assert (long.queue_file, long.hosts_file, long.dry_run) == ("a.yaml", "b.yaml", True)


def test_default_files_are_in_the_current_directory():
    args = cli.parse_args(["b"])
    assert (args.queue_file, args.hosts_file) == ("queue.yaml", "hosts.yaml")


def test_every_option_has_help_text_for_the_manual():
    def walk(parser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from walk(sub)
            else:
                yield action

    missing = [action.option_strings or action.dest for action in walk(cli.build_parser())
               if not action.help]
    assert missing == []


@pytest.mark.parametrize("args, words", [
    (["q", "--help"], ["example:", "queue.yaml", "hosts.yaml", "pegasus q", "--dry-run"]),
    (["queue", "-h"], ["example:", "pegasus q"]),
    (["b", "--help"], ["example:", "pegasus b", "lockstep"]),
    (["l", "--help"], ["example:", "pegasus l", "--editor"]),
])
def test_mode_help_works_and_shows_an_example(tmp_path, args, words):
    result = run_pegasus(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: pegasus ")
    for word in words:
        assert word in result.stdout


def test_top_level_help_lists_the_modes_and_exit_statuses(tmp_path):
    result = run_pegasus(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    for word in ["usage: pegasus", "queue", "broadcast", "lock", "130"]:
        assert word in result.stdout


def test_top_level_help_shows_an_example(tmp_path):
    result = run_pegasus(tmp_path, "--help")
    assert "example" in result.stdout.lower() and "hosts.yaml" in result.stdout.split(
        "example", 1)[-1]


def test_version_prints_the_package_version(tmp_path):
    result = run_pegasus(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == "pegasus " + pegasus.__version__


@pytest.mark.parametrize("args, words", [
    ([], ["usage:", "MODE"]),
    (["x"], ["usage:", "invalid choice"]),
    (["q", "--no-such-option"], ["usage:", "--no-such-option"]),
])
def test_bad_usage_exits_2_with_the_usage(tmp_path, args, words):
    result = run_pegasus(tmp_path, *args)
    assert result.returncode == 2
    for word in words:
        assert word in result.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("args", [["--help"], ["q", "--help"], ["b", "--help"],
                                  ["l", "--help"], ["--version"]])
def test_help_does_not_import_heavy_modules(tmp_path, args):
    code = (
        "import runpy, sys\n"
        "sys.argv = ['pegasus'] + sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_module('pegasus', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exc:\n"
        "    status = exc.code\n"
        "sys.stderr.write('status=%s\\n' % status)\n"
        "sys.stderr.write('modules=%s\\n' % ','.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path,
                            env=env_with_repo(), capture_output=True, text=True, timeout=60,
                            check=False)
    assert "status=0" in result.stderr, result.stderr
    modules = result.stderr.split("modules=", 1)[1].strip().split(",")
    assert "pegasus.cli" in modules
    loaded = [name for name in modules if name.split(".")[0] in HEAVY]
    assert loaded == []


@pytest.mark.skipif(not hasattr(sys, "stdlib_module_names"), reason="needs Python 3.10+")
def test_cli_module_imports_only_the_standard_library():
    imports = []
    for path in sorted((REPO / "pegasus" / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imports += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:   # not its own modules
                imports.append(node.module or "")
    assert imports
    assert all(name.split(".")[0] in sys.stdlib_module_names for name in imports), imports


# --- the command line as Pegasus 1.4 accepted it --------------------------------------------

@pytest.mark.parametrize("argv, mode, attribute, value", [
    (["-d", "q"], "queue", "daemon", True),
    (["--queue-file", "x.yaml", "q"], "queue", "queue_file", "x.yaml"),
    (["-p", "2", "b"], "broadcast", "print_period", 2),
    (["--hosts-file", "h.yaml", "-d", "b", "-p", "0"], "broadcast", "hosts_file", "h.yaml"),
    (["-Q", "q", "q"], "queue", "queue_file", "q"),   # a value that reads like a mode
])
def test_options_may_come_before_the_mode_as_in_pegasus_1_4(argv, mode, attribute, value):
    args = cli.parse_args(argv)
    assert args.mode == mode
    assert getattr(args, attribute) == value


@pytest.mark.parametrize("argv, note", [
    (["q", "-i"], "--ignore-errors has no effect in queue mode"),
    (["l", "-p", "2"], "--print-period has no effect in lock mode"),
    (["l", "-d"], "--daemon has no effect in lock mode"),
    (["q", "--editor", "vi"], "--editor has no effect in queue mode"),
])
def test_options_1_4_accepted_in_every_mode_get_a_note_where_they_do_nothing(argv, note):
    assert cli.parse_args(argv).notes == [note]


def test_no_note_where_an_option_applies():
    assert cli.parse_args(["b", "-i", "-d", "-p", "3"]).notes == []


def test_dash_capital_v_prints_the_version(tmp_path):
    result = run_pegasus(tmp_path, "-V")
    assert result.returncode == 0
    assert result.stdout.strip() == "pegasus " + pegasus.__version__


def test_the_note_is_printed_and_the_run_goes_on(tmp_path):
    (tmp_path / "hosts.yaml").write_text("- localhost\n")
    (tmp_path / "queue.yaml").write_text("- true\n")
    result = run_pegasus(tmp_path, "-i", "q")
    assert result.returncode == 0, result.stderr
    assert "pegasus: note: --ignore-errors has no effect in queue mode" in result.stderr


def test_commands_without_a_double_dash_are_a_usage_error(tmp_path):
    result = run_pegasus(tmp_path, "q", "-w", "localhost", "echo hi")
    assert result.returncode == 2
    assert "after --" in result.stderr


@pytest.mark.parametrize("rule", ["later,fail=1", "now,fail=0", "soon,fail=101%", "now,ok=1",
                                  "soon"])
def test_a_bad_halt_rule_is_a_usage_error(rule):
    with pytest.raises(SystemExit) as info:
        cli.parse_args(["q", "--halt", rule])
    assert info.value.code == 2


# --- the peers' habits ------------------------------------------------------------

@pytest.mark.parametrize("word, hint", [
    ("--bar", "--progress"), ("--eta", "--progress"), ("--tag", "--prefix colon"),
    ("--onall", "pegasus b"), ("--resume-failed", "--requeue failed"), ("-S", "-w HOSTS"),
    ("-k", "--gather"), ("-j", "-f N"),
])
def test_a_peers_option_gets_a_hint_after_unrecognized_arguments(capsys, word, hint):
    with pytest.raises(SystemExit) as stopped:
        cli.parse_args(["q", word, "-w", "node-1", "--", "true"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    at = next(n for n, line in enumerate(lines) if "unrecognized arguments: %s" % word in line)
    assert lines[at + 1].startswith("pegasus has no %s: " % word) and hint in lines[at + 1]


def test_an_unknown_option_no_peer_takes_gets_no_hint(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["q", "--frobnicate"])
    assert "pegasus has no" not in capsys.readouterr().err


def test_the_peers_flags_parse_with_their_meaning():
    args = cli.parse_args(["b", "-l", "ann", "-f", "4", "-t", "5", "-u", "60", "-N"])
    assert (args.user, args.fanout, args.connect_timeout, args.timeout, args.prefix) == (
        "ann", 4, 5, 60.0, "none")
    assert cli.parse_args(["-f", "2", "q"]).fanout == 2, "before the mode too, as 1.4 allowed"
    assert cli.parse_args(["q", "--prefix", "colon"]).prefix == "colon"


@pytest.mark.parametrize("argv", [["q", "-f", "0"], ["q", "-t", "0"], ["q", "-u", "0"],
                                  ["q", "--gather", "-N"], ["b", "--gather", "--prefix", "colon"],
                                  ["status", "--job", "x"], ["add"]])
def test_bad_values_of_the_peers_flags_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.parse_args(argv)
    assert stopped.value.code == 2


def test_add_joins_its_words_as_ssh_does():
    assert cli.parse_args(["add", "python", "t.py", "--lr", "0.5"]).command == \
        "python t.py --lr 0.5"
    assert cli.parse_args(["add", "-Q", "x.yaml", "--", "-x"]).command == "-x"
    assert cli.parse_args(["status", "--job", "runner.1:37"]).job == ("runner.1", 37)
