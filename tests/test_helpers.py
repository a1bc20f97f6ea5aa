"""Every helper a Pegasus 1.4 queue may use (SPEC §2, issue 13), with the
results the Rust crates give.

Each expected value is taken from the documentation or the tests of the
crate named beside it, at the version Pegasus 1.4.0 locked:
handlebars 4.3.7 ("handlebars-rust"), handlebars_misc_helpers 0.13.0
("misc_helpers"), Inflector 0.11.4 and enquote 1.1.0. In pegasus every
variable value is text, as it was in 1.4 (which read YAML values as
strings): `var` below is text, like the crates' own test variable.
"""

import os

import pytest
from helpers.rendering import render, render_error

from pegasus.templates.helpers import HELPER_NAMES

# --- string helpers ---------------------------------------------------------------

@pytest.mark.parametrize("helper, expected", [
    # misc_helpers src/string_helpers.rs, test_register_string_helpers
    ("to_lower_case", "hello foo-bars"),
    ("to_upper_case", "HELLO FOO-BARS"),
    ("to_camel_case", "helloFooBars"),
    ("to_pascal_case", "HelloFooBars"),
    ("to_snake_case", "hello_foo_bars"),
    ("to_screaming_snake_case", "HELLO_FOO_BARS"),
    ("to_kebab_case", "hello-foo-bars"),
    ("to_train_case", "Hello-Foo-Bars"),
    ("to_sentence_case", "Hello foo bars"),
    ("to_title_case", "Hello Foo Bars"),
    ("to_class_case", "HelloFooBar"),
    ("to_table_case", "hello_foo_bars"),
    ("to_plural", "bars"),
    ("to_singular", "bar"),
])
def test_string_helper_on_the_crate_example(helper, expected):
    assert render("{{ %s var}}" % helper, var="Hello foo-bars") == expected


@pytest.mark.parametrize("helper, given, expected", [
    # Inflector 0.11.4 doc examples, src/cases/*/mod.rs
    ("to_camel_case", "FOO_BAR", "fooBar"), ("to_camel_case", "FooBar3", "fooBar3"),
    ("to_pascal_case", "foo-bar", "FooBar"), ("to_pascal_case", "FooBar3", "FooBar3"),
    ("to_snake_case", "HTTP Foo bar", "http_foo_bar"),
    ("to_snake_case", "HTTPFooBar", "http_foo_bar"),
    ("to_snake_case", "fooBar3", "foo_bar_3"),
    ("to_screaming_snake_case", "fooBar3", "FOO_BAR_3"),
    ("to_kebab_case", "FOO_BAR", "foo-bar"), ("to_train_case", "fooBar", "Foo-Bar"),
    ("to_sentence_case", "FOO_BAR", "Foo bar"), ("to_title_case", "foo-bar", "Foo Bar"),
    ("to_class_case", "foo_bars", "FooBar"), ("to_table_case", "fooBar", "foo_bars"),
    # Inflector 0.11.4 doc examples, src/string/pluralize and singularize
    ("to_plural", "ox", "oxen"), ("to_plural", "crate", "crates"), ("to_plural", "boxes", "boxes"),
    ("to_plural", "vengeance", "vengeance"), ("to_plural", "geometry", "geometries"),
    ("to_singular", "foo_bars", "foo_bar"), ("to_singular", "oxen", "ox"),
    ("to_singular", "crates", "crate"), ("to_singular", "boxes", "box"),
    ("to_singular", "yoga", "yoga"),
])
def test_case_and_number_helpers_follow_inflector(helper, given, expected):
    assert render("{{ %s var }}" % helper, var=given) == expected


def test_helpers_chain_in_sub_expressions():
    # misc_helpers src/lib.rs, test_chain_of_helpers_with_1_param
    assert render('{{ to_upper_case (to_singular "Hello foo-bars")}}') == "BAR"


@pytest.mark.parametrize("source, expected", [
    # misc_helpers src/string_helpers.rs, test_helper_trim / _trim_start / _trim_end
    ('{{ trim "  foo" }}', "foo"), ('{{ trim " foo " }}', "foo"),
    ('{{ trim_start " foo " }}', "foo "), ('{{ trim_end " foo " }}', " foo"),
    # misc_helpers, test_helper_replace
    ('{{ replace "foo" "oo" "aa"}}', "faa"),
])
def test_trim_and_replace(source, expected):
    assert render(source) == expected


