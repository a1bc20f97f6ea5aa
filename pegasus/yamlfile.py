"""Reading hosts.yaml and queue.yaml into entries, and writing entries back
in canonical form.

Every scalar is kept as the literal text the user wrote: the node tree is
composed but never constructed, so YAML 1.1 resolution (`on` -> True,
`08` -> 8, `1e-4` -> 0.0001) never happens. Every entry remembers its line.
"""

import os
import re

import yaml

from .errors import Problem, SpecError

try:  # libyaml's parser when PyYAML was built with it: about 8x faster
    Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    Loader = yaml.SafeLoader


class Value:
    """One key of an entry: its scalars, and whether they were a list."""

    __slots__ = ("items", "is_list", "line")

    def __init__(self, items, is_list, line):
        self.items = items
        self.is_list = is_list
        self.line = line


class Entry:
    """One item of the top-level list, before cartesian expansion.

    `values` maps each key, in file order, to a Value. A bare-string entry
    is stored under the file's main key (`command` or `hostname`).
    """

    __slots__ = ("path", "line", "values", "bare")

    def __init__(self, path, line, values, bare):
        self.path = path
        self.line = line
        self.values = values
        self.bare = bare


def read_text(path, what):
    """Return the text of `path`, or raise SpecError saying why it cannot be
    read (missing, a directory, not UTF-8, binary)."""
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except FileNotFoundError:
        raise SpecError.at(path, None, "no such file",
                           "create it, or name another %s file with %s" % (
                               what, "-Q" if what == "queue" else "-H")) from None
    except IsADirectoryError:
        raise SpecError.at(path, None, "is a directory, not a %s file" % what) from None
    except OSError as exc:
        raise SpecError.at(path, None, "cannot be read: %s" % exc.strerror) from None
    return decode(data, path)


def decode(data, path):
    if b"\0" in data:
        line = data.count(b"\n", 0, data.index(b"\0")) + 1
        raise SpecError.at(path, line, "holds a NUL byte: this is a binary file, not YAML")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError.at(path, line, "is not UTF-8 text (byte 0x%02x)" % data[exc.start],
                           "save the file as UTF-8") from None
    return text[1:] if text.startswith("\ufeff") else text


def compose(text, path):
    """Parse `text` into a node tree; None for an empty document."""
    try:
        return yaml.compose(text, Loader=Loader)
    except yaml.composer.ComposerError as exc:
        if "single document" in str(exc.problem or exc):
            raise SpecError.at(path, _line(exc.problem_mark), "holds more than one YAML document",
                               "remove the '---' line: the file is one list") from None
        raise _syntax_error(exc, path) from None
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, path) from None


def _line(mark):
    return None if mark is None else mark.line + 1


def _syntax_error(exc, path):
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = "YAML syntax error: %s" % problem
    if context:
        message += " (%s)" % context
    hint = "check the indentation and quoting on this line and the one above"
    if "mapping values are not allowed" in problem:
        hint = ("a command containing ': ' must be quoted, e.g. "
                "- 'echo \"a: b\"'")
    elif "found character '\\t'" in problem:
        hint = "YAML does not allow tabs for indentation: use spaces"
    elif "found undefined alias" in problem:
        hint = "'*' starts an alias in YAML: quote a value that begins with '*'"
    return SpecError.at(path, _line(mark), message, hint)


def root_sequence(node, path):
    """Return the top-level list's nodes; raise if the root is not a list."""
    if node is None:
        return []
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.ScalarNode) and node.value.strip() in ("", "~", "null") \
            and node.style is None:
        return []
    kind = "a mapping" if isinstance(node, yaml.MappingNode) else "a single value"
    raise SpecError.at(path, _line(node.start_mark),
                       "the top level must be a list, but it is %s" % kind,
                       "start each entry with '- ', e.g. '- echo hello'")


def _scalar_items(key, node, path, problems):
    """A value node -> (list of str, is_list), recording problems."""
    if isinstance(node, yaml.ScalarNode):
        return [node.value], False
    if isinstance(node, yaml.MappingNode):
        problems.append(Problem(path, _line(node.start_mark),
                                "'%s' holds a mapping; a value must be a string or a "
                                "list of strings" % key))
        return None, False
    items = []
    for item in node.value:
        if isinstance(item, yaml.ScalarNode):
            items.append(item.value)
        else:
            kind = "a list inside a list" if isinstance(item, yaml.SequenceNode) else "a mapping"
            problems.append(Problem(path, _line(item.start_mark),
                                    "'%s' holds %s; a list may only hold plain values" % (key, kind),
                                    "flatten it to one list: %s: [a, b, c]" % key))
            return None, True
    if not items:
        problems.append(Problem(path, _line(node.start_mark),
                                "'%s' is an empty list, so this entry expands to nothing" % key,
                                "give it at least one value, or remove the key"))
        return None, True
    return items, True


