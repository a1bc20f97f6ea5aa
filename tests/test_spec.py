"""hosts.yaml and queue.yaml -> sub-hosts and jobs (SPEC §1): entry shapes,
cartesian expansion, literal scalars, host ranges, special keys."""

import pytest

from pegasus.errors import SpecError
from pegasus.spec.hosts import load_hosts
from pegasus.spec.validate import validate_text
from pegasus.templates.template import Templates
from pegasus.transports import transport


def hosts(tmp_path, text):
    path = tmp_path / "hosts.yaml"
    path.write_text(text)
    return load_hosts(str(path), Templates())


def jobs(text, path="queue.yaml"):
    return validate_text(text, path)


def job_tuples(text):
    return [(job.command, job.params) for job in jobs(text)]


def spec_error(function, *args):
    with pytest.raises(SpecError) as info:
        function(*args)
    return str(info.value)


# --- queue entries ------------------------------------------------------------

def test_bare_string_entry_is_one_job_without_parameters():
    assert job_tuples("- echo hi\n") == [("echo hi", {})]


def test_mapping_entry_with_scalar_command_is_one_job_with_its_parameters():
    assert job_tuples("- command: echo {{ x }}\n  x: 1\n") == [("echo {{ x }}", {"x": "1"})]


def test_queue_entry_expands_to_cartesian_product():
    text = "- command: [a, b]\n  x: [1, 2]\n  y: [p, q]\n"
    assert job_tuples(text) == [
        ("a", {"x": "1", "y": "p"}), ("a", {"x": "1", "y": "q"}),
        ("a", {"x": "2", "y": "p"}), ("a", {"x": "2", "y": "q"}),
        ("b", {"x": "1", "y": "p"}), ("b", {"x": "1", "y": "q"}),
        ("b", {"x": "2", "y": "p"}), ("b", {"x": "2", "y": "q"}),
    ]


def test_expansion_follows_key_order_in_file_first_key_slowest():
    text = "- x: [1, 2]\n  command: [a, b]\n"
    assert job_tuples(text) == [
        ("a", {"x": "1"}), ("b", {"x": "1"}), ("a", {"x": "2"}), ("b", {"x": "2"}),
    ]


def test_parameters_keep_file_order():
    [job] = jobs("- command: c\n  zeta: 1\n  alpha: 2\n  mid: 3\n")
    assert list(job.params) == ["zeta", "alpha", "mid"]


def test_scalar_and_one_item_list_give_the_same_job():
    assert job_tuples("- command: c\n  x: 1\n") == job_tuples("- command: [c]\n  x: [1]\n")


def test_spec_quiz_queue_expands_to_nine_jobs_in_order():
    text = (
        "- echo hi from {{ hostname }}\n"
        "- command:\n"
        "    - for i in $(seq {{ low }} {{ high }}); do echo $i; sleep {{ laziness }}; done\n"
        "    - echo bye from {{ hostname }}\n"
        "  low: [1, 2]\n"
        "  high: [3, 4]\n"
    )
    result = job_tuples(text)
    assert len(result) == 9
    assert result[0] == ("echo hi from {{ hostname }}", {})
    assert [params for _, params in result[1:5]] == [
        {"low": "1", "high": "3"}, {"low": "1", "high": "4"},
        {"low": "2", "high": "3"}, {"low": "2", "high": "4"}]
    assert all(command.startswith("for i") for command, _ in result[1:5])
    assert all(command.startswith("echo bye") for command, _ in result[5:])


def test_jobs_remember_file_and_line_of_their_entry():
    result = jobs("# head\n- a\n\n- command: [b, c]\n", "q.yaml")
    assert [(job.path, job.line) for job in result] == [("q.yaml", 2), ("q.yaml", 4), ("q.yaml", 4)]


def test_entry_without_command_is_an_error_naming_file_and_line():
    message = spec_error(jobs, "- a\n- x: 1\n", "q.yaml")
    assert "q.yaml:2:" in message and "no 'command' key" in message