@pytest.mark.parametrize("source, expected", [
    # misc_helpers src/string_helpers.rs, test_helper_quote
    ("""{{ quote "'" "''" }}""", r"'\'\''"),
    ("""{{ quote "'" "foo" }}""", "'foo'"),
    (r'{{ quote "\"" "foo" }}', '"foo"'),
    ('{{ quote "" "foo" }}', '"foo"'),
    # misc_helpers, test_helper_unquote
    ("""{{ unquote "''" }}""", ""), ("""{{ unquote "'f'" }}""", "f"),
    ('{{ unquote "foo" }}', "foo"), ("""{{ unquote "'foo'" }}""", "foo"),
    (r'{{ unquote "\"foo\"" }}', "foo"), ("""{{ unquote "foo'" }}""", "foo'"),
    ("""{{ unquote "'foo" }}""", "'foo"),
])
def test_quote_and_unquote(source, expected):
    assert render(source) == expected


@pytest.mark.parametrize("quoted, expected", [
    # enquote 1.1.0 tests/lib.rs: unquote; and where it fails, the text is kept
    (r"'\n'", "\n"), (r"'\101'", "A"), (r"'\x76'", "\x76"), (r"'\u2714'", "\u2714"),
    (r"'\U0001f427'", "\U0001f427"), ("'foo'bar'", "'foo'bar'"), (r"'\q'", r"'\q'"),
    (r"'\00'", r"'\00'"),
])
def test_unquote_follows_enquote(quoted, expected):
    assert render("{{ unquote var }}", var=quoted) == expected


@pytest.mark.parametrize("source, expected", [
    # misc_helpers src/string_helpers.rs, test_helper_first_non_empty
    ('{{ first_non_empty ""}}', ""), ('{{ first_non_empty "foo"}}', "foo"),
    ('{{ first_non_empty "foo" "bar"}}', "foo"), ('{{ first_non_empty "" "foo"}}', "foo"),
    ('{{ first_non_empty "" null}}', ""), ('{{ first_non_empty "" null 33}}', ""),
    ('{{ first_non_empty "" null "foo" "bar"}}', "foo"),
])
def test_first_non_empty(source, expected):
    assert render(source) == expected


def test_first_non_empty_skips_an_undefined_variable():
    assert render('{{ first_non_empty tag "latest" }}') == "latest"


def test_pegasus_own_string_helpers_still_work():
    assert render('{{ upper x }} {{ lower x }} {{ default y "d" }} {{ shell_quote x }}',
                  x="a b") == "A B a b d 'a b'"


# --- env and path helpers ----------------------------------------------------------------

def test_env_var_reads_the_environment_of_pegasus(monkeypatch):
    # misc_helpers src/env_helpers.rs, test_register_env_helpers
    monkeypatch.setenv("KEY", "VALUE")
    monkeypatch.delenv("A_DO_NOT_EXIST_ENVVAR", raising=False)
    assert render("{{ env_var var}}", var="KEY") == "VALUE"
    assert render("{{ env_var var}}", var="A_DO_NOT_EXIST_ENVVAR") == ""
    # misc_helpers src/env_helpers.rs, test_env_consts: OS is Rust's std::env::consts::OS
    assert render('{{ env_var "OS" }}') == {"darwin": "macos"}.get(os.uname().sysname.lower(),
                                                                  os.uname().sysname.lower())


def test_env_var_feeds_first_non_empty(monkeypatch):
    # misc_helpers src/lib.rs, test_chain_of_default
    monkeypatch.delenv("MY_VERSION", raising=False)
    monkeypatch.setenv("MY_VERSION_1", "1.0.0")
    assert render('{{ first_non_empty (env_var "MY_VERSION") "0.0.0" }}') == "0.0.0"
    assert render('{{ first_non_empty (env_var "MY_VERSION_1") "0.0.0" }}') == "1.0.0"


@pytest.mark.parametrize("path, file_name, parent, extension", [
    # misc_helpers src/path_helpers.rs, test_register_path_helpers
    ("/hello/bar/foo", "foo", "/hello/bar", ""),
    ("foo", "foo", "", ""),
    ("bar/foo", "foo", "bar", ""),
    ("bar/foo.txt", "foo.txt", "bar", "txt"),
    ("./foo", "foo", ".", ""),
    ("/hello/bar/../foo", "foo", "/hello/bar/..", ""),
])
def test_path_helpers(path, file_name, parent, extension):
    source = "{{ file_name var}}|{{ parent var}}|{{ extension var}}"
    assert render(source, var=path) == "|".join([file_name, parent, extension])


# --- handlebars-rust built-ins --------------------------------------------------------------

