"""The bad-input corpus: every malformed hosts.yaml or queue.yaml, run through
the real command line, exits 2 with a message that says where (FILE:LINE),
what is wrong and what to do -- and changes no file, consumes nothing."""

import collections
import concurrent.futures
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

HOSTS = "- node-1\n- hostname: node-2\n  gpu: 0\n"
QUEUE = "- echo hi\n"


Case = collections.namedtuple("Case", "name queue hosts expected args setup")


def case(name, queue=QUEUE, hosts=HOSTS, expected=(), args=None, setup=None):
    """One bad input: the files (text or bytes), the substrings the message
    must hold, and optionally more arguments or a setup step."""
    return Case(name, queue, hosts, list(expected), args, setup)


def _make_directory(tmp_path):
    os.mkdir(tmp_path / "qdir")


CASES = [
    # --- YAML syntax
    case("bad_indentation", queue="- command: a\n   x: 1\n  y: 2\n",
         expected=["queue.yaml:2:", "YAML syntax error", "indented alike"]),
    case("unclosed_quote", queue="- echo a\n- 'echo hi\n- echo b\n",
         expected=["queue.yaml:2:", "quoted scalar", "not closed"]),
    case("unclosed_flow_list", queue="- command: [a, b\n- c\n",
         expected=["queue.yaml:1:", "flow sequence", "not closed"]),
    case("tab_indentation", queue="- command: a\n\tx: 1\n",
         expected=["queue.yaml:2:", "tab", "use spaces"]),
    case("tab_before_a_list_item", queue="command:\n\t- a\n",
         expected=["queue.yaml:2:", "use spaces"]),
    case("merge_key", queue="- &base\n  command: echo {{ x }}\n  x: 1\n- <<: *base\n  x: 2\n",
         expected=["queue.yaml:4:", "'<<' (a YAML merge key) is not supported",
                   "write the keys out"]),
    case("merge_key_in_hosts", hosts="- node-1\n- hostname: node-2\n  <<: {gpu: 0}\n",
         expected=["hosts.yaml:3:", "merge key"]),
    case("alias_of_a_mapping", queue="- command: a\n  m: &m x\n- command: b\n  x: &o {a: 1}\n"
         "- command: c\n  y: *o\n",
         expected=["queue.yaml:4: 'x' holds a mapping",
                   "queue.yaml:6: 'y' is an alias of what line 4 holds"]),
    case("undefined_alias", queue="- echo a\n- *x\n",
         expected=["queue.yaml:2:", "undefined alias", "quote"]),
    case("unquoted_colon_breaks_yaml", queue="- command: echo a: b\n",
         expected=["queue.yaml:1:", "mapping values", "must be quoted"]),
    case("unquoted_colon_makes_a_mapping", queue="- echo a\n- echo time: now\n",
         expected=["queue.yaml:2:", "reads as a mapping", "- 'echo time: now'"]),
    case("two_documents", queue="- a\n---\n- b\n",
         expected=["queue.yaml:2:", "more than one YAML document", "'---'"]),
    case("hosts_syntax_error", hosts="- hostname: [a, b\n",
         expected=["hosts.yaml:1:", "flow sequence", "not closed"]),
    # --- file level
    case("mapping_root", queue="command: echo hi\n",
         expected=["queue.yaml:1:", "must be a list", "a mapping"]),
    case("scalar_root", queue="echo hi\n",
         expected=["queue.yaml:1:", "must be a list", "a single value"]),
    case("hosts_mapping_root", hosts="hostname: node-1\n",
         expected=["hosts.yaml:1:", "must be a list", "'- node-1'"]),
    case("binary_file", queue=b"- echo a\n- \x00\x01\x02\n",
         expected=["queue.yaml:2:", "NUL byte", "binary"]),
    case("binary_hosts_file", hosts=b"\x7fELF\x00\x00",
         expected=["hosts.yaml:1:", "binary"]),
    case("latin1_file", queue="- echo a\n- echo café\n".encode("latin-1"),
         expected=["queue.yaml:2:", "not UTF-8", "save the file as UTF-8"]),
    case("directory_as_queue", args=["-Q", "qdir"], setup=_make_directory,
         expected=["qdir: is a directory", "-Q"]),
    case("missing_queue_file", args=["-Q", "nope.yaml"],
         expected=["nope.yaml: no such file", "-Q"]),
    case("missing_hosts_file", args=["-H", "nope.yaml"],
         expected=["nope.yaml: no such file", "-H"]),
    case("empty_hosts_file", hosts="",
         expected=["hosts.yaml: lists no host", "localhost"]),
    case("hosts_file_with_only_comments", hosts="# - node-1\n",
         expected=["hosts.yaml: lists no host"]),
    # --- entry shapes
    case("entry_without_command", queue="- echo a\n- gpu: 1\n",
         expected=["queue.yaml:2:", "no 'command' key"]),
    case("host_without_hostname", hosts="- node-1\n- gpu: 1\n",
         expected=["hosts.yaml:2:", "no 'hostname' key"]),
    case("list_in_list_as_value", queue="- command: a\n  x: [[1, 2], 3]\n",
         expected=["queue.yaml:2:", "list inside a list", "flatten"]),
    case("list_in_list_as_entry", queue="- echo a\n- - echo b\n",
         expected=["queue.yaml:2:", "list inside the top-level list"]),
    case("mapping_as_value", queue="- command: a\n  x: {y: 1}\n",
         expected=["queue.yaml:2:", "'x' holds a mapping"]),
    case("empty_hostname_list", hosts="- node-1\n- hostname: []\n",
         expected=["hosts.yaml:2:", "'hostname' is an empty list"]),
    case("empty_parameter_list", queue="- command: a\n  x: []\n",
         expected=["queue.yaml:2:", "'x' is an empty list"]),
    case("duplicate_key", queue="- command: a\n  x: 1\n  x: 2\n",
         expected=["queue.yaml:3:", "'x' appears twice"]),
    case("empty_command", queue="- echo a\n- command: ''\n",
         expected=["queue.yaml:2:", "'command' is empty"]),
    case("empty_entry", queue="- echo a\n-\n",
         expected=["queue.yaml:2:", "empty entry"]),
    case("hostname_with_space", hosts="- 'node 1'\n",
         expected=["hosts.yaml:1:", "holds ' '"]),
    case("hostname_a_shell_would_act_on", hosts="- node-1\n- 'node-2;reboot'\n",
         expected=["hosts.yaml:2:", "holds ';'", "%h"]),
    case("hostname_template_rendering_a_shell_character",
         hosts="- hostname: '{{ user }}@node-1'\n  user: 'a`id`'\n",
         expected=["hosts.yaml:1:", "from '{{ user }}@node-1'", "holds '`'"]),
    # --- host ranges
    case("range_going_down", hosts="- node[3-1]\n",
         expected=["hosts.yaml:1:", "node[3-1]", "goes down"]),
    case("range_not_numeric", hosts="- node-1\n- node[a-c]\n",
         expected=["hosts.yaml:2:", "not a range", "node[01-16]"]),
    case("range_unbalanced_bracket", hosts="- node[1-3\n",
         expected=["hosts.yaml:1:", "unbalanced"]),
    case("range_with_ambiguous_padding", hosts="- node[1-044]\n",
         expected=["hosts.yaml:1:", "ambiguous", "[001-044] or [1-44]"]),
    # --- special keys
    case("timeout_not_a_number", queue="- command: a\n  timeout: abc\n",
         expected=["queue.yaml:2:", "'timeout'", "'abc'"]),
    case("timeout_negative", queue="- command: a\n  timeout: -1\n",
         expected=["queue.yaml:2:", "'timeout'", "'-1'"]),
    case("job_slots_zero", queue="- command: a\n  slots: 0\n",
         expected=["queue.yaml:2:", "'slots'", "'0'"]),
    case("allocation_policy_unknown", queue="- command: a\n  allocation_policy: worst\n",
         expected=["queue.yaml:2:", "'allocation_policy'", "first_fit", "'worst'"]),
    case("host_slots_list", hosts="- hostname: node-1\n  slots: [1, 2]\n",
         expected=["hosts.yaml:2:", "'slots'", "a list"]),
    case("host_slots_zero", hosts="- hostname: node-1\n  slots: 0\n",
         expected=["hosts.yaml:2:", "'slots'"]),
    # --- templates
    case("missing_variable", queue="- echo a\n- echo {{ lr }}\n",
         expected=["queue.yaml:2:", "'lr'", "not defined"]),
    case("variable_missing_on_one_sub_host", queue="- echo {{ gpu }}\n",
         expected=["queue.yaml:1:", "'gpu'", "sub-host node-1"]),
    case("unknown_helper", queue="- echo {{ frobnicate hostname }}\n",
         expected=["queue.yaml:1:", "unknown helper 'frobnicate'", "replace"]),
    case("helper_with_wrong_arguments", queue="- echo {{ replace hostname }}\n",
         expected=["queue.yaml:1:", "'replace' with 1 argument", "takes 3"]),
    case("unterminated_mustache", queue="- echo {{ hostname\n",
         expected=["queue.yaml:1:", "never closed"]),
    case("unclosed_if", queue="- echo {{#if gpu}}--gpu {{ gpu }}\n",
         expected=["queue.yaml:1:", "{{#if}}", "never closed", "{{/if}}"]),
    case("stray_closing_braces", queue="- echo {{ hostname }} }}\n",
         expected=["queue.yaml:1:", "closes nothing", "'} }'"]),
    case("hostname_template_missing_variable", hosts="- hostname: '{{ user }}@node-1'\n",
         expected=["hosts.yaml:1:", "'user'", "not defined"]),
    # --- inputs that once crashed or hung a runner (the hardening issue)
    case("nul_in_a_command", queue='- "echo a\\0b"\n',
         expected=["queue.yaml:1:", "NUL character", "\\0"]),
    case("nul_in_a_parameter", queue='- command: echo {{ x }}\n  x: ["a", "b\\x00"]\n',
         expected=["queue.yaml:2:", "'x'", "NUL character"]),
    case("nul_in_a_hostname", hosts='- hostname: "node\\0-1"\n',
         expected=["hosts.yaml:1:", "'hostname'", "NUL character"]),
    case("cartesian_product_over_the_limit",
         queue="- command: echo {{ a }}{{ b }}{{ c }}\n" + "".join(
             "  %s: [%s]\n" % (key, ", ".join(str(n) for n in range(1000))) for key in "abc"),
         expected=["queue.yaml:1:", "1000000000 jobs", "more than the 100000"]),
    case("hosts_product_over_the_limit",
         hosts="- hostname: node[1-1000]\n  gpu: [%s]\n" % ", ".join(str(n) for n in range(1000)),
         expected=["hosts.yaml:1:", "more than 10000 sub-hosts"]),
    case("command_too_long_for_ssh", queue="- echo %s\n" % ("'" * 40000),
         hosts="- node-1\n", expected=["queue.yaml:1:", "too long for ssh", "bytes once quoted"]),
    case("command_too_long_for_localhost", queue="- echo %s\n" % ("x" * 140000),
         hosts="- localhost\n", expected=["queue.yaml:1:", "command too long", "131071"]),
    case("queue_is_a_fifo", args=["-Q", "fifo"], setup=lambda d: os.mkfifo(d / "fifo"),
         expected=["fifo: is a FIFO, not a regular file", "-Q"]),
    case("hosts_is_a_fifo", args=["-H", "fifo"], setup=lambda d: os.mkfifo(d / "fifo"),
         expected=["fifo: is a FIFO, not a regular file", "-H"]),
    case("error_deep_in_a_long_file",
         queue="".join("- echo %d\n" % n for n in range(499)) + "- command: x\n  y: [[1]]\n",
         expected=["queue.yaml:501:", "list inside a list"]),
]


