"""What a person reads: each sub-host its own prefix color, start and done
lines that name the run's sequence number, `-p N` as Pegasus 1.4 counted
it, one last line of counts, the status that SIGUSR1 prints, and the line
an idle daemon says. The Printer alone first, then the real command
against the test sshd."""

import io
import os
import re
import signal
import subprocess

import pytest
from helpers.runpegasus import Workspace, environment, wait_for

from pegasus.events import notices
from pegasus.events.handler import RunInfo
from pegasus.events.outcome import Launch, Outcome
from pegasus.spec.jobs import Job
from pegasus.spec.hosts import SubHost
from pegasus.ui import terminal
from pegasus.ui.printer import Printer

COLOR = re.compile(r"\x1b\[([0-9;]+)m\[")


def launch(seq, host, command="echo hi"):
    return Launch(seq, Job(command), host, None, command, 0.0)


def printed(printer):
    printer.flush()
    return printer.stdout.getvalue(), printer.stderr.getvalue()


def prefix_colors(printer, hosts):
    found = [COLOR.match(printer.prefix(host)[0]) for host in hosts]
    assert all(found)
    return [match.group(1) for match in found if match]


@pytest.mark.parametrize("term", ["xterm", "xterm-256color"])
def test_every_sub_host_has_its_own_color_and_none_is_the_red_of_failed(monkeypatch, term):
    monkeypatch.setenv("TERM", term)
    monkeypatch.delenv("COLORTERM", raising=False)
    hosts = [SubHost(i, "localhost", {"laziness": "3"}) for i in range(2)]
    hosts += [SubHost(i, "node-%d" % i, {}) for i in range(2, 40)]
    printer = Printer(stdout=io.StringIO(), stderr=io.StringIO(), color="always")
    colors = prefix_colors(printer, hosts)
    assert colors[0] != colors[1], "the same label, two sub-hosts: two colors"
    assert all(a != b for a, b in zip(colors, colors[1:])), "neighbours differ"
    red = {"31", "91", "38;5;1", "38;5;9", "38;5;124", "38;5;160", "38;5;196"}
    assert not red & set(colors)
    expected = terminal.COLORS_256 if term.endswith("256color") else terminal.BASIC_COLORS
    assert len(set(colors)) == len(expected), "the whole palette is used"


def test_without_color_the_prefix_is_plain_text():
    printer = Printer(stdout=io.StringIO(), stderr=io.StringIO(), color="never")
    assert printer.prefix(SubHost(0, "node-1", {})) == ("[node-1]", 8)


def test_start_and_done_lines_carry_the_sequence_number():
    printer = Printer(stdout=io.StringIO(), stderr=io.StringIO(), color="never")
    host = SubHost(0, "node-1", {})
    run = launch(12, host, "make all\nmake install")
    printer.on_job_started(run)
    printer.on_job_finished(Outcome(run, 1.25, returncode=0))
    printer.on_job_finished(Outcome(launch(13, host), 0.5, returncode=2))
    out, _err = printed(printer)
    assert out.splitlines() == ["[node-1] #12 $ make all ...",
                                "[node-1] #12 done: exit 0 after 1.2 s",
                                "[node-1] #13 FAILED: exit 2 after 0.5 s"]


def test_print_period_prints_the_nth_line_of_each_stream_apart():
    printer = Printer(stdout=io.StringIO(), stderr=io.StringIO(), color="never",
                      print_period=3)
    host = SubHost(0, "node-1", {})
    run, other = launch(1, host), launch(2, host)
    for n in range(1, 11):
        printer.on_job_line(run, "out", "out %d" % n)
        if n <= 5:
            printer.on_job_line(run, "err", "err %d" % n)
            printer.on_job_line(other, "out", "other %d" % n)
    out, err = printed(printer)
    assert [line for line in out.splitlines() if " out " in line] == [
        "[node-1] out 3", "[node-1] out 6", "[node-1] out 9"]
    assert err.splitlines() == ["[node-1] err 3"]
    assert [line for line in out.splitlines() if "other" in line] == ["[node-1] other 3"]


