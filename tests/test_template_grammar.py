"""The template grammar (SPEC §2): what it accepts renders as handlebars-rust
4.3 (the engine of Pegasus 1.4) renders it; what pybars3 compiles is only
our canonical form; `variables_used` reads the syntax tree.

Expected values marked "handlebars-rust" come from that crate's own tests
at v4.3.7 (tests/*.rs and the tests in src/template.rs)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from helpers.rendering import WHERE, render, render_error

from pegasus.errors import TemplateError
from pegasus.templates.emit import canonical
from pegasus.templates.syntax import parse
from pegasus.templates.template import Templates

# --- escapes, raw blocks, comments ---------------------------------------------------

def test_backslashes_before_a_mustache_escape_it_or_stay_one_fewer():
    # handlebars-rust tests/escape.rs, test_escape_216
    source = (r"\\\\ {{FOO}} {{BAR}} {{FOO}}{{BAR}} {{FOO}}#{{BAR}} {{FOO}}//{{BAR}} "
              r"{{FOO}}\\{{FOO}} {{FOO}}\\\\{{FOO}}\\\{{FOO}} \\\{{FOO}} \{{FOO}} \{{FOO}}")
    expected = (r"\\\\ foo bar foobar foo#bar foo//bar foo\foo foo\\\foo\\foo \\foo "
                r"{{FOO}} {{FOO}}")
    assert render(source, FOO="foo", BAR="bar") == expected


@pytest.mark.parametrize("source, expected", [
    # handlebars-rust src/template.rs, test_parse_escaped_tag_raw_string
    (r"foo \{{bar}}", "foo {{bar}}"),
    # handlebars-rust src/template.rs, test_parse_escaped_block_raw_string
    (r"\{{{{foo}}}} bar", "{{{{foo}}}} bar"),
])
def test_escaped_tag_is_literal_text(source, expected):
    assert render(source) == expected


def test_raw_block_keeps_its_text():
    # handlebars-rust src/template.rs, test_raw_helper
    assert render("hello{{{{raw}}}}good{{night}}{{{{/raw}}}}world") == "hellogood{{night}}world"


def test_raw_block_must_be_closed_by_its_name():
    assert "closes '{{{{raw}}}}'" in render_error("{{{{raw}}}}a{{{{/rax}}}}")
    assert "never closed" in render_error("{{{{raw}}}}a")


@pytest.mark.parametrize("source", ["a{{! note }}b", "a{{!-- {{ x }} }} --}}b"])
def test_comment_renders_nothing(source):
    assert render(source) == "ab"


# --- whitespace control ----------------------------------------------------------------

@pytest.mark.parametrize("source", [
    # handlebars-rust tests/whitespace.rs, test_whitespaces_elision
    "  {{~ foo ~}}  ", "  {{{~ foo ~}}}  ", "  {{~ {foo} ~}}  ",
])
def test_tilde_trims_the_whitespace_beside_a_tag(source):
    assert render(source, foo="<bar/>") == "<bar/>"


def test_tilde_trims_around_blocks_and_else():
    # handlebars-rust src/template.rs, test_white_space_omitter
    source = "hello~     {{~world~}} \n  !{{~#if true}}else{{/if~}}"
    assert render(source, world="W") == "hello~W!else"
    assert render("{{#if true}}1  {{~ else ~}} 2 {{~/if}}") == "1"
    assert render("{{#if false}}1  {{~ else ~}} 2 {{~/if}}") == "2"


def test_block_tags_alone_on_their_lines_take_the_lines_with_them():
    # handlebars-rust tests/escape.rs, test_string_whitespace_467
    source = "{{#each (str_to_json s)}}\n    {{this.name}} => '{{this.sym}}',\n    {{/each}}\n"
    assert render(source, s='[{"name": "lt", "sym": "<"}]') == "    lt => '<',\n"


def test_multi_line_command_keeps_its_lines_around_a_standalone_block():
    source = ("set -e\n{{#if gpu}}\nexport CUDA_VISIBLE_DEVICES={{ gpu }}\n{{/if}}\n"
              "python train.py\n")
    assert render(source, gpu="1") == (
        "set -e\nexport CUDA_VISIBLE_DEVICES=1\npython train.py\n")
    assert render(source, gpu="") == "set -e\npython train.py\n"


def test_tag_inside_a_line_keeps_the_line():
    assert render("a {{#if x}}b{{/if}} c\n", x="1") == "a b c\n"


# --- paths and literals ------------------------------------------------------------------

def test_root_variable_inside_each():
    # handlebars-rust tests/root_var.rs, test_root_var
    source = "{{#each (str_to_json a)}}{{@root/b}}: {{this}};{{/each}}"
    assert render(source, a="[1, 2, 3, 4]", b="top") == "top: 1;top: 2;top: 3;top: 4;"


def test_parent_and_data_variables_inside_each():
    source = ("{{#each (str_to_json xs)}}{{@index}}{{#if @first}}^{{/if}}{{this}}@{{../host}} "
              "{{/each}}")
    assert render(source, xs='["a", "b"]', host="n1") == "0^a@n1 1b@n1 "


def test_each_over_an_object_gives_keys_in_order():
    source = "{{#each (str_to_json o)}}{{@key}}={{this}}{{#unless @last}},{{/unless}}{{/each}}"
    assert render(source, o='{"b": 2, "a": 1}') == "a=1,b=2"


def test_each_over_text_is_an_error_even_with_an_else():
    # Every value a queue gives is text: an {{#each}} over one never ran its
    # body (1.4 rendered the else branch); pegasus says so.
    message = render_error("{{#each x}}{{this}}{{else}}none{{/each}}", x="abc")
    assert "'#each' goes over a list or an object, not the text 'abc'" in message


def test_bracketed_name_reads_a_variable_with_unusual_characters():
    assert render("{{ [my key] }} {{ this.[a.b] }}", **{"my key": "1", "a.b": "2"}) == "1 2"


def test_variable_named_like_a_helper_is_reached_through_this():
    assert render("{{ this.parent }} {{ ./len }}", parent="p", len="3") == "p 3"
    message = render_error("{{ parent }}", parent="p")
    assert "'parent' with 0 arguments" in message and "{{ this.parent }}" in message


def test_string_literals_are_json_strings_in_either_quotes():
    # handlebars-rust tests/escape.rs, test_string_no_escape_422
    assert render(r'{{replace "some/path" "/" "\\ " }}') == r"some\ path"
    assert render(r"{{replace 'some/path' '/' '\\' }}") == "some\\path"
    assert render(r"""{{trim 'single-quoted \\ \'with\' "nesting"'}}""") == (
        """single-quoted \\ 'with' "nesting\"""")


