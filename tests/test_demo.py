"""The demo (scripts/demo.py), run as a user runs it: on its private sshd, on
localhost sub-hosts (--no-sshd), and stopped by Ctrl-C. It shows what it says it
shows, exits 0 (130 when interrupted), and leaves no process and no directory
behind. The demo starts its own sshd, so these are integration tests."""

import os
import re
import signal
import subprocess
import sys
import threading

import pytest
from procs import processes_mentioning, stop_process

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "scripts", "demo.py")
TIMEOUT = 120   # seconds; a safety net: a demo takes about 15
FAILING = 'echo "this job fails on purpose" >&2; exit 3'

# What every demo shows, in this order.
TOUR = [
    r"^1\. The two files$",
    r"^6 jobs over 5 sub-hosts, each job run once \(nothing consumed\)$",
    r"\] #(\d+) RETRY: exit 3 after .* for attempt 2",
    r"\] #\d+ FAILED: exit 3 after ",
    r"^pegasus: finished in .*: 5 done, 1 failed, 1 retried",
    r"^-> exit status 1: one job failed",
    r"^pegasus: would put back 1 job$",
    r"^pegasus: queue empty: waiting for new entries",
    r"\] added while the daemon ran: 6 x 7 = 42$",
    r"^\$ for i in 1 2 3; do echo \"- echo fed \$i\"; sleep 0\.2; done >> queue\.yaml$",
    r"^-> all 3 fed jobs ran",
    r"queue mode \(daemon\)",
    r"^    \"seq\": \d+,$",
    r"^pegasus: status of queue\.yaml after ",
    r"\] #\d+ cancelled after ",
    r"^pegasus: put back 1 cancelled job at the top of queue\.yaml",
    r"^-> exit status 130: cancelled, its job put back$",
    r"^- command: for epoch in 1 2 3; do sleep 1; echo \"epoch \$epoch of 3\"; done$",
    r"\] epoch 3 of 3$",
    r"^-> exit status 0: the cancelled job ran$",
    r"^-> exit status 0: both commands ran on every sub-host$",
    r"^=== uname -sr   \(3 sub-hosts\)$",
    r"^-> exit status 0: one output, from every host$",
    r"^Done$",
]


def start(args, stdout):
    """The demo in a session of its own, as in a terminal of its own: the test
    can send it the terminal's Ctrl-C (SIGINT to the whole group)."""
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.Popen([sys.executable, DEMO, *args], stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


@pytest.fixture(scope="module")
def transcripts(tmp_path_factory):
    """Both paths run at once: {"sshd": (status, output), "no-sshd": ...}."""
    directory = tmp_path_factory.mktemp("demo")
    runs = {}
    try:
        for name, args in (("sshd", []), ("no-sshd", ["--no-sshd"])):
            with open(directory / (name + ".out"), "wb") as stream:
                runs[name] = start(args, stream)
        for process in runs.values():
            process.wait(timeout=TIMEOUT)
    finally:
        for process in runs.values():
            stop_process(process, grace=5)      # by PID, if it outlived the safety net
    return {name: (process.returncode, (directory / (name + ".out")).read_text())
            for name, process in runs.items()}


def assert_shows_the_tour(text):
    lines = text.splitlines()
    at = 0
    for pattern in TOUR:
        found = next((i for i in range(at, len(lines)) if re.search(pattern, lines[i])), None)
        assert found is not None, "no line matches %r after line %d:\n%s" % (pattern, at, text)
        at = found + 1
    # Each fed job ran, exactly once.
    for i in (1, 2, 3):
        assert len(re.findall(r"\] fed %d$" % i, text, re.M)) == 1, text


def assert_nothing_left(text):
    """Its work directory and its sshd's directory are gone, and no process
    names either (pegasus, ssh masters, sshd, jobs)."""
    work = re.search(r"^\$ cd (/\S+pegasus-demo-\S+)$", text, re.M)
    assert work is not None, text
    places = [work.group(1)]
    sshd = re.search(r"^\$ CFG=(\S+)/ssh_config$", text, re.M)
    if sshd:
        places.append(sshd.group(1))
    for place in places:
        assert not os.path.exists(place), place
        assert processes_mentioning(place) == []


def test_demo_on_its_private_sshd_shows_each_step_and_exits_0(transcripts):
    status, text = transcripts["sshd"]
    fallback = re.search(r"^No private sshd here: (.*)$", text, re.M)
    if fallback:
        pytest.skip("the demo found no sshd to run: %s" % fallback.group(1))
    assert status == 0, text
    assert re.search(r"^A private sshd listens on 127\.0\.0\.1:\d+\.", text, re.M), text
    assert "\n$ pegasus q --retries 1 --ssh-config $CFG\n" in text
    assert re.search(r"^\[node-3\] ", text, re.M), text
    assert "\n$ pegasus b -w 'node-[1-3]' --gather --ssh-config $CFG -- 'uname -sr'\n" in text
    assert "\n--- node-[1-3]: exit 0\n" in text
    assert_shows_the_tour(text)
    assert_nothing_left(text)


def test_demo_on_localhost_sub_hosts_shows_each_step_and_exits_0(transcripts):
    status, text = transcripts["no-sshd"]
    assert status == 0, text
    assert "\nNo private sshd here: --no-sshd asks for none.\n" in text
    assert "$CFG" not in text and "[node-" not in text
    assert re.search(r"^\[::1\] ", text, re.M), text
    assert "\n--- localhost,127.0.0.1,::1: exit 0\n" in text
    assert_shows_the_tour(text)
    assert_nothing_left(text)


def test_ctrl_c_while_the_daemon_runs_stops_all_the_demo_started():
    process = start([], subprocess.PIPE)
    assert process.stdout is not None
    watchdog = threading.Timer(TIMEOUT, process.kill)
    watchdog.start()
    seen = []
    try:
        for raw in process.stdout:
            seen.append(raw.decode("utf-8", "replace"))
            if raw.startswith(b"pegasus: queue empty: waiting"):
                break   # the daemon runs, its sub-hosts connected
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)   # the terminal's Ctrl-C
        rest, _ = process.communicate(timeout=TIMEOUT)
    finally:
        watchdog.cancel()
        stop_process(process, grace=5)
    text = "".join(seen) + rest.decode("utf-8", "replace")
    assert "pegasus: queue empty: waiting" in text, text
    assert process.returncode == 130, text
    assert "\ndemo: interrupted; cleaning up\n" in text
    assert_nothing_left(text)
