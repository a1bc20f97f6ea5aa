"""Host names: one rule for every name that may reach ssh (hosts.yaml, a
rendered hostname template, -w and -x, -w ^FILE, Slurm's nodes), and the
host-list syntax of pdsh and clush that pegasus does not implement --
refused at load, exit 2, nothing taken, never sent to ssh."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pegasus.errors import SpecError, UsageError
from pegasus.spec import hostlist, hostnames, nodeset
from pegasus.spec import allocation

REPO = Path(__file__).resolve().parent.parent

LEGAL = ["node-1", "node01.example.org", "ann@node-1", "a.b@c_d", "::1", "fe80::1%eth0",
         "127.0.0.1", "ssh://ann@node-1:2222", "gpu+1", "x=y", "n\u00e9ud-\u4e2d"]
# name -> what the message says of it
ILLEGAL = {
    "a;b": "holds ';'", "a|b": "holds '|'", "a&b": "holds '&'", "a$b": "holds '$'",
    "a$(id)": "holds '$'", "a`id`": "holds '`'", "a'b": "holds \"'\"", 'a"b': "holds '\"'",
    "a\\b": "holds '\\\\'", "a<b": "holds '<'", "a>b": "holds '>'", "a(b": "holds '('",
    "a)b": "holds ')'", "a*": "holds '*'", "a?": "holds '?'", "a{b,c}": "holds '{'",
    "a}": "holds '}'", "~root": "holds '~'", "a!b": "holds '!'", "a#b": "holds '#'",
    "a^b": "holds '^'", "a b": "holds ' ' (U+0020)", "a\tb": "holds '\\t' (U+0009)",
    "a\nb": "holds '\\n' (U+000A)", "a\u00a0b": "(U+00A0)", "a\u200bb": "(U+200B)",
    "a\x7fb": "(U+007F)", "": "is empty", "-oProxyCommand=x": "starts with '-'",
    "@node": "empty user or host", "ann@": "empty user or host",
}


@pytest.mark.parametrize("name", LEGAL)
def test_a_host_name_ssh_reads_as_one_destination_is_legal(name):
    assert hostnames.problem(name) is None


@pytest.mark.parametrize("name, said", list(ILLEGAL.items()), ids=list(map(repr, ILLEGAL)))
def test_a_host_name_a_shell_would_act_on_is_refused_saying_why(name, said):
    problem = hostnames.problem(name)
    assert problem is not None and said in problem


@pytest.mark.parametrize("text, said", [
    ("@gpu", "clush node group"),
    ("node-1,@gpu", "clush node group"),
    ("a!b", "set difference"),
    ("x&y", "set intersection"),
    ("a^b", "symmetric difference"),
    ("node-*", "wildcards"),
    ("node-?", "wildcards"),
    ("n[1-2]*", "wildcards"),
    ("node-1,-node-2", "use -x node-2"),
    ("/node.*/", "regex"),
    ("node-1,-", "-w -"),
    ("n[1-044]", "ambiguous"),
    ("n[001-44]", "ambiguous"),
    ("n[01-3]", "ambiguous"),
    ("n[1-2,3-010]", "ambiguous"),
])
def test_host_list_syntax_pegasus_does_not_implement_is_refused(text, said):
    with pytest.raises(nodeset.RangeError) as info:
        nodeset.expand_list(text)
    assert said in str(info.value)


@pytest.mark.parametrize("text, expected", [
    ("n[01-100]", ["n%02d" % i for i in range(1, 101)]),
    ("n[1-10]", ["n%d" % i for i in range(1, 11)]),
    ("n[0-2]", ["n0", "n1", "n2"]),
    ("n[007-009]", ["n007", "n008", "n009"]),
    ("n[1-2,05-06]", ["n1", "n2", "n05", "n06"]),
])
def test_ranges_whose_padding_is_clear_expand(text, expected):
    assert nodeset.expand_list(text) == expected


def test_the_ambiguous_padding_message_offers_both_readings():
    with pytest.raises(nodeset.RangeError) as info:
        nodeset.expand("n[1-044]")
    assert "[001-044] or [1-44]" in str(info.value)


def test_slurm_node_names_follow_the_same_rule(monkeypatch):
    monkeypatch.setattr(allocation, "nodes_of", lambda where, **_: ("7", ["n1", "n;2"], True))
    with pytest.raises(UsageError) as info:
        hostlist._allocation("current")
    assert "--slurm: node name 'n;2' holds ';'" in str(info.value)


def test_slurm_entry_node_names_follow_the_same_rule(monkeypatch, tmp_path):
    from pegasus.spec.hosts import load_hosts
    from pegasus.templates.template import Templates
    monkeypatch.setattr(allocation, "nodes_of", lambda where, **_: ("7", ["n1", "n$2"], True))
    path = tmp_path / "hosts.yaml"
    path.write_text("- node-1\n- slurm: current\n")
    with pytest.raises(SpecError) as info:
        load_hosts(str(path), Templates())
    assert str(info.value.first).startswith("%s:2: slurm: node name 'n$2' holds '$'" % path)


# --- through the command line: exit 2, nothing taken ---------------------------------

QUEUE = "- echo hi\n"


def run_pegasus(cwd, *args, stdin=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "pegasus", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False,
                          input=stdin)


def files_of(directory):
    return sorted(os.listdir(directory))


@pytest.mark.parametrize("hosts, said", [
    ("- node-1\n- 'node-2;reboot'\n", "hosts.yaml:2: hostname 'node-2;reboot' holds ';'"),
    ("- hostname: '{{ user }}@node-1'\n  user: 'x$(id)'\n",
     "hosts.yaml:1: hostname 'x$(id)@node-1' (from '{{ user }}@node-1') holds '$'"),
    ("- node-1\n- hostname: node-[1-044]\n", "hosts.yaml:2: hostname 'node-[1-044]': "
                                             "'[1-044]' is ambiguous"),
    ("- '`id`'\n", "hosts.yaml:1: hostname '`id`' holds '`'"),
])
def test_a_bad_host_name_in_hosts_yaml_is_refused_at_its_line_and_nothing_is_taken(
        tmp_path, hosts, said):
    (tmp_path / "hosts.yaml").write_text(hosts)
    (tmp_path / "queue.yaml").write_text(QUEUE)
    result = run_pegasus(tmp_path, "q")
    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert "hint: " in result.stderr
    assert (tmp_path / "queue.yaml").read_text() == QUEUE
    assert files_of(tmp_path) == ["hosts.yaml", "queue.yaml"]


@pytest.mark.parametrize("args, said", [
    (["-w", "@gpu"], "-w: '@gpu' is a clush node group"),
    (["-w", "a!b"], "-w: 'a!b': '!' is clush's set difference"),
    (["-w", "x&y"], "-w: 'x&y': '&' is clush's set intersection"),
    (["-w", "node-*"], "-w: 'node-*': pegasus expands no wildcards"),
    (["-w", "n[1-044]"], "-w n[1-044]: '[1-044]' is ambiguous"),
    (["-w", "n[001-44]"], "-w n[001-44]: '[001-44]' is ambiguous"),
    (["-w", "node-1;id"], "-w node-1;id: host name 'node-1;id' holds ';'"),
    (["-w", "node-1,$(id)"], "host name '$(id)' holds '$'"),
    (["-w", "node-1", "-x", "@gpu"], "-x: '@gpu' is a clush node group"),
    (["-w", "node-1", "-x", "a|b"], "-x a|b: host name 'a|b' holds '|'"),
    (["-w", "^no-such-file"], "-w ^no-such-file: cannot read no-such-file: No such file"),
    (["-w", "^"], "the file's name is missing"),
])
def test_a_host_list_pegasus_does_not_understand_is_refused_and_nothing_is_taken(
        tmp_path, args, said):
    (tmp_path / "queue.yaml").write_text(QUEUE)
    result = run_pegasus(tmp_path, "q", *args)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert result.stdout == ""
    assert (tmp_path / "queue.yaml").read_text() == QUEUE
    assert files_of(tmp_path) == ["queue.yaml"]


def test_names_from_stdin_follow_the_same_rule(tmp_path):
    result = run_pegasus(tmp_path, "b", "-w", "-", "--", "true", stdin="node-1\nnode-2>x\n")
    assert result.returncode == 2
    assert "-w -: host name 'node-2>x' holds '>'" in result.stderr


# --- -w ^FILE ---------------------------------------------------------------------------

HOST_FILE = """\
# the GPU nodes
node-1
node-[2-3],node-5    # a list and a range on one line

