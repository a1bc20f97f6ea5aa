"""No template runs code on the controller (SPEC §2 "Safe", issue 12).

pybars3 compiles a template to Python source. Text it pastes into that source
unescaped (a `[...]` path segment, a sub-expression's name...) once let a
queue.yaml run Python on the machine running pegasus, even with --dry-run.
These tests feed generated template text through `Templates` and through the
whole load + dry run path, with an audit hook armed around each call that
records every way the payloads try to reach: a shell, a child process, an
exec, an open of a canary path, an import of a canary module.
"""

import contextlib
import io
import os
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pegasus import queuefile  # noqa: F401 - imported here, not while armed (see below)
from pegasus.errors import TemplateError
from pegasus.main import main
from pegasus.templates.template import Templates, Where

CANARY_DIR = tempfile.mkdtemp(prefix="pegasus-canary-")
CANARY = os.path.join(CANARY_DIR, "canary")
CANARY_MODULE = "pegasus_canary_module"

# Importing the queue file's modules loads libc through ctypes once (for
# renameat2): done above, so that a test run alone does not see it as a
# payload's doing.
WATCHED_EVENTS = frozenset([
    "os.system", "subprocess.Popen", "os.posix_spawn", "os.exec", "os.spawn",
    "os.fork", "os.forkpty", "pty.spawn", "ctypes.dlopen",
])


class SideEffects:
    """What the payloads reached while armed. Audit hooks cannot be removed,
    so one hook is installed for the whole run and records only when armed."""

    def __init__(self):
        self.armed = False
        self.seen = []

    def hook(self, event, args):
        if not self.armed:
            return
        if event in WATCHED_EVENTS:
            self.seen.append((event, repr(args)[:200]))
        elif event == "open" and CANARY_DIR in str(args[0]):
            self.seen.append((event, str(args[0])))
        elif event == "import" and args[0] == CANARY_MODULE:
            self.seen.append((event, args[0]))

    @contextlib.contextmanager
    def watching(self):
        self.seen = []
        self.armed = True
        try:
            yield self
        finally:
            self.armed = False


EFFECTS = SideEffects()
sys.addaudithook(EFFECTS.hook)

# Each one ran Python on the controller before the strict grammar: the ways
# pybars3 pastes template text into the code it compiles.
KNOWN_EXPLOITS = [
    # a `[...]` segment as the whole path: `helpers.get(u'...')`
    "{{ [x') or __import__('%s') or ('] }}" % CANARY_MODULE,
    # a `[...]` segment inside a dotted path, as a helper argument
    "echo {{ lower a.[x') or __import__('os').system('true') or ('] }}",
    # a sub-expression's name goes between double quotes
    "{{ lower ([\"+__import__('%s').x+\"] x) }}" % CANARY_MODULE,
    # a block's argument
    "{{#if [x') or open('%s', 'w') or ('] }}yes{{/if}}" % CANARY,
    # a raw block's argument (raw blocks looked like literal text to the checks)
    "{{{{raw [x') or __import__('os').system('true') or (']}}}}a{{{{/raw}}}}",
    # a hash argument's value
    "{{ lower x key=[x') or __import__('%s') or ('] }}" % CANARY_MODULE,
]

PAYLOADS = [
    "') or __import__('%s') or ('" % CANARY_MODULE,
    "\" + __import__('%s').x + \"" % CANARY_MODULE,
    "') or open('%s', 'w') or ('" % CANARY,
    "') or __import__('os').system('true') or ('",
    "__import__('subprocess').Popen(['true'])",
    "\\' + __import__('%s') + \\'" % CANARY_MODULE,
    "\\\"); __import__('%s'); (\\\"" % CANARY_MODULE,
]

