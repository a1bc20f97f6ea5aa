"""The habits of pdsh, clush, GNU parallel, pssh and ts users, on the real
sshd: their flags with their meaning (-f, -u, -l, -t, -N), output that
`dshbak -c` folds, `--joblog -`, the report at the end of a sweep, a run's
last lines by its #seq, `pegasus status --watch`, `pegasus add`."""

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import threading
import uuid

import pytest
from helpers.runpegasus import Workspace, environment, pegasus_argv, wait_for
from helpers.tmuxscreen import Screen, have_tmux

SWEEP = """\
- command: 'echo lr={{ lr }} seed={{ seed }}; [ {{ seed }} != 7 ] || { echo boom >&2; exit 3; }'
  lr: [0.1, 0.01, 0.001, 0.0001]
  seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
"""


@pytest.fixture
def work(tmp_path, sshd):
    os.mkdir(tmp_path / "cwd")
    return Workspace(tmp_path / "cwd", sshd.config)


# A job that notes, from its own side, how many jobs of the test run with it:
# its mark exists from before it counts until after it has slept.
COUNTING_JOB = ("mkdir -p {d}/running; touch {d}/running/$$; ls {d}/running | wc -l "
                ">> {d}/counts; sleep 1; rm {d}/running/$$")


def counts(directory):
    return [int(line) for line in (directory / "counts").read_text().split()]


# --- -f: fan-out ----------------------------------------------------------------

def test_f_2_runs_8_queue_jobs_never_more_than_2_at_once(work, tmp_path):
    job = COUNTING_JOB.format(d=tmp_path)
    result = work.run("q", "-w", "node-[1-8]", "-f", "2", "--", *[job] * 8)
    assert result.returncode == 0, result.stderr
    seen = counts(tmp_path)
    assert len(seen) == 8
    assert max(seen) <= 2, seen


def test_f_2_in_broadcast_runs_a_step_on_8_sub_hosts_2_at_a_time(work, tmp_path):
    result = work.run("b", "-w", "node-[1-8]", "-f", "2", "--",
                      COUNTING_JOB.format(d=tmp_path), "echo second step")
    assert result.returncode == 0, result.stderr
    seen = counts(tmp_path)
    assert len(seen) == 8
    assert max(seen) <= 2, seen
    assert result.stdout.count("second step") == 16  # its start line and its output, 8 times


# --- -u, -t: timeouts -------------------------------------------------------------

def test_u_1_kills_a_sleep_5(work, tmp_path):
    after = tmp_path / "after"
    result = work.run("q", "-w", "node-1", "-u", "1", "--kill-grace", "1", "--",
                      "sleep 5; touch %s" % after)
    assert result.returncode == 1
    assert "#1 FAILED: timeout" in result.stdout
    assert not after.exists()