def test_queue_empty_is_said_once_the_last_job_is_done():
    printer = Printer(stdout=io.StringIO(), stderr=io.StringIO(), color="never")
    printer.on_run_started(RunInfo("queue", False, 1, True, "queue.yaml", 0.0))
    run = launch(1, SubHost(0, "node-1", {}))
    printer.on_job_started(run)
    printer.on_queue_left(0)
    printer.on_notice(notices.QueueEmpty())
    assert "queue empty" not in printed(printer)[1], "a job still runs: not waiting yet"
    printer.on_job_finished(Outcome(run, 1.0, returncode=0))
    out, err = printed(printer)
    assert err == "pegasus: queue empty: waiting for new entries; Ctrl-C to stop\n"
    assert out.endswith("#1 done: exit 0 after 1.0 s\n")


def test_queue_empty_is_not_said_when_a_job_came_meanwhile():
    printer = Printer(stdout=io.StringIO(), stderr=io.StringIO(), color="never")
    printer.on_run_started(RunInfo("queue", False, 1, True, "queue.yaml", 0.0))
    host = SubHost(0, "node-1", {})
    first = launch(1, host)
    printer.on_job_started(first)
    printer.on_notice(notices.QueueEmpty())
    printer.on_job_started(launch(2, host))
    printer.on_job_finished(Outcome(first, 1.0, returncode=0))
    assert "queue empty" not in printed(printer)[1]


def test_on_a_terminal_each_flush_is_one_write_that_redraws_the_status_line(monkeypatch):
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w")
    try:
        writes = []
        monkeypatch.setattr(terminal, "write_all", lambda _stream, text, *_: writes.append(text))
        monkeypatch.setenv("COLUMNS", "80")
        monkeypatch.delenv("TERM", raising=False)
        printer = Printer(stdout=stream, stderr=stream, color="never")
        assert printer.screen.live
        printer.on_run_started(RunInfo("queue", False, 1, False, "queue.yaml", 0.0))
        printer.on_queue_left(3)
        run = launch(1, SubHost(0, "node-1", {}))
        printer.on_job_started(run)
        printer.on_job_line(run, "out", "x" * 200)
        assert len(writes) == 2  # no loop: written at once, each in one write
        erase, status = terminal.ERASE, "pegasus: 1 running, 0 done, 0 failed, 3 left"
        assert writes[1].startswith(erase + "[node-1] " + "x" * 71 + "\n" + " " * 9)
        assert writes[1].endswith("\n" + status + terminal.BELOW + "\r")
        printer.close()
        assert writes[-1] == erase
    finally:
        stream.close()
        os.close(master)


def test_a_status_line_never_goes_to_a_pipe_or_a_file():
    printer = Printer(stdout=io.StringIO(), stderr=io.StringIO(), color="never")
    assert not printer.screen.live


# --- the real command ------------------------------------------------------------

@pytest.fixture
def work(tmp_path, sshd):
    return Workspace(tmp_path, sshd.config)


def digits(text):
    return [line.split("] ")[1] for line in text.splitlines()
            if line.startswith("[node-1] ") and line.split("] ")[1].isdigit()]


def test_print_period_3_on_seq_1_10_prints_3_6_9_for_each_stream(work):
    work.hosts("- node-1\n")
    work.queue("- seq 1 10\n- seq 1 5; seq 1 5 >&2; seq 6 10\n")
    result = work.run("q", "-p", "3")
    assert result.returncode == 0, result.stderr
    assert digits(result.stdout) == ["3", "6", "9"] * 2
    assert digits(result.stderr) == ["3"]


def test_done_lines_name_the_sequence_number_of_the_joblog(work):
    work.hosts("- node-1\n- node-2\n")
    work.queue("- command: echo {{ n }}\n  n: [1, 2, 3, 4, 5]\n")
    result = work.run("q", "--joblog", work.file("joblog"))
    assert result.returncode == 0, result.stderr
    started = re.findall(r"^\[(node-\d)\] #(\d+) \$ echo (\d)$", result.stdout, re.M)
    done = re.findall(r"^\[(node-\d)\] #(\d+) done: exit 0 after ", result.stdout, re.M)
    rows = [line.split("\t") for line in work.read("joblog").splitlines()[1:]]
    assert sorted((host, seq) for host, seq, _n in started) == sorted(done)
    assert sorted(done) == sorted((row[1], row[0]) for row in rows)
    assert sorted(n for _host, _seq, n in started) == ["1", "2", "3", "4", "5"]