def test_every_problem_of_a_file_is_reported_together():
    message = spec_error(jobs, "- x: 1\n- c\n- y: 2\n- command: c\n  x: [[1]]\n", "q.yaml")
    assert "q.yaml:1:" in message and "q.yaml:3:" in message and "q.yaml:5:" in message


def test_special_key_problems_of_several_entries_are_reported_together():
    text = "- command: c\n  timeout: abc\n- d\n- command: e\n  slots: 0\n"
    message = spec_error(jobs, text, "q.yaml")
    assert "q.yaml:2:" in message and "q.yaml:5:" in message


@pytest.mark.parametrize("text, expected", [
    ("- command: c\n  x: on\n", "on"),
    ("- command: c\n  x: off\n", "off"),
    ("- command: c\n  x: yes\n", "yes"),
    ("- command: c\n  x: No\n", "No"),
    ("- command: c\n  x: 08\n", "08"),
    ("- command: c\n  x: 010\n", "010"),
    ("- command: c\n  x: 1e-4\n", "1e-4"),
    ("- command: c\n  x: 0x10\n", "0x10"),
    ("- command: c\n  x: 0o17\n", "0o17"),
    ("- command: c\n  x: ~\n", "~"),
    ("- command: c\n  x: null\n", "null"),
    ("- command: c\n  x: .inf\n", ".inf"),
    ("- command: c\n  x: -.nan\n", "-.nan"),
    ("- command: c\n  x: 1_000\n", "1_000"),
    ("- command: c\n  x: 1.50\n", "1.50"),
    ("- command: c\n  x: 12:30\n", "12:30"),
    ("- command: c\n  x: 2024-01-02\n", "2024-01-02"),
    ("- command: c\n  x: true\n", "true"),
    ("- command: c\n  x: '08'\n", "08"),
    ("- command: c\n  x: \"on\"\n", "on"),
    ("- command: c\n  x: 'it''s'\n", "it's"),
    ("- command: c\n  x: \"tab\\there\"\n", "tab\there"),
    ("- command: c\n  x:\n", ""),
    ("- command: c\n  x: ''\n", ""),
])
def test_every_scalar_is_kept_as_the_literal_text_written(text, expected):
    [job] = jobs(text)
    assert job.params["x"] == expected


def test_list_items_are_literal_text_too():
    [a, b, c] = jobs("- command: c\n  x: [on, 08, 1e-4]\n")
    assert [a.params["x"], b.params["x"], c.params["x"]] == ["on", "08", "1e-4"]


def test_bare_entry_that_looks_like_a_number_or_boolean_stays_text():
    assert [job.command for job in jobs("- 08\n- on\n- ~\n- 1e-4\n")] == ["08", "on", "~", "1e-4"]


def test_block_scalar_command_keeps_its_newlines():
    [job] = jobs("- command: |\n    echo a\n    echo b\n")
    assert job.command == "echo a\necho b\n"


def test_folded_plain_multiline_command_is_joined_by_spaces():
    [job] = jobs("- echo a\n  b\n")
    assert job.command == "echo a b"


def test_canonical_form_has_command_first_then_parameters():
    [job] = jobs("- x: 1\n  command: echo {{ x }}\n")
    assert job.canonical() == "- command: echo {{ x }}\n  x: 1\n"


# --- special job keys -----------------------------------------------------------

def test_timeout_slots_and_policy_are_read_from_the_job():
    [job] = jobs("- command: c\n  timeout: 1.5\n  slots: 2\n  allocation_policy: buddy\n")
    assert (job.timeout, job.slots, job.allocation_policy) == (1.5, 2, "buddy")


def test_job_defaults_are_no_timeout_one_slot_first_fit():
    [job] = jobs("- c\n")
    assert (job.timeout, job.slots, job.allocation_policy) == (None, 1, "first_fit")