@pytest.mark.parametrize("condition, expected", [
    # handlebars-rust src/helpers/helper_extras.rs, test_conditions
    ("(gt 5 3)", True), ("(gt 3 5)", False), ("(or (gt 3 5) (gt 5 3))", True),
    ("(not [])", True), ("(and null 4)", False),
    ("(eq 5 5)", True), ("(eq 5 6)", False), ('(eq "foo" "foo")', True),
    ('(eq "foo" "Foo")', False), ("(eq [5] [5])", True), ("(eq [5] [4])", False),
    ('(eq 5 "5")', False), ("(eq 5 [5])", False),
    ("(ne 5 6)", True), ("(ne 5 5)", False), ('(ne "foo" "foo")', False),
    ('(ne "foo" "Foo")', True),
])
def test_conditions(condition, expected):
    source = "{{#if %s}}lorem{{else}}ipsum{{/if}}" % condition
    assert render(source) == ("lorem" if expected else "ipsum")


@pytest.mark.parametrize("source, expected", [
    # handlebars-rust tests/subexpression.rs, test_subexpression (a=1, b=0, c=2)
    ("{{#if (gt a b)}}Success{{else}}Failed{{/if}}", "Success"),
    ("{{#if (gt a c)}}Success{{else}}Failed{{/if}}", "Failed"),
    ("{{#if (not (gt a c))}}Success{{else}}Failed{{/if}}", "Success"),
    ("{{#if (not (gt a b))}}Success{{else}}Failed{{/if}}", "Failed"),
    ("{{#if (not true)}}Success{{else}}Failed{{/if}}", "Failed"),
    ("{{#if (not false)}}Success{{else}}Failed{{/if}}", "Success"),
])
def test_comparisons_read_numbers_from_text_variables(source, expected):
    # There the data were JSON numbers; in pegasus they are text, which gt
    # compares as the numbers it reads as (1.4 stopped with an error).
    assert render(source, a="1", b="0", c="2") == expected


def test_not_without_an_argument_is_an_error():
    # handlebars-rust tests/subexpression.rs: "no argument provided for not" errs
    assert "'not' with 0 arguments" in render_error("{{#if (not)}}Success{{/if}}")


def test_numbers_compare_as_numbers_not_as_text():
    assert render("{{#if (gt gpu 9)}}big{{else}}small{{/if}}", gpu="10") == "big"
    assert render("{{ lt x y }} {{ gte x x }} {{ lte y x }}", x="-1.5", y="2") == \
        "true true false"


def test_comparing_text_that_is_no_number_is_an_error_saying_so():
    message = render_error("{{#if (gt gpu 1)}}x{{/if}}", gpu="a0")
    assert message.startswith("queue.yaml:7: ") and "'gt' compares numbers" in message


def test_eq_compares_text_with_text_as_pegasus_1_4_did():
    assert render('{{#if (eq gpu "0")}}zero{{/if}}', gpu="0") == "zero"
    assert render("{{#if (eq gpu 0)}}zero{{else}}text{{/if}}", gpu="0") == "text"


@pytest.mark.parametrize("value, expected", [
    # handlebars-rust src/helpers/helper_extras.rs, test_len
    ("[1,2,3]", "3"), ('{"a" :1, "b": 2}', "2"), ('"tomcat"', "6"), ("3", "0"),
])
def test_len(value, expected):
    assert render("{{len (str_to_json value)}}", value=value) == expected


def test_len_of_text_counts_utf8_bytes_as_rust_does():
    assert render("{{ len x }}", x="é") == "2"


def test_lookup_and_if_include_zero():
    # handlebars-rust src/helpers/helper_lookup.rs, test_lookup: index by @index
    source = "{{#each (str_to_json v1)}}{{lookup (str_to_json ../v2) @index}}{{/each}}"
    assert render(source, v1="[1, 2, 3]", v2="[4, 5, 6]") == "456"
    assert render("{{#if 0}}a{{else}}b{{/if}}{{#if 0 includeZero=true}}c{{/if}}") == "bc"


def test_truthiness_of_values_follows_handlebars_rust():
    source = "{{#if (str_to_json v)}}t{{else}}f{{/if}}"
    results = [render(source, v=v) for v in ["0", "0.0", "1", '""', '"0"', "[]", "{}", "null"]]
    assert results == ["f", "f", "t", "f", "t", "f", "f", "f"]


def test_and_or_not_see_an_undefined_variable_as_false():
    assert render("{{#if (or gpu cpu)}}a{{else}}b{{/if}} {{not gpu}}", cpu="") == "b true"