def test_a_run_ends_with_one_line_of_counts_and_wall_time(work):
    work.hosts("- node-1\n")
    work.queue("- 'true'\n- 'true'\n")
    result = work.run("q")
    assert result.returncode == 0
    assert re.fullmatch(r"pegasus: finished in \d+\.\d s: 2 done, 0 failed; [\d.]+ jobs/min\n",
                        result.stderr)
    work.queue("- 'true'\n- exit 3\n")
    result = work.run("q")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "pegasus: 1 of 2 jobs failed:", "the summary first"
    assert re.fullmatch(r"pegasus: finished in \d+\.\d s: 1 done, 1 failed; [\d.]+ jobs/min",
                        lines[-1])


def test_off_a_terminal_no_status_line_is_drawn(work):
    work.hosts("- node-1\n")
    work.queue("- sleep 2\n")
    result = work.run("q")
    assert result.returncode == 0
    assert "running" not in result.stderr and "\x1b" not in result.stderr


def _has_progress_option():
    return "--progress" in Workspace(".").run("q", "--help").stdout


def test_progress_off_a_terminal_prints_a_plain_line_every_few_seconds(work):
    if not _has_progress_option():
        pytest.skip("--progress is not on the command line yet")
    work.hosts("- node-1\n")
    work.queue("- sleep 6\n")
    result = work.run("q", "--progress")
    assert result.returncode == 0
    assert re.search(r"^pegasus: 1 running, 0 done, 0 failed, 0 left$", result.stderr, re.M)
    assert "\x1b" not in result.stderr and "\r" not in result.stderr


def test_sigusr1_prints_the_status_and_the_run_goes_on_to_exit_0(work):
    work.hosts("- node-1\n- node-2\n")
    go = work.file("go")
    wait = "touch %s/started-{{ n }}; while [ ! -e %s ]; do sleep 0.05; done" % (work.path, go)
    work.queue("- command: %s\n  n: [1, 2, 3]\n" % wait)
    with open(work.file("stderr"), "w") as err:
        process = work.start("q", stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_for(lambda: work.exists("started-1") and work.exists("started-2"))
        process.send_signal(signal.SIGUSR1)
        block = wait_for(lambda: _status_block(work.read("stderr")))
        open(go, "w").close()
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert re.fullmatch(r"pegasus: status of queue.yaml after \d+ s:", block[0])
    assert block[1] == "  2 running, 0 done, 0 failed, 1 left"
    hosts = sorted(line.split()[1] for line in block[2:4])
    assert hosts == ["node-1", "node-2"]
    for line in block[2:4]:
        assert re.match(r"  #[12]  node-[12]  +\d+\.\d s  touch .*/started-[12]; while ", line)
    assert work.read("stderr").splitlines()[-1].startswith("pegasus: finished in ")


def _status_block(text):
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("pegasus: status of ") and len(lines) >= i + 4:
            return lines[i:i + 4]
    return None


def test_an_idle_daemon_says_it_waits_after_its_last_job(work):
    work.hosts("- node-1\n")
    work.queue("- sleep 1; echo slept\n")
    with open(work.file("stderr"), "w") as err, open(work.file("stdout"), "w") as out:
        process = work.start("q", "-d", stdout=out, stderr=err)
    try:
        wait_for(lambda: "queue empty" in work.read("stderr"))
        assert "#1 done: exit 0" in work.read("stdout"), "said once the job is done"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = work.read("stderr").splitlines()
    assert lines[0] == "pegasus: queue empty: waiting for new entries; Ctrl-C to stop"
    assert lines[-1].startswith("pegasus: cancelled after ")
    assert lines[-1].split(": ", 2)[2].startswith("1 done, 0 failed")


def test_gather_keeps_the_final_line(work):
    work.hosts("- node-1\n- node-2\n")
    work.queue("- echo same\n")
    result = work.run("b", "--gather", env=environment())
    assert result.returncode == 0
    assert "--- node-[1-2]: exit 0\nsame\n" in result.stdout
    assert result.stderr.startswith("pegasus: finished in ")
    assert ": 2 done, 0 failed" in result.stderr


def test_on_a_terminal_narrower_than_pegasus_the_status_line_still_fits(monkeypatch):
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w")
    try:
        writes = []
        monkeypatch.setattr(terminal, "write_all", lambda _stream, text, *_: writes.append(text))
        monkeypatch.setenv("COLUMNS", "8")
        monkeypatch.delenv("TERM", raising=False)
        printer = Printer(stdout=stream, stderr=stream, color="never")
        printer.on_host_failed(SubHost(0, "node-1", {}), "refused")
        assert writes[-1].endswith("\npegasus" + terminal.BELOW + "\r")
    finally:
        stream.close()
        os.close(master)