@pytest.fixture
def silent_port():
    """A TCP port on 127.0.0.1 that accepts connections and never says a word
    (ssh waits for its banner)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    server.close()


def test_t_gives_up_connecting_sooner_than_the_ssh_config_says(tmp_path, silent_port):
    config = tmp_path / "ssh_config"
    # If -t did not win over this, the host would hold pegasus for 500 s.
    config.write_text("Host silent\n  HostName 127.0.0.1\n  Port %d\n  ConnectTimeout 500\n"
                      "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n"
                      "  BatchMode yes\n" % silent_port)
    work = Workspace(tmp_path, str(config))
    result = work.run("b", "-w", "silent", "-t", "1", "--", "true", timeout=60)
    assert result.returncode == 1
    assert "[silent] cannot connect: " in result.stderr
    assert "timed out" in result.stderr


# --- -l: the remote user -------------------------------------------------------------

@pytest.fixture
def other_user():
    """A second local account the loopback sshd lets in with the test key."""
    if os.geteuid() != 0:
        pytest.skip("making a second login user needs root")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not installed")
    name = "pgl%s" % uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True)
    try:
        # sshd without PAM refuses a locked account ('!'), even for keys.
        subprocess.run(["usermod", "-p", "*", name], check=True)
        yield name
    finally:
        uid = pwd.getpwnam(name).pw_uid
        for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
            try:
                if os.stat("/proc/%d" % pid).st_uid == uid:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
        subprocess.run(["userdel", "--remove", name], check=False,
                       stderr=subprocess.DEVNULL)


def test_l_logs_in_as_the_user_given(work, other_user):
    result = work.run("b", "-w", "node-[1-2]", "-l", other_user, "--", "id -un")
    assert result.returncode == 0, result.stderr
    assert re.findall(r"^\[node-\d\] (\S+)$", result.stdout, re.M) == [other_user] * 2


def test_l_leaves_a_host_that_names_its_user_alone(work, other_user):
    me = pwd.getpwuid(os.getuid()).pw_name
    result = work.run("b", "-w", "%s@node-1,node-2" % me, "-l", other_user, "--", "id -un")
    assert result.returncode == 0, result.stderr
    said = dict(re.findall(r"^\[(\S+)\] (\S+)$", result.stdout, re.M))
    assert said == {"%s@node-1" % me: me, "node-2": other_user}


# --- output for pipelines -------------------------------------------------------------

def test_N_prints_the_lines_alone(work):
    result = work.run("b", "-w", "node-[1-3]", "-N", "--", "echo hi; echo err >&2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi\n" * 3
    assert result.stderr.count("err\n") == 3


def test_colon_prefix_output_folds_through_dshbak(work):
    dshbak = shutil.which("dshbak")
    assert dshbak, "dshbak is missing: scripts/setup installs Debian's pdsh package"
    result = work.run("b", "-w", "node-[1-8]", "--prefix", "colon", "--",
                      "echo same everywhere; echo {{ hostname }} | tr -d 0-9",
                      "[ {{ hostname }} != node-3 ] || echo odd one")
    assert result.returncode == 0, result.stderr
    assert "#1" not in result.stdout, "stdout holds the jobs' lines alone"
    folded = subprocess.run([dshbak, "-c"], input=result.stdout, capture_output=True,
                            text=True, check=True, timeout=60)
    assert "uninitialized" not in folded.stderr
    blocks = re.findall(r"-{16}\n(\S+)\n-{16}\n((?:(?!-{16}).*\n)*)", folded.stdout)
    assert blocks == [("node-[1-2,4-8]", "same everywhere\nnode-\n"),
                      ("node-3", "same everywhere\nnode-\nodd one\n")]


def test_stderr_goes_to_stdout_when_asked(work):
    result = work.run("b", "-w", "node-1", "--stderr", "stdout", "--", "echo err >&2")
    assert result.returncode == 0
    assert "[node-1] err\n" in result.stdout and "err" not in result.stderr


def test_joblog_dash_writes_the_joblog_on_stdout(work):
    result = work.run("q", "-w", "node-1", "-N", "--joblog", "-", "--", "echo one", "exit 4")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == ["Seq", "Host", "Starttime", "JobRuntime", "Send",
                                    "Receive", "Exitval", "Signal", "Command"]
    rows = [line.split("\t") for line in lines if "\t" in line][1:]
    assert [(row[0], row[1], row[6], row[8]) for row in rows] == [
        ("1", "node-1", "0", "echo one"), ("2", "node-1", "4", "exit 4")]
    assert "one" in lines
    assert not os.path.exists(work.file("-"))


# --- the end of a sweep ----------------------------------------------------------------

def test_a_sweep_report_names_the_shared_parameter_each_seq_and_its_last_words(work):
    work.hosts("".join("- node-%d\n" % n for n in range(1, 5)))
    work.queue(SWEEP)
    result = work.run("q", "--joblog", work.file("joblog"))
    assert result.returncode == 1
    rows = [line.split("\t") for line in work.read("joblog").splitlines()[1:]]
    failed = sorted((int(row[0]), row[1]) for row in rows if row[6] == "3")
    assert len(rows) == 40 and len(failed) == 4
    report = result.stderr[result.stderr.index("pegasus: 4 of 40 jobs failed:"):]
    assert "pegasus:   4 failed with exit 3, all seed=7:\n" in report
    for seq, host in failed:
        assert re.search(r"^pegasus:     #%d +%s +lr=[0-9.]+ seed=7 +boom$" % (seq, host),
                         report, re.M), report
    table = re.findall(r"^pegasus:   (node-\d) +(\d+) +(\d+) +[\d.]+ s$", report, re.M)
    assert [host for host, _done, _failed in table] == ["node-1", "node-2", "node-3", "node-4"]
    assert sum(int(done) for _h, done, _f in table) == 36
    assert sum(int(bad) for _h, _d, bad in table) == 4


def test_a_failed_jobs_last_lines_are_shown_by_its_seq_after_the_run(work):
    work.hosts("- node-1\n")
    work.queue("- 'echo fine'\n- 'for i in 1 2 3; do echo out $i; echo err $i >&2; done; "
               "exit 5'\n")
    result = work.run("q")
    assert result.returncode == 1
    shown = work.run("status", "--job", "2")
    assert shown.returncode == 0, shown.stderr
    assert "#2 of runner " in shown.stdout and "exit 5 (failed)" in shown.stdout
    assert "    out 1\n    out 2\n    out 3\n" in shown.stdout
    assert "    err 1\n    err 2\n    err 3\n" in shown.stdout
    record = json.loads(work.run("status", "--job", "2", "--json").stdout)
    assert (record["exit"], record["stdout_tail"], record["stderr_tail"]) == (
        5, ["out 1", "out 2", "out 3"], ["err 1", "err 2", "err 3"])
    assert work.run("status", "--job", "3").returncode == 1


# --- pegasus status --watch ---------------------------------------------------------------

def _daemon_with_a_waiting_job(work, tmp_path):
    work.hosts("- node-1\n- node-2\n")
    work.queue("- 'touch %s/started; while [ ! -e %s/go ]; do sleep 0.05; done'\n"
               % (tmp_path, tmp_path))
    runner = work.start("q", "-d")
    wait_for((tmp_path / "started").exists, timeout=60)
    return runner


def _stop(process, read=True):
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    if read:
        process.communicate(timeout=60)
    else:  # its stdout has a reader already
        process.wait(timeout=60)


def test_status_watch_off_a_terminal_prints_a_snapshot_per_change(work, tmp_path):
    runner = _daemon_with_a_waiting_job(work, tmp_path)
    watcher = subprocess.Popen(pegasus_argv() + ["status", "--watch", "--interval", "0.2"],
                               cwd=work.path, env=environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    lines: list = []
    stdout = watcher.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(stdout), daemon=True)
    reader.start()

    def printed(pattern):
        return re.search(pattern, "".join(lines), re.M)
    try:
        wait_for(lambda: printed(r"^  node-\d +#1 "), timeout=60)
        assert "".join(lines).startswith("--- queue.yaml at ")
        (tmp_path / "go").touch()
        wait_for(lambda: printed(r"^finished: 1 ok") and printed(r"^  node-\d +- +1 +0 "),
                 timeout=60)
        assert sum(line.startswith("--- queue.yaml at ") for line in lines) >= 2
    finally:
        _stop(watcher, read=False)
        _stop(runner)
    assert watcher.returncode == 0


@pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")
def test_status_watch_redraws_in_place_on_a_terminal(work, tmp_path):
    runner = _daemon_with_a_waiting_job(work, tmp_path)
    term = Screen(120, 30)
    try:
        env = environment(TERM="xterm-256color")
        env.pop("COLUMNS", None)
        env.pop("LINES", None)
        term.start(pegasus_argv() + ["status", "--watch", "--interval", "0.2"], work.path, env)
        rows = term.wait_for(lambda rows: any(re.match(r"  node-\d +#1 ", row) for row in rows))
        assert rows[0].startswith("pegasus status of queue.yaml at ")
        (tmp_path / "go").touch()
        rows = term.wait_for(lambda rows: any(row.startswith("finished: 1 ok") for row in rows))
        assert rows[0].startswith("pegasus status of queue.yaml at ")
        history = term.capture(history=True)
        assert sum(row.startswith("pegasus status of ") for row in history) == 1, \
            "redrawn in place, not printed again below"
        term.send_keys("C-c")
        assert term.exit_status() == 0
    finally:
        term.stop()
        _stop(runner)


# --- pegasus add ------------------------------------------------------------------------------

def test_add_appends_one_command_made_of_its_words(tmp_path):
    work = Workspace(tmp_path)
    work.queue("- echo first\n")
    assert work.run("add", "python", "train.py", "--lr", "0.5").returncode == 0
    assert work.run("add", "--prepend", "--", "echo 'a b'; echo c").returncode == 0
    assert work.read("queue.yaml") == (
        "- echo 'a b'; echo c\n- echo first\n- python train.py --lr 0.5\n")
    empty = work.run("add")
    assert empty.returncode == 2 and "give the command" in empty.stderr
    broken = work.run("add", "echo", "{{", "x")
    assert broken.returncode == 2 and broken.stderr.startswith("pegasus: pegasus add: ")
    assert work.read("queue.yaml").count("\n") == 3


def test_ctrl_c_ends_the_runs_f_holds_back_and_puts_the_job_back_once(work, tmp_path):
    work.hosts("".join("- node-%d\n" % n for n in range(1, 5)))
    work.queue("- 'touch %s/started-{{ hostname }}; sleep 300'\n- echo next\n" % tmp_path)
    runner = work.start("b", "-f", "1")
    wait_for(lambda: any(name.startswith("started-") for name in os.listdir(tmp_path)),
             timeout=60)
    runner.send_signal(signal.SIGINT)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, err
    assert len([name for name in os.listdir(tmp_path) if name.startswith("started-")]) == 1
    assert out.count(" cancelled after ") == 4, out
    assert work.read("queue.yaml").count("sleep 300") == 1
    assert "echo next" in work.read("queue.yaml")