def snapshot(directory):
    files = {}
    for root, _dirs, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            if not os.path.isfile(path):
                files[os.path.relpath(path, directory)] = b"mode %o" % os.stat(path).st_mode
                continue
            with open(path, "rb") as stream:
                files[os.path.relpath(path, directory)] = stream.read()
    return files


def put(path, content):
    with open(path, "wb") as stream:
        stream.write(content.encode("utf-8") if isinstance(content, str) else content)


def run_pegasus(cwd, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "pegasus", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


class Run:
    """One case run through the command line: its directory, the files
    before, and the finished process."""

    def __init__(self, directory, bad):
        put(directory / "queue.yaml", bad.queue)
        put(directory / "hosts.yaml", bad.hosts)
        if bad.setup is not None:
            bad.setup(directory)
        self.directory = directory
        self.before = snapshot(directory)
        self.argv = ["q", "--dry-run", "-Q", "queue.yaml", "-H", "hosts.yaml"] + (bad.args or [])
        self.result = None

    def __call__(self):
        self.result = run_pegasus(self.directory, *self.argv)
        return self


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Every case, run once, a few at a time: each is its own `python -m
    pegasus`, and most of their time is interpreter start-up."""
    runs = {bad.name: Run(tmp_path_factory.mktemp(bad.name), bad) for bad in CASES}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        list(pool.map(lambda run: run(), runs.values()))
    return runs


def test_corpus_is_large_enough():
    assert len(CASES) >= 30
    assert len({bad.name for bad in CASES}) == len(CASES)


@pytest.mark.parametrize("bad", CASES, ids=[bad.name for bad in CASES])
def test_bad_input_exits_2_saying_where_and_changes_nothing(corpus, bad):
    run = corpus[bad.name]
    message = run.result.stderr
    assert run.result.returncode == 2, message
    assert "Traceback" not in message
    assert message.startswith("pegasus: ")
    assert "hint: " in message
    for text in bad.expected:
        assert text in message
    assert run.result.stdout == ""
    assert snapshot(run.directory) == run.before
    assert not os.path.exists(run.directory / "consumed.yaml")


def test_good_input_passes_the_same_check(tmp_path):
    put(tmp_path / "queue.yaml", QUEUE)
    put(tmp_path / "hosts.yaml", HOSTS)
    result = run_pegasus(tmp_path, "q", "--dry-run", "-Q", "queue.yaml", "-H", "hosts.yaml")
    assert result.returncode == 0, result.stderr
    assert "echo hi" in result.stdout


BIG = 100000   # entries before the bad one: a big queue is checked whole, all the same


@pytest.mark.parametrize("tail, expected", [
    ("- command: x\n  timeout: soon\n", ["queue.yaml:%d:" % (BIG + 3), "'timeout'"]),
    ("- echo {{ lr }}\n", ["queue.yaml:%d:" % (BIG + 2), "'lr'", "not defined"]),
    ("- 'echo unclosed\n", ["queue.yaml:%d:" % (BIG + 2), "not closed"]),
    ("- gpu: 1\n", ["queue.yaml:%d:" % (BIG + 2), "no 'command' key"]),
], ids=["special_key", "template", "yaml_syntax", "shape"])
def test_a_bad_entry_at_the_end_of_a_big_queue_is_refused_before_anything_is_taken(
        tmp_path, tail, expected):
    text = "# a big queue\n" + "".join("- echo %d\n" % n for n in range(BIG)) + tail
    put(tmp_path / "queue.yaml", text)
    result = run_pegasus(tmp_path, "q", "-w", "localhost", "-Q", "queue.yaml")
    assert result.returncode == 2, result.stderr
    for words in expected:
        assert words in result.stderr
    with open(tmp_path / "queue.yaml") as stream:
        assert stream.read() == text
    assert not os.path.exists(tmp_path / "consumed.yaml")
