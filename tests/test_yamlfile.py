"""Reading the files as literal text, and the canonical YAML emitter."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pegasus.errors import SpecError
from pegasus.spec import canonical, yamlfile, yamlstream
from pegasus.spec.jobs import Job, expand_entry


def read_entries(text, main_key="command", path="q.yaml"):
    return yamlfile.entries(yamlfile.compose(text, path), path, main_key)


def read_jobs(text):
    return [job for entry in read_entries(text) for job in expand_entry(entry)]


def error_of(function, *args):
    with pytest.raises(SpecError) as info:
        function(*args)
    return str(info.value)


# --- reading files -----------------------------------------------------------------

def test_missing_file_says_so_and_which_option_names_another(tmp_path):
    message = error_of(yamlfile.read_text, str(tmp_path / "q.yaml"), "queue")
    assert "no such file" in message and "-Q" in message
    message = error_of(yamlfile.read_text, str(tmp_path / "h.yaml"), "hosts")
    assert "-H" in message


def test_directory_is_not_a_file(tmp_path):
    message = error_of(yamlfile.read_text, str(tmp_path), "queue")
    assert "is a directory" in message and "hint:" in message


def test_messages_use_the_name_given(tmp_path):
    message = error_of(yamlfile.read_text, str(tmp_path / "real.yaml"), "queue", "queue.yaml")
    assert message.startswith("queue.yaml: no such file")


def test_nul_byte_means_a_binary_file_with_its_line():
    message = error_of(yamlfile.decode, b"- a\n- b\0c\n", "q.yaml")
    assert message.startswith("q.yaml:2: ") and "binary" in message


def test_latin1_text_is_not_utf8_with_its_line():
    message = error_of(yamlfile.decode, "- a\n- café\n".encode("latin-1"), "q.yaml")
    assert message.startswith("q.yaml:2: ") and "UTF-8" in message and "0xe9" in message


def test_utf8_byte_order_mark_is_ignored():
    assert yamlfile.decode("\ufeff- a\n".encode("utf-8"), "q.yaml") == "- a\n"


# --- the root ------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "\n\n", "# only\n# comments\n", "[]\n", "---\n", "~\n",
                                  "null\n", "--- []\n"])
def test_empty_file_comments_only_and_empty_list_are_an_empty_queue(text):
    assert read_entries(text) == []


@pytest.mark.parametrize("text, kind", [
    ("command: echo\n", "a mapping"),
    ("echo hi\n", "a single value"),
    ("'null'\n", "a single value"),
])
def test_root_that_is_not_a_list_is_an_error(text, kind):
    message = error_of(read_entries, text)
    assert message.startswith("q.yaml:1: ") and kind in message and "hint:" in message


def test_two_documents_are_an_error_at_the_second():
    message = error_of(read_entries, "- a\n---\n- b\n")
    assert message.startswith("q.yaml:2: ") and "more than one YAML document" in message


@pytest.mark.parametrize("text, line, words", [
    ("- 'echo hi\n- b\n", 1, ["quoted scalar", "not closed", "ends first"]),
    ("- a\n- command: \"echo\n  x: 1\n", 2, ["quoted scalar", "not closed"]),
    ("- [a, b\n- c\n", 1, ["flow sequence", "not closed", "line 3"]),
    ("- command: x\n  y: {a: 1\n- b\n", 2, ["flow mapping", "not closed"]),
    ("- command: a\n   x: 1\n  y: 2\n", 2, ["mapping values"]),
    ("- command: a\n\tx: 1\n", 2, ["tab", "use spaces"]),
    ("x:\n\t- a\n", 2, ["use spaces"]),
    ("- *x\n", 1, ["undefined alias", "quote"]),
    ("- command: echo a: b\n", 1, ["mapping values", "quoted"]),
])
def test_yaml_syntax_error_names_the_line_and_hints(text, line, words):
    message = error_of(read_entries, text)
    assert message.startswith("q.yaml:%d: YAML syntax error" % line)
    assert "hint:" in message
    for word in words:
        assert word in message


# --- entry shapes --------------------------------------------------------------------

def test_bare_entry_is_stored_under_the_main_key():
    [entry] = read_entries("- node-1\n", "hostname")
    assert entry.bare and entry.values["hostname"].items == ["node-1"]


def test_values_remember_whether_they_were_lists_and_their_lines():
    [entry] = read_entries("- command: c\n  x: 1\n  y: [1]\n")
    assert [(k, v.is_list, v.line) for k, v in entry.values.items()] == [
        ("command", False, 1), ("x", False, 2), ("y", True, 3)]


@pytest.mark.parametrize("text, line, words", [
    ("- a\n- x: 1\n", 2, ["no 'command' key"]),
    ("- echo a: b\n", 1, ["reads as a mapping", "quote", "- 'echo a: b'"]),
    ("- command: a\n  x: [[1, 2]]\n", 2, ["list inside a list"]),
    ("- [a, b]\n", 1, ["list inside the top-level list"]),
    ("- command: a\n  x: {a: 1}\n", 2, ["'x' holds a mapping"]),
    ("- command: a\n  x: [{a: 1}]\n", 2, ["'x' holds a mapping"]),
    ("- command: a\n  x: []\n", 2, ["empty list"]),
    ("- command: []\n", 1, ["empty list"]),
    ("- command: ''\n", 1, ["'command' is empty"]),
    ("- command: [a, ' ']\n", 1, ["'command' is empty"]),
    ("- ''\n", 1, ["empty entry"]),
    ("-\n", 1, ["empty entry"]),
    ("- command: a\n  command: b\n", 2, ["'command' appears twice"]),
    ("- command: a\n  [x]: 1\n", 2, ["key must be"]),
    # A merge key is told where it is written, not where its anchor is.
    ("- &b\n  command: a\n  x: 1\n- <<: *b\n  x: 2\n", 4, ["'<<' (a YAML merge key)",
                                                        "write the keys out"]),
    ("- command: a\n  <<: [{x: 1}, {y: 2}]\n", 2, ["merge key"]),
    ("- command: a\n  x:\n    a: 1\n", 2, ["'x' holds a mapping"]),
    ("- command: a\n  l: &l [{a: 1}]\n- command: b\n  x: *l\n", 2, ["'l' holds a mapping"]),
])
def test_badly_shaped_entry_is_an_error_at_its_line(text, line, words):
    message = error_of(read_entries, text)
    assert message.startswith("q.yaml:%d: " % line)
    assert "hint:" in message
    for word in words:
        assert word in message


def test_an_alias_of_what_is_no_value_is_told_where_it_is_used():
    message = error_of(read_entries, "- command: a\n  l: &l [{a: 1}]\n- command: b\n  x: *l\n")
    assert "q.yaml:4: 'x' is an alias of what line 2 holds, which is not a value nor a list of " \
        "values" in message


def test_anchors_and_aliases_of_values_and_lists_are_read():
    jobs = read_jobs("- command: echo {{ x }} {{ y }}\n  x: &v 1\n  y: &l [a, b]\n"
                     "- command: echo {{ x }}\n  x: *l\n  z: *v\n")
    assert [(job.params["x"], job.params.get("y"), job.params.get("z")) for job in jobs] == [
        ("1", "a", None), ("1", "b", None), ("a", None, "1"), ("b", None, "1")]
    # A quoted '<<' is a key like any other, not a merge key.
    [job] = read_jobs("- command: a\n  '<<': 1\n")
    assert job.params == {"<<": "1"}


# --- one entry at a time ----------------------------------------------------------------

def streamed(text, main_key="command", instead=()):
    """What stream_entries gives: (entries, problems), or the SpecError it raises."""
    problems: list = []
    try:
        found = list(yamlstream.stream_entries(text, "q.yaml", main_key, problems, instead))
    except SpecError as exc:
        return str(exc)
    return [shape(entry) for entry in found], [str(problem) for problem in problems]


def whole(text, main_key="command", instead=()):
    """What reading the whole tree gives: (entries, []), the problems of the
    entries as (None, problems), or the message of an error of the file."""
    try:
        found = yamlfile.entries(yamlfile.compose(text, "q.yaml"), "q.yaml", main_key, instead)
    except SpecError as exc:
        if "YAML" in str(exc) or "top level" in str(exc):
            return str(exc)
        return None, [str(problem) for problem in exc.problems]
    return [shape(entry) for entry in found], []


def shape(entry):
    return (entry.path, entry.line, entry.bare,
            [(key, value.items, value.is_list, value.line) for key, value in entry.values.items()])


def assert_read_alike(text, main_key="command", instead=()):
    expected = whole(text, main_key, instead)
    got = streamed(text, main_key, instead)
    if isinstance(expected, tuple) and expected[0] is None:
        assert got[1] == expected[1]   # the good entries go on to be checked too
    else:
        assert got == expected


@pytest.mark.parametrize("text", [
    "", "# only a comment\n", "[]\n", "~\n", "--- []\n", "- a\n- 'b'\n- \"c\\td\"\n",
    "- |\n  block\n  lines\n- >\n  folded\n  text\n",
    "- command: a {{ x }}\n  x: [1, 2]\n  y: z\n- plain\n",
    "  - indented\n  - list\n",
    "[a, b, {command: c, x: 1}]\n",
    "- a\n- &first b\n- *first\n- c\n",                  # anchors: read whole
    "- a\n- command: x\n  y: &v [1, 2]\n  z: *v\n",
    "&root\n- a\n",
    "command: x\n", "just text\n",                        # not a list
    "- a\n---\n- b\n",                                   # two documents
    "- a\n- b\n- 'c\n",                                  # syntax error at the end
    "- a\n- *nowhere\n",
    "- a\n- gpu: 1\n- ''\n- [x]\n- command: a\n  x: {a: 1}\n- \"n\\0ul\"\n",
    "- command: a\n  command: b\n- echo a: b\n- command: [a, ' ']\n",
    "- !!str tagged\n- !!int 08\n- on\n- 1e-4\n",
    "- " + "[" * 999 + "]" * 999 + "\n",                  # as deep as libyaml goes
])
def test_reading_one_entry_at_a_time_gives_what_reading_the_whole_tree_gives(text):
    assert_read_alike(text)


def test_hosts_entries_read_one_at_a_time_too():
    assert_read_alike("- node-1\n- hostname: [a, b]\n  gpu: 0\n- slurm: current\n",
                      "hostname", ("slurm",))
    assert_read_alike("- node-1\n- hostname: a\n  slurm: current\n", "hostname", ("slurm",))


def test_an_anchor_after_many_entries_reads_every_entry_once_in_order():
    text = "".join("- echo %d\n" % n for n in range(500)) + "- &a x\n- *a\n- last\n"
    entries, problems = streamed(text)
    assert problems == []
    assert [values[0][1] for *_, values in entries] == (
        [["echo %d" % n] for n in range(500)] + [["x"], ["x"], ["last"]])


# --- canonical emitter ---------------------------------------------------------------

SAFE_RANGES = [(0x20, 0x7e), (0xa0, 0x2027), (0x202a, 0xd7ff), (0xe000, 0xfefe),
               (0xff00, 0xfffd), (0x10000, 0x10ffff)]


def test_characters_written_as_they_are_are_the_printable_ones_yaml_keeps():
    safe = "".join("".join(map(chr, range(low, high + 1))) for low, high in SAFE_RANGES)
    assert canonical._SINGLE.fullmatch(safe + "\t")
    assert canonical._BLOCK.fullmatch(safe + "\t\n")
    assert canonical._PLAIN.fullmatch("a" + safe)
    unsafe: list = []
    end = 0
    for low, high in SAFE_RANGES + [(0x110000, 0x110000)]:
        unsafe.extend(range(end, low))
        end = high + 1
    assert len(unsafe) == 0x110000 - len(safe)
    for code in unsafe:
        char = chr(code)
        assert (canonical._SINGLE.fullmatch(char) is None) == (char != "\t"), hex(code)
        assert (canonical._BLOCK.fullmatch(char) is None) == (char not in "\t\n"), hex(code)
        assert canonical._PLAIN.fullmatch("a" + char) is None, hex(code)


@pytest.mark.parametrize("text", [
    "echo hi", "python train.py --lr 0.1", "a:b", "08", "on", "~", "1e-4", "x#y",
    "ls -la /tmp", "echo 'quoted'", 'say "hi"', "a, b", "a]", "ü",
])
def test_plain_looking_values_stay_plain(text):
    assert canonical.scalar(text, 2) == text


@pytest.mark.parametrize("text", [
    "", " lead", "trail ", "a: b", "a #b", "end:", "- x", "#x", "*x", "&x", "!x", "|x",
    ">x", "'x", '"x', "%x", "@x", "`x", "{{ x }}", "[a]", "{a}", "?x", ",x", "a\tb",
])
def test_values_that_would_read_back_differently_are_quoted(text):
    emitted = canonical.scalar(text, 2)
    assert emitted != text and emitted[0] in "'\""


def test_multi_line_command_uses_a_literal_block():
    job = Job("echo a\necho b\n", {"x": "1"})
    assert job.canonical() == "- command: |\n    echo a\n    echo b\n  x: 1\n"


def test_multi_line_command_without_final_newline_uses_strip_chomping():
    assert Job("echo a\necho b").canonical() == "- command: |-\n    echo a\n    echo b\n"


def test_canonical_entry_at_a_column_is_indented_whole():
    assert Job("a\nb\n", {"x": "1"}).canonical(2) == "  - command: |\n      a\n      b\n    x: 1\n"


def test_canonical_form_of_a_one_line_job_is_one_line_per_key():
    assert Job("echo hi").canonical() == "- command: echo hi\n"
    assert Job("echo {{ x }}", {"x": "a b"}).canonical() == "- command: echo {{ x }}\n  x: a b\n"


SPECIAL = st.sampled_from([
    "", " ", "  x  ", "\t", "a\tb", "\n", "a\n", "a\n\n", "\na", " a\nb", "a\n b", "a\r\nb",
    "'", '"', "''", "\\", "a: b", "a:", ":", "- x", "-", "?", "#", "a #b", "{{ x }}",
    "}}", "[", "]", "{", "}", ",", "&a", "*a", "!tag", "%YAML", "@", "`", "|", ">",
    "---", "...", "--- x", "~", "null", "08", "on", "\x07", "\x1b[0m", "\x7f",
    "\x85", "\u2028", "\ufeff", "é", "✓ ü", "\U0001f600", "a\u00a0", "a\n\tb\n",
    "x\n  y\n", "#!/bin/sh\necho hi\n",
])
# NUL is the one character no value may hold (no command line carries it).
CHARACTERS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
TEXT = st.one_of(SPECIAL, st.text(CHARACTERS),
                 st.lists(SPECIAL, max_size=5).map("".join))
COMMAND = TEXT.filter(lambda text: text.strip() != "")
KEY = st.one_of(SPECIAL, st.text(CHARACTERS, max_size=12))
PARAMS = st.dictionaries(KEY.filter(lambda key: key != "command"), TEXT, max_size=4)


@settings(max_examples=300, deadline=None, database=None)
@given(COMMAND, PARAMS, st.sampled_from([0, 2, 4]))
@example("echo a\necho b\n", {"x": "1"}, 0)
@example("x", {"a\nb": "c"}, 0)
@example("  lead", {"k": " \n "}, 2)
def test_canonical_entry_reads_back_as_the_same_job(command, params, column):
    job = Job(command, params)
    text = job.canonical(column)
    [entry] = read_entries(text)
    [back] = expand_entry(entry)
    assert (back.command, back.params) == (command, params), text


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.tuples(COMMAND, PARAMS), min_size=1, max_size=4))
def test_several_canonical_entries_read_back_in_order(pairs):
    text = "".join(Job(command, params).canonical() for command, params in pairs)
    assert [(job.command, job.params) for job in read_jobs(text)] == pairs


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.tuples(COMMAND, PARAMS), min_size=1, max_size=4))
def test_canonical_entries_read_alike_one_at_a_time(pairs):
    assert_read_alike("".join(Job(command, params).canonical() for command, params in pairs))
