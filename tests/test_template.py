"""Templates (SPEC §2): no HTML escaping, strict variables, helpers, one
compile per distinct source, pybars imported only when needed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from helpers.rendering import WHERE, render, render_error

from pegasus.errors import TemplateError
from pegasus.spec.hosts import SubHost
from pegasus.spec.validate import validate_text
from pegasus.templates.template import Templates, shell_quote

REPO = Path(__file__).resolve().parent.parent


def python_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# --- no escaping -----------------------------------------------------------------

@pytest.mark.parametrize("value", [
    'a&b <c> "d"', "it's", "`date`", "a&amp;b", "$HOME \\n", "ü → ✓",
])
def test_variable_is_inserted_without_html_escaping(value):
    assert render("echo {{ x }}!", x=value) == "echo %s!" % value


def test_triple_stash_and_ampersand_also_insert_unchanged():
    assert render("{{{ x }}} {{& x }}", x="<&>") == "<&> <&>"


def test_helper_results_are_not_escaped_either():
    assert render("{{ upper x }}", x="a&b<c>") == "A&B<C>"


def test_yaml_value_with_html_characters_renders_unchanged():
    [job] = validate_text("- command: echo {{ x }}\n  x: 'a&b <c> \"d\" ''e'' `f`'\n", "q.yaml")
    host = SubHost(0, "n", {})
    rendered = Templates().render(job.command, job.variables(host), job.where)
    assert rendered == "echo a&b <c> \"d\" 'e' `f`"


def test_text_without_braces_is_returned_as_is():
    assert render("echo a&b {x} }") == "echo a&b {x} }"


# --- strict ------------------------------------------------------------------------

def test_unknown_variable_is_an_error_naming_it_and_file_line():
    message = render_error("echo {{ gpu }}", lr="0.1")
    assert message.startswith("queue.yaml:7: ")
    assert "'gpu'" in message and "not defined" in message
    assert "echo {{ gpu }}" in message
    assert "hint:" in message and "lr" in message


def test_unknown_variable_message_names_the_sub_host_when_given():
    with pytest.raises(TemplateError) as info:
        Templates().render("{{ gpu }}", {}, WHERE, owner="sub-host node-1")
    assert "sub-host node-1" in str(info.value)


def test_dotted_path_into_a_value_is_undefined_not_empty():
    assert "'x.y'" in render_error("{{ x.y }}", x="a")


def test_undefined_variable_inside_if_is_false():
    assert render("{{#if gpu}}--gpu {{ gpu }}{{else}}--cpu{{/if}}") == "--cpu"
    assert render("{{#if gpu}}--gpu {{ gpu }}{{/if}}", gpu="1") == "--gpu 1"
    assert render("{{#unless gpu}}none{{/unless}}") == "none"


def test_empty_value_is_defined():
    assert render("[{{ x }}]", x="") == "[]"


def test_unknown_helper_is_an_error_naming_it():
    message = render_error("{{ frobnicate x }}", x="1")
    assert message.startswith("queue.yaml:7: ")
    assert "unknown helper 'frobnicate'" in message
    assert "replace" in message  # the hint lists the helpers


def test_unknown_helper_in_a_subexpression_is_an_error_naming_it():
    assert "unknown helper 'frob'" in render_error("{{ upper (frob x) }}", x="1")


def test_unknown_block_helper_is_an_error_naming_it():
    assert "unknown helper 'loop'" in render_error("{{#loop x}}a{{/loop}}", x="1")


def test_else_if_chain_is_an_error_that_says_to_nest():
    message = render_error("{{#if x}}a{{else if y}}b{{/if}}", x="1", y="2")
    assert "else if" in message and "nest" in message


def test_helper_with_wrong_argument_count_says_how_many_it_takes():
    message = render_error("{{ replace x }}", x="1")
    assert "'replace' with 1 argument" in message and "takes 3" in message


@pytest.mark.parametrize("source, words", [
    ("echo {{ x", ["never closed"]),
    ("echo {{ x }", ["never closed"]),
    ("echo {{#if x}}yes", ["{{#if}}", "never closed"]),
    ("echo {{#if x}}a{{/unless}}", ["{{/unless}}"]),
    ("echo a{{/if}}", ["never opened"]),
    ("echo {{ x }} }}", ["'}}'", "closes nothing"]),
    ("echo {{ x {{ y }}", ["not closed"]),
])
def test_unbalanced_template_is_an_error_saying_what(source, words):
    message = render_error(source, x="1", y="2")
    assert message.startswith("queue.yaml:7: ")
    assert "does not parse" in message and "hint:" in message
    for word in words:
        assert word in message


def test_syntax_error_in_multi_line_template_gives_line_and_column():
    message = render_error("echo {{ x }}\necho {{ y\n", x="1", y="2")
    assert "line 2 column 6" in message


def test_escaped_mustache_is_literal_text():
    source = "docker ps --format '\\{{.Names}}' {{ x }}"
    assert render(source, x="-a") == "docker ps --format '{{.Names}}' -a"


def test_raw_block_is_literal_text():
    assert render("{{{{raw}}}}{{ y }}}}{{{{/raw}}}} {{ x }}", x="1") == "{{ y }}}} 1"


# --- helpers -----------------------------------------------------------------------

def test_replace_helper_from_the_spec():
    assert render('{{ replace model "/" "--" }}', model="facebook/opt-13b") == "facebook--opt-13b"


@pytest.mark.parametrize("source, expected", [
    ("{{ lower x }}", " ab c "),
    ("{{ to_lower_case x }}", " ab c "),
    ("{{ upper x }}", " AB C "),
    ("{{ to_upper_case x }}", " AB C "),
    ("[{{ trim x }}]", "[Ab c]"),
    ("[{{ trim_start x }}]", "[Ab c ]"),
    ("[{{ trim_end x }}]", "[ Ab c]"),
    ("{{ replace x ' ' '_' }}", "_Ab_c_"),
    ("{{ lower (replace x 'A' 'Z') }}", " zb c "),
])
def test_string_helpers(source, expected):
    assert render(source, x=" Ab c ") == expected


def test_default_helper_replaces_a_missing_variable():
    assert render('{{ default gpu "0" }}') == "0"


def test_default_helper_replaces_an_empty_variable():
    assert render('{{ default gpu "0" }}', gpu="") == "0"


def test_default_helper_keeps_a_set_variable():
    assert render('{{ default gpu "0" }}', gpu="3") == "3"


def test_shell_quote_leaves_a_safe_word_alone():
    assert render("{{ shell_quote x }}", x="a/b-c_1.txt") == "a/b-c_1.txt"


def test_shell_quote_single_quotes_anything_else():
    assert shell_quote("") == "''"
    assert shell_quote("a b") == "'a b'"
    assert shell_quote("it's") == "'it'\\''s'"


NASTY = [
    "", " ", "a b", "it's", "'", "''", '"', "\\", "\\'", "$HOME", "${x:-y}", "`id`",
    "$(id)", "a;b", "a|b", "a&b", "!", "!!", "*", "?", "[a]", "~", "~root", "#x",
    "a\nb", "\n", "\t", "-n", "--", "%s", "é ü ✓", "\x01\x7f", "a\rb", "{{ x }}",
]


def test_shell_quote_round_trips_through_sh_for_nasty_strings():
    words = [shell_quote(text) for text in NASTY]
    script = "for a in %s; do printf '%%s\\0' \"$a\"; done" % " ".join(words)
    output = subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout
    assert output.decode("utf-8").split("\0")[:-1] == NASTY


def test_shell_quote_helper_round_trips_through_sh_c_printf():
    text = "it's \"$x\" `y` \\ \n end"
    command = render("printf %s {{ shell_quote x }}", x=text)
    output = subprocess.run(["sh", "-c", command], capture_output=True, check=True).stdout
    assert output.decode("utf-8") == text


@settings(max_examples=60, deadline=None, database=None)
@given(st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"])))
def test_shell_quote_round_trips_through_sh_for_any_text(text):
    command = "printf %s " + shell_quote(text)
    output = subprocess.run(["sh", "-c", command], capture_output=True, check=True).stdout
    assert output.decode("utf-8", "surrogateescape") == text


# --- variables ----------------------------------------------------------------------

def test_host_parameters_win_over_job_parameters_when_rendering():
    host = SubHost(0, "node-1", {"gpu": "3"})
    [job] = validate_text("- command: '{{ hostname }} {{ gpu }} {{ lr }}'\n"
                          "  gpu: 0\n  lr: 0.1\n", "q.yaml")
    assert Templates().render(job.command, job.variables(host), job.where) == "node-1 3 0.1"


def test_slots_variable_renders_the_allocated_indices():
    host = SubHost(0, "n", {}, slots=4)
    [job] = validate_text("- command: use {{ slots }}\n  slots: 2\n", "q.yaml")
    assert Templates().render(job.command, job.variables(host, slots="2,3"), job.where) == "use 2,3"


# --- compile once, import lazily ------------------------------------------------------

def test_each_distinct_template_is_parsed_once_and_each_shape_compiled_once(monkeypatch):
    import pybars

    import pegasus.templates.template
    compiled, parsed = [], []
    original_compile, original_parse = pybars.Compiler.compile, pegasus.templates.template.parse

    def counting_compile(self, source, *args, **kwargs):
        compiled.append(source)
        return original_compile(self, source, *args, **kwargs)

    def counting_parse(source):
        parsed.append(source)
        return original_parse(source)

    monkeypatch.setattr(pybars.Compiler, "compile", counting_compile)
    monkeypatch.setattr(pegasus.templates.template, "parse", counting_parse)
    templates = Templates()
    for number in range(50):
        assert templates.render("a {{ x }}", {"x": str(number)}, WHERE) == "a %d" % number
        assert templates.render("b {{ x }}", {"x": "1"}, WHERE) == "b 1"
        assert templates.render("c {{ y }}", {"y": "2"}, WHERE) == "c 2"
        templates.render("plain", {}, WHERE)
    assert sorted(parsed) == ["a {{ x }}", "b {{ x }}", "c {{ y }}"]
    # "a {{ x }}" and "b {{ x }}" differ only in their text: one shape.
    assert len(compiled) == 2 and len(set(compiled)) == 2


def test_a_template_that_fails_to_parse_is_reported_every_time():
    templates = Templates()
    for _ in range(2):
        with pytest.raises(TemplateError):
            templates.render("{{ x", {"x": "1"}, WHERE)


def _modules_after_dry_run(tmp_path, queue_text):
    (tmp_path / "queue.yaml").write_text(queue_text)
    (tmp_path / "hosts.yaml").write_text("- hostname: [node-1, node-2]\n  gpu: [0, 1]\n")
    code = (
        "import sys\n"
        "from pegasus.main import main\n"
        "status = main(['q', '--dry-run'])\n"
        "sys.stderr.write('status=%d\\n' % status)\n"
        "sys.stderr.write('pybars=%s\\n' % ('pybars' in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=python_env(),
                            capture_output=True, text=True, timeout=60, check=False)
    assert "status=0" in result.stderr, result.stderr
    return result


def test_queue_without_templates_never_imports_pybars(tmp_path):
    result = _modules_after_dry_run(tmp_path, "- echo hi\n- command: sleep {x}\n  x: [1, 2]\n")
    assert "pybars=False" in result.stderr
    assert "sleep {x}" in result.stdout


def test_queue_with_a_template_does_import_pybars(tmp_path):
    result = _modules_after_dry_run(tmp_path, "- echo {{ gpu }}\n")
    assert "pybars=True" in result.stderr