def test_literals_of_every_kind_render_as_json_values_do():
    assert render('{{ lookup [10, 20] 1 }} {{ len {"a": 1} }} {{ json_to_str [1.5, true] }}') \
        == "20 1 [1.5,true]"


def test_section_of_a_variable_renders_with_it_as_context():
    assert render("{{#gpu}}gpu {{this}}{{/gpu}}", gpu="3") == "gpu 3"
    assert render("{{#gpu}}gpu{{else}}cpu{{/gpu}}", gpu="") == "cpu"
    assert "neither a block helper nor a variable" in render_error("{{#gpu}}gpu{{/gpu}}")


def test_inverted_block_renders_when_false():
    assert render("{{^gpu}}cpu{{/gpu}}", gpu="") == "cpu"
    assert "'{{^gpu}}'" in render_error("{{^gpu}}cpu{{/gpu}}")
    assert render("{{^if gpu}}cpu{{else}}gpu{{/if}}", gpu="1") == "gpu"


@pytest.mark.parametrize("source", ["{{invalid", "{{{invalid", "{{invalid}", "{{!hello"])
def test_unclosed_expression_does_not_parse(source):
    # handlebars-rust src/template.rs, test_unclosed_expression
    message = render_error(source, invalid="1")
    assert message.startswith("queue.yaml:7: ") and "never closed" in message


@pytest.mark.parametrize("source, words", [
    ("{{#if x}}a{{else}}b{{else}}c{{/if}}", ["second '{{else}}'"]),
    ("a{{else}}b", ["not inside a block"]),
    ("{{ upper x format=\"json\" }}", ["no argument 'format='"]),
    ("{{#upper x}}a{{/upper}}", ["not a block helper"]),
    ("{{ if x }}", ["is a block helper"]),
    ("{{ lower 01 }}", ["not a valid number"]),
    ("{{ lower (upper x }}", ["'('"]),
])
def test_misused_construct_is_an_error_saying_what(source, words):
    message = render_error(source, x="1")
    assert message.startswith("queue.yaml:7: ") and "hint:" in message
    for word in words:
        assert word in message, message


# --- what pybars3 sees ------------------------------------------------------------------

SHAPE = re.compile(r"[A-Za-z0-9_@.=() #/-]*")
SOURCES = [
    "echo {{ x }}", "{{#if (eq gpu \"0\")}}\n  a\n{{else}}b{{/if}}", "\\{{.Names}} {{ x }}",
    "{{{{raw}}}}{{ y }}{{{{/raw}}}}", "{{ [a'b\"c] }}",
    "{{#each (str_to_json x)}}{{@index}}{{/each}}",
    "{{ json_str_query 'a' x format=\"yaml\" }}", "{{~ x ~}}\r\n{{! c }}",
]