def entries(node, path, main_key):
    """Turn the root node into Entry objects, checking their shape.

    Every problem found is collected and raised together as one SpecError.
    """
    problems = []
    result = []
    for item in root_sequence(node, path):
        line = _line(item.start_mark)
        if isinstance(item, yaml.ScalarNode):
            if item.value.strip() == "":
                problems.append(Problem(path, line, "empty entry",
                                        "write a %s after the '- ', or delete the line" % main_key))
                continue
            result.append(Entry(path, line, {main_key: Value([item.value], False, line)}, True))
            continue
        if isinstance(item, yaml.SequenceNode):
            problems.append(Problem(path, line, "this entry is a list inside the top-level list",
                                    "each entry is a string or a mapping with a '%s' key;"
                                    " remove the extra '- '" % main_key))
            continue
        values = {}
        broken = False
        for key_node, value_node in item.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(path, _line(key_node.start_mark),
                                        "a key must be a plain name"))
                broken = True
                continue
            key = key_node.value
            if key in values:
                problems.append(Problem(path, _line(key_node.start_mark),
                                        "'%s' appears twice in this entry" % key,
                                        "keep one of them"))
                broken = True
                continue
            items, is_list = _scalar_items(key, value_node, path, problems)
            if items is None:
                broken = True
                continue
            values[key] = Value(items, is_list, _line(key_node.start_mark))
        if broken:
            continue
        if main_key not in values:
            problems.append(Problem(path, line, "this entry has no '%s' key" % main_key,
                                    "add '%s: ...', or write the entry as a plain string"
                                    % main_key))
            continue
        if any(v.strip() == "" for v in values[main_key].items):
            problems.append(Problem(path, values[main_key].line, "'%s' is empty" % main_key))
            continue
        result.append(Entry(path, line, values, False))
    if problems:
        raise SpecError(problems)
    return result


def load_entries(path, what, main_key):
    """Read, parse and shape-check a whole file."""
    text = read_text(path, what)
    return entries(compose(text, path), path, main_key)


# --- canonical form -------------------------------------------------------

_PLAIN = re.compile(r"[^\s\-?:,\[\]{}#&*!|>'\"%@`]"  # a safe first character
                    r"[^\x00-\x1f\x7f\x85\u2028\u2029\ufeff]*")
_PRINTABLE = re.compile(r"[^\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029\ufeff\ud800-\udfff]*")


def _is_plain(text):
    return (_PLAIN.fullmatch(text) is not None
            and text == text.rstrip()
            and ": " not in text and " #" not in text and "\t" not in text
            and not text.endswith(":"))


def _double_quoted(text):
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char < " " or char in "\x7f\x85\u2028\u2029\ufeff" or "\ud800" <= char <= "\udfff":
            code = ord(char)
            out.append("\\x%02x" % code if code < 0x100 else "\\u%04x" % code)
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def scalar(text, indent):
    """YAML for the string `text` as a value whose key sits at column
    `indent`: plain when that reads back the same, else quoted or a literal
    block for multi-line commands."""
    if _is_plain(text):
        return text
    if "\n" in text and _PRINTABLE.fullmatch(text) and "\r" not in text \
            and not text.startswith((" ", "\n")) and text.strip("\n"):
        body = text.rstrip("\n")
        trailing = len(text) - len(body)
        chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
        pad = " " * (indent + 2)
        lines = [(pad + line) if line else "" for line in body.split("\n")]
        lines.extend([""] * (trailing - 1))
        return "|" + chomp + "\n" + "\n".join(lines)
    if "\n" not in text and _PRINTABLE.fullmatch(text) and "\r" not in text:
        return "'" + text.replace("'", "''") + "'"
    return _double_quoted(text)


def dump_entry(pairs, column=0):
    """Canonical YAML for one list item: `- key: value` lines, the dash at
    `column`. `pairs` is a sequence of (key, str)."""
    lines = []
    pad = " " * column
    for number, (key, value) in enumerate(pairs):
        lead = pad + ("- " if number == 0 else "  ")
        lines.append("%s%s: %s\n" % (lead, scalar(key, column + 2), scalar(value, column + 2)))
    return "".join(lines)


def line_count(text):
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def realpath(path):
    """The file a (possibly symlinked) path names, so it is replaced, not
    the link."""
    return os.path.realpath(path)
