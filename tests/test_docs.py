"""The README and the manual in docs/: every relative link resolves, to a file
that exists and, with an #anchor, to a heading in it; and the README stays
short, its set-up the two commands CI runs."""

import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINK = re.compile(r"\]\(([^)\s]+)\)")


def documents():
    found = ["README.md", "CONTRIBUTING.md"]
    found += sorted(os.path.join("docs", name) for name in os.listdir(os.path.join(REPO, "docs"))
                    if name.endswith(".md"))
    return found


def slug(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped but
    hyphens, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    """The anchors of the headings of `path` (not of lines in code blocks);
    a repeated heading gets -1, -2..., as on GitHub."""
    found = set()
    in_code = False
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            if line.startswith("```"):
                in_code = not in_code
            match = None if in_code else re.match(r"^#{1,6} (.*)$", line)
            if match:
                base = slug(match.group(1))
                name, number = base, 0
                while name in found:
                    number += 1
                    name = "%s-%d" % (base, number)
                found.add(name)
    return found


def links(path):
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)   # examples are not links
    return LINK.findall(text)


@pytest.mark.parametrize("document", documents())
def test_every_relative_link_resolves(document):
    path = os.path.join(REPO, document)
    broken = []
    for target in links(path):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto:
        file_part, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) \
            if file_part else path
        if not os.path.exists(resolved):
            broken.append("%s: no file %s" % (target, os.path.relpath(resolved, REPO)))
        elif anchor and anchor not in anchors(resolved):
            broken.append("%s: no heading #%s in %s" % (target, anchor,
                                                       os.path.relpath(resolved, REPO)))
    assert not broken, "\n".join(broken)


def test_a_broken_link_is_seen(tmp_path):
    """The check above has teeth: a link to a missing heading is found."""
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Real part\n\nSee [here](#real-part) and [there](#gone).\n")
    assert "real-part" in anchors(str(page)) and "gone" not in anchors(str(page))
    assert links(str(page)) == ["#real-part", "#gone"]


def test_the_readme_is_short_and_gives_the_set_up_ci_runs():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as stream:
        text = stream.read()
    assert len(text.splitlines()) <= 200
    with open(os.path.join(REPO, ".ci", "run"), encoding="utf-8") as stream:
        ci = stream.read()
    assert "scripts/test --all-pythons" in ci and "scripts/test --all-pythons" in text
    assert "scripts/demo" in text
    # The user's install comes before the demo and the tests, which need root.
    assert text.index("pipx install .") < text.index("scripts/demo")
