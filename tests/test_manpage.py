"""man/pegasus.1 is generated from pegasus/cli/; it must not fall behind."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "man" / "pegasus.1"
SCRIPT = REPO / "scripts" / "manpage"


def without_date(text):
    """The page less its `.TH` line, which carries the generation date."""
    return [line for line in text.splitlines() if not line.startswith(".TH ")]


def test_manpage_script_is_executable():
    assert os.access(SCRIPT, os.X_OK)


def test_committed_manpage_matches_the_parser(tmp_path):
    pytest.importorskip("argparse_manpage", reason="argparse-manpage is in the `test` extra")
    fresh = tmp_path / "pegasus.1"
    subprocess.run([sys.executable, str(SCRIPT), str(fresh)], check=True, timeout=60,
                   capture_output=True)
    assert PAGE.exists(), "man/pegasus.1 is missing: run scripts/manpage"
    assert without_date(PAGE.read_text()) == without_date(fresh.read_text()), (
        "man/pegasus.1 is out of date with pegasus/cli/: run scripts/manpage and commit "
        "the result")


def test_manpage_names_the_program_and_its_modes():
    text = PAGE.read_text()
    assert text.startswith(".TH PEGASUS ")
    assert "pegasus \\- run shell commands" in text
    for mode in ["queue", "broadcast", "lock"]:
        assert "COMMAND \\fI\\,'pegasus %s'" % mode in text