TOKENS = [
    "{{", "}}", "{{{", "}}}", "{{{{", "}}}}", "{{#if ", "{{#each ", "{{#with ",
    "{{#unless ", "{{/if}}", "{{/each}}", "{{else}}", "{{^}}", "{{else if ", "{{> ",
    "{{!", "{{!--", "--}}", "{{{{raw}}}}", "{{{{/raw}}}}", "{{~", "~}}", "{{&", "{{*",
    "{{#>", "[", "]", "(", ")", "\"", "'", "\\", "\\{{", "@", "@root", "@index",
    "../", "./", "this", ".", "/", "~", "=", " ", "\n", "\t", "x", "y", "model",
    "lower", "replace", "default", "eq", "json_query", "str_to_json", "format=",
    "1", "-2", "3.5", "true", "null", "[1, 2]", "{\"a\": 1}", "`", "$", "#", "%",
    "u'", "\\n", "\\u0041", "\x00", "\x0c", "\u2028", "é", "✓", "\U0001f600",
] + PAYLOADS

fragments = st.one_of(st.sampled_from(TOKENS), st.text(max_size=4))
loose_text = st.lists(fragments, max_size=24).map("".join)

# Text shaped like a tag, so that payloads land where pybars3 pastes text:
# in path segments, string literals, sub-expressions, hash values, blocks.
OPENERS = ["{{", "{{{", "{{&", "{{#if", "{{#each", "{{#with", "{{^", "{{>", "{{{{raw",
           "{{~", "{{#"]
payload = st.sampled_from(PAYLOADS)
word = st.one_of(
    st.sampled_from(["x", "lower", "replace", "this", "../x", "@root.x", "@index", "a.b",
                     "\"s\"", "'s'", "1", "true", "key=x", "(upper x)"]),
    payload.map(lambda text: "[%s]" % text),
    payload.map(lambda text: "a.[%s]" % text),
    payload.map(lambda text: '"%s"' % text),
    payload.map(lambda text: "'%s'" % text),
    payload.map(lambda text: "([%s] x)" % text),
    payload.map(lambda text: "key=[%s]" % text),
    payload.map(lambda text: "> %s" % text),
    payload.map(lambda text: "%s" % text),
    fragments,
)
tag = st.builds(lambda opener, words, closer: opener + " " + " ".join(words) + closer,
                st.sampled_from(OPENERS), st.lists(word, min_size=1, max_size=4),
                st.sampled_from([" }}", "}}", "}}}", "~}}", "}}}}", " }}yes{{/if}}",
                                 "}}}}a{{{{/raw}}}}", ")}}"]))

def _string_literal(text, quote):
    escaped = text.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return quote + escaped.replace("\n", "\\n").replace("\t", "\\t") + quote


# Templates that parse, with payloads where pybars3 used to paste text: in
# string literals, [...] names, sub-expressions, block arguments, hashes.
literal = st.builds(_string_literal, st.one_of(payload, st.text(max_size=6)),
                    st.sampled_from(["\"", "'"]))
argument = st.one_of(literal, st.sampled_from(["x", "y", "model", "1", "true", "[1, 2]"]),
                     payload.map(lambda text: "[%s]" % text.replace("]", "")))
well_formed = st.one_of(
    st.builds("{{ default %s %s }}".__mod__, st.tuples(argument, literal)),
    st.builds("{{ replace model %s %s }}".__mod__, st.tuples(literal, literal)),
    st.builds("{{ lower (default %s %s) }}".__mod__, st.tuples(argument, literal)),
    st.builds("{{#if (eq %s %s)}}a{{else}}b{{/if}}".__mod__, st.tuples(argument, argument)),
    st.builds("{{ json_str_query %s %s format=%s }}".__mod__,
              st.tuples(literal, literal, st.sampled_from(['"json"', '"yaml"', "x"]))),
    st.builds("{{#each (str_to_json %s)}}{{@index}}{{this}}{{/each}}".__mod__,
              st.tuples(literal)),
    st.builds("{{{{raw}}}}%s{{{{/raw}}}}".__mod__, st.tuples(payload)),
    st.builds("\\{{%s}}".__mod__, st.tuples(payload)),
    payload,
)
template_text = st.lists(st.one_of(tag, loose_text, well_formed), min_size=1,
                         max_size=4).map("".join)

VALUES = {"x": "a&b", "y": "2", "model": "facebook/opt-13b", "gpu": "0"}


def assert_nothing_happened(effects):
    assert effects.seen == [], "a template reached %r" % (effects.seen,)
    assert not os.path.exists(CANARY)
    assert CANARY_MODULE not in sys.modules