@pytest.mark.parametrize("source", SOURCES)
def test_canonical_form_holds_only_tags_of_a_safe_alphabet(source):
    import pybars
    shape, constants = canonical(parse(source))
    assert all(SHAPE.fullmatch(tag) for tag in re.findall(r"\{\{(.*?)\}\}", shape)), shape
    assert re.sub(r"\{\{.*?\}\}", "", shape) == ""
    assert pybars.Compiler().whitespace_control(shape) == shape
    assert all(isinstance(value, (str, int, float, bool, list, dict, type(None)))
               for value in constants)


def test_templates_that_differ_in_text_and_literals_share_one_shape():
    first, _ = canonical(parse('echo 1 {{ default x "a" }}'))
    second, _ = canonical(parse('ls -l {{ default x "b" }}'))
    assert first == second


plain_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30).filter(
    lambda text: "{{" not in text and "}}" not in text and "\\" not in text
    and not text.endswith("{") and not text.startswith("}"))


@settings(max_examples=40, deadline=None, database=None)
@given(plain_text, plain_text)
def test_any_text_beside_a_tag_renders_unchanged(before, after):
    assert render(before + "{{ x }}" + after, x="|") == before + "|" + after


@settings(max_examples=20, deadline=None, database=None)
@given(plain_text)
def test_any_text_in_a_raw_block_renders_unchanged(text):
    # Not standalone: text before the opening tag on its line.
    assert render("x{{{{raw}}}}" + text + "{{{{/raw}}}}!") == "x" + text + "!"


@pytest.mark.parametrize("source, rendered", [
    # A standalone opening tag takes the rest of its line with it, inside
    # the block too (handlebars-rust 4.3.7, template.rs: raw_block_text gets
    # the line trimmed when its start tag is alone on its line).
    ("{{{{raw}}}}\n{{{{/raw}}}}!", "!"),
    ("{{{{raw}}}}  \t\nkept\n{{{{/raw}}}}!", "kept\n!"),
    ("a\n  {{{{raw}}}}\n{{ x }}{{{{/raw}}}}!", "a\n{{ x }}!"),
    ("{{{{raw}}}}\n\n{{{{/raw}}}}!", "\n!"),
])
def test_a_standalone_raw_block_opening_trims_its_line_as_handlebars_rust_does(
        source, rendered):
    assert render(source) == rendered


# --- variables_used ---------------------------------------------------------------------

@pytest.mark.parametrize("source, names", [
    ("echo plain", set()),
    ("{{ x }} {{ replace model '/' y }}", {"x", "model", "y"}),
    ("{{#if timeout}}--timeout {{ timeout }}{{/if}}", {"timeout"}),
    ("{{ a.b }} {{ this.c }} {{ @root.d }} {{ [e f] }}", {"a", "c", "d", "e f"}),
    ("{{#each (str_to_json xs)}}{{ name }}{{ ../slots }}{{ @index }}{{/each}}", {"xs", "slots"}),
    ("{{#with x}}{{ y }}{{else}}{{ z }}{{/with}}", {"x", "z"}),
])
def test_variables_used_are_the_root_names_a_template_reads(source, names):
    assert Templates().variables_used(source, WHERE) == frozenset(names)


def test_variables_used_of_a_bad_template_is_its_error():
    with pytest.raises(TemplateError) as info:
        Templates().variables_used("{{ default gpu }}", WHERE)
    assert str(info.value).startswith("queue.yaml:7: ")


def test_variables_used_ignores_helper_names():
    assert Templates().variables_used("{{ upper (to_snake_case slots) }}", WHERE) == {"slots"}


# --- limits ------------------------------------------------------------------------------

@pytest.mark.parametrize("source", [
    "{{ lower " + "(lower " * 3000 + "x" + ")" * 3000 + " }}",
    "{{ lower " + "[" * 5000 + " }}",
    "{{#if x}}" * 400 + "{{/if}}" * 400,
])
def test_a_template_nested_too_deeply_is_an_error_not_a_crash(source):
    assert render_error(source, x="1").startswith("queue.yaml:7: ")


@pytest.mark.parametrize("source", ["\\{{" * 20000, "{{!-- a }}" * 20000, "{{ x }}" * 20000])
def test_long_templates_parse_in_linear_time(source):
    import time
    started = time.process_time()
    Templates().compile(source, WHERE)
    assert time.process_time() - started < 5  # quadratic would take minutes