def test_a_list_of_timeouts_expands_like_any_parameter():
    assert [job.timeout for job in jobs("- command: c\n  timeout: [1, 2.5]\n")] == [1.0, 2.5]


@pytest.mark.parametrize("line, words", [
    ("timeout: abc", ["'timeout'", "'abc'"]),
    ("timeout: -1", ["'timeout'", "'-1'"]),
    ("timeout: 0", ["'timeout'", "'0'"]),
    ("timeout: .inf", ["'timeout'"]),
    ("timeout: nan", ["'timeout'"]),
    ("timeout: [1, x]", ["'timeout'", "'x'"]),
    ("slots: 0", ["'slots'", "'0'"]),
    ("slots: -2", ["'slots'"]),
    ("slots: 1.5", ["'slots'"]),
    ("slots: two", ["'slots'"]),
    ("slots: ²", ["'slots'"]),
    ("allocation_policy: worst", ["'allocation_policy'", "first_fit", "buddy", "worst"]),
    ("allocation_policy: [first_fit, buddy]", ["'allocation_policy'"]),
])
def test_bad_special_job_key_is_an_error_at_its_line(line, words):
    message = spec_error(jobs, "- command: c\n  %s\n" % line, "q.yaml")
    assert message.startswith("q.yaml:2: ")
    assert "hint:" in message
    for word in words:
        assert word in message


# --- hosts ------------------------------------------------------------------------

def test_bare_string_host_is_one_sub_host_without_parameters(tmp_path):
    [host] = hosts(tmp_path, "- node-1\n")
    assert (host.hostname, host.params, host.slots, host.label) == ("node-1", {}, 1, "node-1")


def test_host_entry_expands_to_cartesian_product_of_sub_hosts(tmp_path):
    result = hosts(tmp_path, "- hostname: [node-1, node-2]\n  container: [gpu0, gpu1]\n- node-3\n")
    assert [(h.hostname, h.params) for h in result] == [
        ("node-1", {"container": "gpu0"}), ("node-1", {"container": "gpu1"}),
        ("node-2", {"container": "gpu0"}), ("node-2", {"container": "gpu1"}),
        ("node-3", {}),
    ]
    assert [h.index for h in result] == [0, 1, 2, 3, 4]
    assert result[1].label == "node-1 (container=gpu1)"


def test_host_parameters_are_literal_text(tmp_path):
    [host] = hosts(tmp_path, "- hostname: n\n  gpu: 08\n  flag: on\n")
    assert host.params == {"gpu": "08", "flag": "on"}


def test_hostname_template_renders_over_the_entry_parameters(tmp_path):
    result = hosts(tmp_path, "- hostname: '{{ user }}@node-{{ n }}'\n  user: ann\n  n: [1, 2]\n")
    assert [(h.hostname, h.params) for h in result] == [
        ("ann@node-1", {"user": "ann", "n": "1"}), ("ann@node-2", {"user": "ann", "n": "2"})]


def test_hostname_template_with_unknown_variable_names_it_and_the_line(tmp_path):
    message = spec_error(hosts, tmp_path, "- a\n- hostname: '{{ usr }}@node'\n  user: ann\n")
    assert "hosts.yaml:2:" in message and "'usr'" in message


@pytest.mark.parametrize("name, expected", [
    ("node[01-16]", ["node%02d" % i for i in range(1, 17)]),
    ("gpu[1-3,7]", ["gpu1", "gpu2", "gpu3", "gpu7"]),
    ("rack[1-2]-node[1-3]", ["rack1-node1", "rack1-node2", "rack1-node3",
                             "rack2-node1", "rack2-node2", "rack2-node3"]),
    ("n[08-10]", ["n08", "n09", "n10"]),
    ("n[007]", ["n007"]),
])
def test_host_range_expands_in_order_keeping_zero_padding(tmp_path, name, expected):
    assert [h.hostname for h in hosts(tmp_path, "- %s\n" % name)] == expected