# --- json helpers -------------------------------------------------------------------------

@pytest.mark.parametrize("source", [
    # misc_helpers src/json_helpers.rs, test_empty_input_return_empty
    '{{ json_to_str "" }}', '{{ json_to_str "" format="json"}}',
    '{{ json_to_str "" format="yaml"}}',
    '{{ str_to_json "" }}', '{{ str_to_json "" format="yaml"}}',
    '{{ json_to_str (str_to_json "") }}', '{{ str_to_json (json_to_str "") }}',
    '{{ json_query "foo" "" }}', '{{ json_str_query "foo" "" }}',
    '{{ json_str_query "foo" "" format="json"}}', '{{ json_str_query "foo" "" format="yaml"}}',
    # misc_helpers, test_null_input_return_empty
    "{{ json_to_str null }}", "{{ str_to_json null }}", "{{ json_to_str (str_to_json null) }}",
    "{{ str_to_json (json_to_str null) }}", '{{ json_query "foo" null }}',
    '{{ json_str_query "foo" null }}',
])
def test_json_helpers_give_empty_text_for_empty_or_null_input(source):
    assert render(source) == ""


@pytest.mark.parametrize("source, expected", [
    # misc_helpers src/json_helpers.rs, test_helper_json_to_str
    ("{{ json_to_str {} }}", "{}"),
    ('{{ json_to_str {"foo":{"bar":{"baz":true}}} }}', '{"foo":{"bar":{"baz":true}}}'),
    (r'{{ json_to_str ( str_to_json "{\"foo\":{\"bar\":{\"baz\":true}}}" ) }}',
     '{"foo":{"bar":{"baz":true}}}'),
    (r'{{ json_to_str ( str_to_json "{\"foo\":{\"bar\":{\"baz\":true}}}" ) format="json_pretty"}}',
     '{\n  "foo": {\n    "bar": {\n      "baz": true\n    }\n  }\n}'),
    # misc_helpers, test_helper_json_query
    ('{{ json_query "foo" {} }}', ""),
    ('{{ json_to_str ( json_query "foo" {"foo":{"bar":{"baz":true}}} ) }}', '{"bar":{"baz":true}}'),
    (r'{{ json_to_str ( json_query "foo" (str_to_json "{\"foo\":{\"bar\":{\"baz\":true}}}" ) ) }}',
     '{"bar":{"baz":true}}'),
    # misc_helpers, test_helper_json_str_query
    (r'{{ json_str_query "foo" "{\"foo\":{\"bar\":{\"baz\":true}}}" }}', '{"bar":{"baz":true}}'),
    (r'{{ json_str_query "foo" "{\"foo\":{\"bar\":{\"baz\":true}}}" format="json"}}',
     '{"bar":{"baz":true}}'),
    (r'{{ json_str_query "foo.bar.baz" "{\"foo\":{\"bar\":{\"baz\":true}}}" }}', "true"),
    # misc_helpers, test_helper_json_str_query_on_yaml
    (r'{{ json_str_query "foo" "{\"foo\":{\"bar\":{\"baz\":true}}}" format="yaml"}}',
     "bar:\n  baz: true\n"),
    (r'{{ json_str_query "foo" "foo:\n bar:\n  baz: true\n" format="yaml"}}',
     "bar:\n  baz: true\n"),
    (r'{{ json_str_query "foo.bar.baz" "foo:\n bar:\n  baz: true\n" format="yaml"}}', "true"),
])
def test_json_helpers_on_the_crate_examples(source, expected):
    assert render(source) == expected


@pytest.mark.parametrize("source, expected", [
    # misc_helpers src/json_helpers.rs, test_block_to_json
    ("{{#to_json}}{{/to_json}}", ""),
    ('{{#to_json}}{"foo":{"bar":{"baz":true}}}{{/to_json}}',
     '{\n  "foo": {\n    "bar": {\n      "baz": true\n    }\n  }\n}'),
    ('{{#to_json format="yaml"}}\nfoo:\n    bar:\n        baz: true\n{{/to_json}}',
     '{\n  "foo": {\n    "bar": {\n      "baz": true\n    }\n  }\n}'),
    # misc_helpers, test_block_from_json
    ("{{#from_json}}{{/from_json}}", ""),
    ('{{#from_json}}{"foo":{"bar":{"baz":true}}}{{/from_json}}', '{"foo":{"bar":{"baz":true}}}'),
    ('{{#from_json format="json_pretty"}}{"foo":{"bar":{"baz":true}}}{{/from_json}}',
     '{\n  "foo": {\n    "bar": {\n      "baz": true\n    }\n  }\n}'),
    ('{{#from_json format="yaml"}}{"foo":{"bar":{"baz":true}}}{{/from_json}}',
     "foo:\n  bar:\n    baz: true\n"),
])
def test_json_block_helpers_on_the_crate_examples(source, expected):
    assert render(source) == expected