\tnode-7\t
node-1
"""


def test_w_file_reads_one_host_or_range_per_line_as_pdsh_does(tmp_path):
    (tmp_path / "gpus").write_text(HOST_FILE)
    result = run_pegasus(tmp_path, "b", "--dry-run", "-w", "^gpus", "-x", "node-3", "--",
                         "true")
    assert result.returncode == 0, result.stderr
    assert [line.strip() for line in result.stdout.splitlines() if "]" in line] == [
        "[node-1] true", "[node-2] true", "[node-5] true", "[node-7] true"]


def test_x_file_leaves_the_hosts_of_a_file_out(tmp_path):
    (tmp_path / "down").write_text("node-2\n")
    result = run_pegasus(tmp_path, "b", "--dry-run", "-w", "node-[1-3]", "-x", "^down", "--",
                         "true")
    assert result.returncode == 0, result.stderr
    assert "[node-2]" not in result.stdout and "[node-3] true" in result.stdout


@pytest.mark.parametrize("text, said", [
    ("node-1\nnode-2;id\n", "gpus:2: host name 'node-2;id' holds ';'"),
    ("node-1\n\n@gpu\n", "gpus:3: '@gpu' is a clush node group"),
    ("node-[3-1]\n", "gpus:1: range '3-1' goes down"),
])
def test_a_bad_line_of_a_host_file_is_refused_at_its_line(tmp_path, text, said):
    (tmp_path / "gpus").write_text(text)
    (tmp_path / "queue.yaml").write_text(QUEUE)
    result = run_pegasus(tmp_path, "q", "-w", "^gpus")
    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert (tmp_path / "queue.yaml").read_text() == QUEUE
    assert files_of(tmp_path) == ["gpus", "queue.yaml"]


def test_a_host_file_that_cannot_be_read_is_named(tmp_path):
    (tmp_path / "dir").mkdir()
    result = run_pegasus(tmp_path, "q", "-w", "^dir", "--", "true")
    assert result.returncode == 2
    assert "-w ^dir: cannot read dir: Is a directory" in result.stderr