def compile_and_render(source):
    templates = Templates()
    where = Where("queue.yaml", 3)
    with EFFECTS.watching() as effects:
        try:
            templates.compile(source, where)
            templates.render(source, dict(VALUES), where)
        except TemplateError as exc:
            assert str(exc).startswith("queue.yaml:3: "), str(exc)
    assert_nothing_happened(effects)


def yaml_quoted(text):
    """`text` as a YAML double-quoted scalar, every non-printable escaped."""
    def escape(char):
        point = ord(char)
        if char in "\\\"":
            return "\\" + char
        if char in "\t" or 0x20 <= point <= 0x7E or 0xA0 <= point <= 0xD7FF \
                or 0xE000 <= point <= 0xFFFD or point >= 0x10000:
            return char
        return "\\x%02x" % point if point <= 0xFF else "\\u%04x" % point
    return '"' + "".join(map(escape, text)) + '"'


def dry_run(directory, source):
    queue = os.path.join(directory, "queue.yaml")
    hosts = os.path.join(directory, "hosts.yaml")
    with open(hosts, "w") as file:
        file.write("- hostname: node-1\n  gpu: [0, 1]\n")
    with open(queue, "w", encoding="utf-8") as file:
        file.write("- command: %s\n  x: 'a&b'\n  model: facebook/opt-13b\n"
                   % yaml_quoted(source))
    out, err = io.StringIO(), io.StringIO()
    with EFFECTS.watching() as effects:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["q", "--dry-run", "-Q", queue, "-H", hosts])
    assert_nothing_happened(effects)
    assert status in (0, 2), err.getvalue()
    if status == 2:
        assert "queue.yaml:1:" in err.getvalue(), err.getvalue()


@pytest.mark.parametrize("source", KNOWN_EXPLOITS)
def test_known_exploit_has_no_side_effect(source):
    # A `[...]` segment is a legal name now (e.g. {{ [my key] }}): the payload
    # is only the name of a variable that nobody defines.
    compile_and_render(source)


@pytest.mark.parametrize("source, words", [
    ("{{> evil}}", ["partials"]),
    ("{{#> layout}}x{{/layout}}", ["partial"]),
    ("{{* decorator}}", ["decorators"]),
    ("{{#each xs as |x|}}{{x}}{{/each}}", ["'as'"]),
    ("{{ lower \"a\\q\" }}", ["unknown escape"]),
    ("{{ lower 'it\"s }}", ["never closed"]),
    ("{{ lower [x }}", ["'['"]),
    ("{{ x; import os }}", ["unexpected"]),
    ("{{ @secret }}", ["data variable"]),
    ("{{{{raw x}}}}a{{{{/raw}}}}", ["raw block"]),
])
def test_text_outside_the_grammar_is_refused_with_file_line_and_hint(source, words):
    with EFFECTS.watching() as effects:
        with pytest.raises(TemplateError) as info:
            Templates().compile(source, Where("queue.yaml", 3))
    assert_nothing_happened(effects)
    message = str(info.value)
    assert message.startswith("queue.yaml:3: ") and "does not parse" in message, message
    assert "hint:" in message
    for word in words:
        assert word in message, message


@settings(max_examples=150, deadline=None, database=None)
@given(template_text)
@example(KNOWN_EXPLOITS[0])
@example(KNOWN_EXPLOITS[1])
@example(KNOWN_EXPLOITS[2])
@example(KNOWN_EXPLOITS[3])
@example(KNOWN_EXPLOITS[4])
@example(KNOWN_EXPLOITS[5])
def test_no_template_text_has_a_python_side_effect_when_rendered(source):
    compile_and_render(source)


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template_text.filter(lambda text: "\x00" not in text))
@example(KNOWN_EXPLOITS[0])
@example(KNOWN_EXPLOITS[1])
@example(KNOWN_EXPLOITS[3])
@example(KNOWN_EXPLOITS[4])
def test_no_queue_command_has_a_python_side_effect_in_a_dry_run(tmp_path, source):
    dry_run(str(tmp_path), source)
