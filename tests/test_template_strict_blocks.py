"""Strict means strict in blocks too: a block over a name nobody defines is
an error naming the name, the template and the file line, found when the
queue is checked, before any job of the entry runs -- with an `{{else}}` or
without. Only `#if`/`#unless` (and the helpers `default`, `first_non_empty`,
`and`, `or`, `not`) accept an undefined name. A helper of Pegasus 1.4 that
pegasus leaves out is an unknown helper, also as a block."""

import pytest
from helpers.rendering import render, render_error
from helpers.runpegasus import Workspace


@pytest.mark.parametrize("source", [
    "echo {{#with nope}}y{{/with}}",
    "echo {{#with nope}}y{{else}}n{{/with}}",
    "echo {{#each nope}}y{{/each}}",
    "echo {{#each nope}}y{{else}}n{{/each}}",
    "echo {{#each nope.x}}y{{/each}}",
    "echo {{#with @root.nope}}y{{/with}}",
    "echo {{#if x}}{{else}}{{#each nope}}y{{/each}}{{/if}}",
    "echo {{#each (str_to_json list)}}{{#with ../nope}}y{{/with}}{{/each}}",
    "echo {{#with (str_to_json obj)}}{{#each missing}}y{{/each}}{{/with}}",
])
def test_a_block_over_an_undefined_name_is_an_error_naming_it(source):
    message = render_error(source, x="", list='["a"]', obj='{"a": 1}')
    assert message.startswith("queue.yaml:7: the command template '%s" % source[:60])
    assert "which is not defined" in message
    assert "'nope" in message or "'missing'" in message or "'@root.nope'" in message


def test_a_block_over_a_missing_key_of_a_defined_value_names_the_path():
    message = render_error("{{#with (str_to_json obj)}}{{#with a.b}}y{{/with}}{{/with}}",
                           obj='{"a": {}}')
    assert "'a.b'" in message and "not defined" in message


def test_the_hint_says_how_to_allow_a_missing_name():
    message = render_error("{{#each gpus}}{{this}}{{/each}}", gpu="0")
    assert "hint: define 'gpus' in this entry or in hosts.yaml; variables here: gpu" in message
    assert "{{#if gpus}}" in message


@pytest.mark.parametrize("source", ["{{#nosuch}}x{{/nosuch}}", "{{#nosuch}}x{{else}}y{{/nosuch}}",
                                    "{{^nosuch}}x{{/nosuch}}"])
def test_a_block_of_an_unknown_name_says_it_is_neither_a_helper_nor_a_variable(source):
    message = render_error(source, x="1")
    assert "'{{#nosuch}}'" in message or "'{{^nosuch}}'" in message
    assert "neither a block helper nor a variable" in message
    assert "each, from_json, if, to_json, unless, with" in message


@pytest.mark.parametrize("name", ["jsonnet", "http_get", "read_to_str", "assign", "canonicalize",
                                  "gitignore_io"])
def test_a_helper_left_out_on_purpose_is_an_unknown_helper_as_a_block_too(name):
    for source in ("{{#%s}}{ a: 1 }{{/%s}}" % (name, name),
                   '{{#%s "x"}}y{{/%s}}' % (name, name), '{{ %s "x" }}' % name):
        message = render_error(source, **{name: "defined, yet not this"})
        assert "unknown helper '%s'" % name in message, source
        assert "left out on purpose" in message


def test_each_over_text_is_an_error_saying_a_list_is_one_job_per_value():
    message = render_error("{{#each gpu}}{{this}}{{/each}}", gpu="0")
    assert "'#each' goes over a list or an object, not the text '0'" in message
    assert "str_to_json" in message


def test_what_stays_allowed_still_renders():
    assert render("{{#if nope}}y{{else}}n{{/if}}") == "n"
    assert render("{{#unless nope}}y{{/unless}}") == "y"
    assert render("{{#if nope}}{{#each nope}}{{this}}{{/each}}{{/if}}-") == "-"
    assert render("{{ default nope \"d\" }} {{ first_non_empty nope \"f\" }}") == "d f"
    assert render("{{#if (or nope (not nope))}}y{{/if}}{{#if (and nope x)}}n{{/if}}", x="1") == "y"
    # Defined but empty or false: the else branch, as before.
    assert render("{{#with x}}y{{else}}n{{/with}}", x="") == "n"
    assert render("{{#each (str_to_json l)}}y{{else}}n{{/each}}", l="[]") == "n"
    assert render("{{#each (str_to_json l)}}y{{/each}}-", l="null") == "-"
    assert render("{{#gpu}}gpu {{this}}{{else}}cpu{{/gpu}}", gpu="") == "cpu"
    assert render("{{#gpu}}gpu {{this}}{{/gpu}}", gpu="3") == "gpu 3"
    assert render("{{^gpu}}cpu{{/gpu}}", gpu="") == "cpu"
    # A raw block is text: what looks like a name there is not read.
    assert render("{{{{raw}}}}{{#each nope}}{{/each}}{{{{/raw}}}}") == "{{#each nope}}{{/each}}"


def test_the_inside_of_a_json_block_is_strict_too():
    assert "'nope'" in render_error("{{#to_json}}{{ nope }}{{/to_json}}")


# --- before any job runs ------------------------------------------------------------------------

@pytest.fixture
def work(tmp_path, sshd):
    return Workspace(tmp_path, sshd.config)


@pytest.mark.parametrize("command, named", [
    ("echo {{#with nope}}y{{/with}}", "'nope', which is not defined for sub-host node-1"),
    ("echo {{#each nope}}y{{/each}}", "'nope', which is not defined for sub-host node-1"),
    ("echo {{#nosuch}}x{{/nosuch}}", "'{{#nosuch}}'"),
    ("echo {{#jsonnet}}{}{{/jsonnet}}", "unknown helper 'jsonnet'"),
])
def test_a_queue_with_a_strict_block_error_runs_nothing_and_exits_2(work, command, named):
    work.hosts("- node-1\n")
    queue = "- echo first\n- command: %s\n  n: [1, 2]\n" % command
    work.queue(queue)
    for args in (("q",), ("q", "--dry-run"), ("b",)):
        result = work.run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "pegasus: queue.yaml:2: the command template '%s'" % command in result.stderr
        assert named in result.stderr
        assert result.stdout == ""
    assert work.read("queue.yaml") == queue
    assert not work.exists("consumed.yaml")