def test_json_objects_come_out_with_sorted_keys_and_numbers_as_serde_json_writes_them():
    assert render("{{ json_to_str (str_to_json x) }}", x='{"b": 1e20, "a": [1.0, 0.00001, 5]}') \
        == '{"a":[1.0,0.00001,5],"b":1e20}'


def test_values_render_as_handlebars_rust_renders_them():
    assert render("{{ str_to_json x }}|{{ str_to_json y }}|{{ str_to_json z }}",
                  x="[1, true, null]", y='{"a": 1}', z="2.50") == "[1, true, , ]|[object]|2.5"


@pytest.mark.parametrize("query, data, expected", [
    # the JMESPath subset: names, indexes, slices, projections, filters, pipes, functions
    ("a.b", '{"a": {"b": 1}}', "1"),
    ("a[-1]", '{"a": [1, 2, 3]}', "3"),
    ("a[1:]", '{"a": [1, 2, 3]}', "[2,3]"),
    ("people[*].name", '{"people": [{"name": "x"}, {"age": 2}, {"name": "y"}]}', '["x","y"]'),
    ("people[?age > `1`].name | [0]", '{"people": [{"name": "x", "age": 1}, '
                                      '{"name": "y", "age": 2}]}', '"y"'),
    ("*.n", '{"a": {"n": 1}, "b": {"n": 2}}', "[1,2]"),
    ("a[]", '{"a": [[1], [2, 3], 4]}', "[1,2,3,4]"),
    ("{k: a, l: length(b)}", '{"a": 1, "b": "xyz"}', '{"k":1,"l":3}'),
    ("join(',', keys(@))", '{"b": 1, "a": 2}', '"a,b"'),
    ("[a, 'lit', `2`]", '{"a": true}', '[true,"lit",2]'),
    ('"a b" && !c', '{"a b": 1, "c": false}', "true"),
])
def test_json_str_query_supports_a_subset_of_jmespath(query, data, expected):
    assert render("{{ json_str_query q d }}", q=query, d=data) == expected


@pytest.mark.parametrize("source, words", [
    ('{{ json_str_query "a" "{" }}', ["not valid JSON"]),
    ('{{ json_str_query "a[" "{}" }}', ["json query"]),
    ('{{ json_str_query "sort_by(@, &a)" "[]" }}', ["json query"]),
    ('{{ json_to_str {} format="toml" }}', ["format 'toml' is not supported"]),
])
def test_json_helpers_failing_say_why(source, words):
    message = render_error(source)
    assert message.startswith("queue.yaml:7: ") and "fails" in message
    for word in words:
        assert word in message


# --- the hint ------------------------------------------------------------------------------

def test_unknown_helper_hint_lists_every_helper():
    message = render_error("{{ frobnicate x }}", x="1")
    for name in ["to_snake_case", "json_query", "eq", "len", "env_var", "file_name", "replace"]:
        assert name in message
    assert set(HELPER_NAMES) >= {
        "to_camel_case", "to_pascal_case", "to_snake_case", "to_screaming_snake_case",
        "to_kebab_case", "to_train_case", "to_sentence_case", "to_title_case", "to_class_case",
        "to_table_case", "to_plural", "to_singular", "quote", "unquote", "first_non_empty",
        "from_json", "to_json", "json_to_str", "str_to_json", "json_query", "json_str_query",
        "file_name", "parent", "extension", "env_var", "eq", "ne", "gt", "gte", "lt", "lte",
        "and", "or", "not", "len"}


def test_a_variable_named_log_is_not_silently_empty():
    message = render_error("tee {{ log }}", log="/tmp/x.log")
    assert "'log' with 0 arguments" in message and "{{ this.log }}" in message
    assert render("tee {{ this.log }}{{ log 'ignored' }}", log="/tmp/x.log") == "tee /tmp/x.log"


def test_yaml_is_read_with_the_core_schema_and_without_aliases():
    assert render('{{ json_to_str (str_to_json x format="yaml") }}', x="a: on\nb: 010\nc: 1.5\n") \
        == '{"a":"on","b":10,"c":1.5}'
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    assert "aliases" in render_error('{{ str_to_json x format="yaml" }}', x=bomb)
