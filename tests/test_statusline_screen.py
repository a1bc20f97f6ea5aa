"""The status line on a real terminal (a private tmux server): at the
bottom, with the counts of the jobs as they are, never torn into a job's
output line nor left behind in the scrollback, redrawn whole after a
resize, and saying when a daemon waits."""

import re

import pytest
from helpers.runpegasus import Workspace, environment
from helpers.tmuxscreen import Screen, have_tmux

pytestmark = pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")

# Prints a numbered line every 10 ms until its go-file appears.
CHATTY_JOB = """\
n=$1; d=$2
touch "$d/started-$n"
i=0
while [ ! -e "$d/go-$n" ]; do i=$((i+1)); echo "job$n line $i ========"; sleep 0.01; done
"""


@pytest.fixture
def work(tmp_path, sshd):
    return Workspace(tmp_path, sshd.config)


@pytest.fixture
def screen():
    screens = []

    def open_screen(width=100, height=30):
        screens.append(Screen(width, height))
        return screens[-1]

    yield open_screen
    for each in screens:
        each.stop()


def terminal_env(**extra):
    env = environment(TERM="xterm-256color", **extra)
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


def status_row(rows):
    """The last row on the screen, if it is the status line."""
    return rows[-1] if rows and rows[-1].startswith("pegasus: ") else ""


def test_the_status_line_counts_the_jobs_and_never_splits_an_output_line(work, screen):
    work.hosts("".join("- node-%d\n" % n for n in range(1, 5)))
    script = work.write("job.sh", CHATTY_JOB)
    work.queue("- command: sh %s {{ n }} %s\n  n: [1, 2, 3, 4, 5, 6]\n" % (script, work.path))
    term = screen(200, 30).start(work.argv("q"), work.path, terminal_env())
    term.wait_for(lambda rows: status_row(rows).startswith(
        "pegasus: 4 running, 0 done, 0 failed, 2 left"))
    for n in (1, 2):
        open(work.file("go-%d" % n), "w").close()
    term.wait_for(lambda rows: status_row(rows).startswith(
        "pegasus: 4 running, 2 done, 0 failed, 0 left"))
    assert all(work.exists("started-%d" % n) for n in range(1, 7))
    assert not any(work.exists("started-%d" % n) for n in range(7, 9))
    for n in range(3, 7):
        open(work.file("go-%d" % n), "w").close()
    assert term.exit_status() == 0
    history = term.capture(history=True)
    assert re.fullmatch(r"pegasus: finished in \d+\.\d s: 6 done, 0 failed; .* jobs/min",
                        history[-1])
    whole = re.compile(r"\[node-[1-4]\] (job[1-6] line \d+ ========|#[1-6] \$ sh .*|"
                       r"#[1-6] done: exit 0 after \d+\.\d s)")
    lines = 0
    for row in history[:-1]:
        assert whole.fullmatch(row), "a torn or stray row: %r" % row
        lines += "========" in row
    assert lines > 50, "the jobs chatted while the status line was redrawn"


def test_the_status_line_is_redrawn_whole_after_the_terminal_narrows(work, screen):
    work.hosts("- node-1\n")
    work.queue("- sleep 300\n- sleep 300\n- sleep 300\n")
    term = screen(100, 20).start(work.argv("q"), work.path, terminal_env())
    wide = term.wait_for(lambda rows: status_row(rows).startswith(
        "pegasus: 1 running, 0 done, 0 failed, 2 left"))
    assert len(status_row(wide)) > 40
    term.resize(40)
    # Narrowed, the terminal splits the old line in two rows; the redraw
    # erases both and draws one that fits.
    start, cut = "[node-1] #1 $ sleep 300", "pegasus: 1 running, 0 done, 0 failed, 2"
    assert term.wait_for(lambda rows: rows[-1] == cut, history=True) == [start, cut]
    term.resize(100)
    full = cut + " left"
    assert term.wait_for(lambda rows: rows[-1] == full, history=True) == [start, full]
    term.send_keys("C-c")
    assert term.exit_status() == 130
    rows = term.capture(history=True)
    assert rows[1].startswith("pegasus: SIGINT: cancelling 1 running job"), "not after a ^C"
    assert rows[-1].startswith("pegasus: cancelled after ")
    assert not [row for row in rows if " running, " in row]


def test_an_idle_daemon_says_it_waits_above_and_in_the_status_line(work, screen):
    work.hosts("- node-1\n")
    work.queue("- echo first\n")
    term = screen(100, 20).start(work.argv("q", "-d"), work.path, terminal_env())
    rows = term.wait_for(lambda rows: status_row(rows).startswith("pegasus: queue empty"))
    assert rows[-2:] == ["pegasus: queue empty: waiting for new entries; Ctrl-C to stop",
                         "pegasus: queue empty: waiting; 1 done, 0 failed"]
    with open(work.file("queue.yaml"), "a") as queue:
        queue.write("- echo second\n")
    rows = term.wait_for(lambda rows: status_row(rows).endswith("waiting; 2 done, 0 failed"))
    assert "[node-1] second" in rows
    assert rows.count("pegasus: queue empty: waiting for new entries; Ctrl-C to stop") == 2
    term.send_keys("C-c")
    assert term.exit_status() == 130
    last = term.capture()
    assert last[-1].startswith("pegasus: cancelled after ")
    assert last[-1].endswith(": 2 done, 0 failed; " + last[-1].rsplit("; ", 1)[1])
    assert not any(row.startswith("pegasus: queue empty: waiting;") for row in last)


def test_no_color_keeps_the_status_line_plain_and_color_makes_it_bold(tmp_path, sshd, screen):
    terms = []
    for name, env in (("plain", terminal_env()),
                      ("colored", {k: v for k, v in terminal_env().items() if k != "NO_COLOR"})):
        work = Workspace(tmp_path / name, sshd.config)
        (tmp_path / name).mkdir()
        work.hosts("- node-1\n")
        work.queue("- sleep 300\n")
        terms.append(screen(100, 10).start(work.argv("q"), work.path, env))
    for term in terms:
        term.wait_for(lambda rows: status_row(rows).startswith("pegasus: 1 running"))
    plain, colored = (term.capture(escapes=True)[-1] for term in terms)
    assert "\x1b[" not in plain
    match = re.match(r"((?:\x1b\[[0-9;]*m)*)(.*)", colored)
    assert match is not None
    styles, text = match.groups()
    assert text.startswith("pegasus: 1 running")
    assert "1" in re.findall(r"[0-9]+", styles), "bold"
    for term in terms:
        term.send_keys("C-c")
        assert term.exit_status() == 130