def test_host_range_in_a_mapping_entry_combines_with_parameters(tmp_path):
    result = hosts(tmp_path, "- hostname: n[1-2]\n  gpu: [0, 1]\n")
    assert [(h.hostname, h.params["gpu"]) for h in result] == [
        ("n1", "0"), ("n2", "0"), ("n1", "1"), ("n2", "1")]


def test_host_range_may_come_from_a_hostname_template(tmp_path):
    result = hosts(tmp_path, "- hostname: '{{ prefix }}[1-2]'\n  prefix: gpu\n")
    assert [h.hostname for h in result] == ["gpu1", "gpu2"]


@pytest.mark.parametrize("name, words", [
    ("node[3-1]", ["node[3-1]", "goes down"]),
    ("node[a-b]", ["node[a-b]", "not a range"]),
    ("node[1-3", ["unbalanced"]),
    ("node1-3]", ["unbalanced"]),
    ("node[]", ["not a range"]),
])
def test_bad_host_range_is_an_error_at_its_line(tmp_path, name, words):
    message = spec_error(hosts, tmp_path, "- ok\n- hostname: '%s'\n" % name)
    assert "hosts.yaml:2:" in message and "hint:" in message
    for word in words:
        assert word in message


def test_host_slots_are_read_and_not_a_template_variable(tmp_path):
    [host] = hosts(tmp_path, "- hostname: n\n  slots: 8\n  gpu: 0\n")
    assert host.slots == 8
    assert host.params == {"gpu": "0"}
    assert "slots" not in host.variables()


@pytest.mark.parametrize("value", ["0", "[1, 2]", "x", "-1", "1.5"])
def test_bad_host_slots_is_an_error(tmp_path, value):
    message = spec_error(hosts, tmp_path, "- hostname: n\n  slots: %s\n" % value)
    assert "hosts.yaml:2:" in message and "'slots'" in message


def test_host_entry_without_hostname_is_an_error(tmp_path):
    message = spec_error(hosts, tmp_path, "- n\n- gpu: 1\n")
    assert "hosts.yaml:2:" in message and "'hostname'" in message


def test_hostname_with_spaces_is_an_error(tmp_path):
    message = spec_error(hosts, tmp_path, "- hostname: '{{ a }}'\n  a: 'x y'\n")
    assert "hosts.yaml:1:" in message and "spaces" in message


def test_hosts_file_with_no_host_is_an_error(tmp_path):
    assert "lists no host" in spec_error(hosts, tmp_path, "# nobody\n")


@pytest.mark.parametrize("name", ["localhost", "LocalHost", "LOCALHOST", "127.0.0.1", "::1"])
def test_localhost_is_detected_in_any_case(tmp_path, name):
    [host] = hosts(tmp_path, "- '%s'\n" % name)
    assert transport.choose(host) is transport.LocalTransport


@pytest.mark.parametrize("name", ["node-1", "ann@localhost", "localhost2", "127.0.0.2"])
def test_other_hosts_are_not_local(tmp_path, name):
    [host] = hosts(tmp_path, "- '%s'\n" % name)
    assert transport.choose(host) is transport.SshTransport


def test_plain_ipv6_loopback_is_read_as_a_host_name(tmp_path):
    [host] = hosts(tmp_path, "- ::1\n")
    assert host.hostname == "::1" and transport.choose(host) is transport.LocalTransport


# --- variables ---------------------------------------------------------------------

def test_host_parameters_win_over_job_parameters(tmp_path):
    [host] = hosts(tmp_path, "- hostname: n\n  gpu: 3\n")
    [job] = jobs("- command: c\n  gpu: 0\n  lr: 0.1\n")
    assert job.variables(host) == {"gpu": "3", "lr": "0.1", "hostname": "n"}


def test_slots_variable_is_the_allocation_not_the_job_key(tmp_path):
    [host] = hosts(tmp_path, "- hostname: n\n  slots: 4\n")
    [job] = jobs("- command: c\n  slots: 2\n")
    assert job.variables(host, slots="0,1")["slots"] == "0,1"


