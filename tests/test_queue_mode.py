"""Queue mode end to end, against the private sshd of the test harness."""

import collections
import os
import re
import signal
import subprocess

import psutil
import pytest
from helpers.runpegasus import Workspace, environment, wait_for

QUIZ_HOSTS = """\
- hostname: [node-1, node-2]
  laziness: 0
- hostname: node-3
  laziness: 0.1
"""

QUIZ_QUEUE = """\
- echo "{{ hostname }} plain" >> {log}
- command:
    - for i in $(seq {{ low }} {{ high }}); do sleep {{ laziness }}; done;
      echo "{{ hostname }} loop {{ low }} {{ high }}" >> {log}
    - echo "{{ hostname }} bye {{ low }} {{ high }}" >> {log}
  low: [1, 2]
  high: [3, 4]
"""


@pytest.fixture
def work(tmp_path, sshd):
    return Workspace(tmp_path, sshd.config)


def test_quiz_runs_nine_jobs_each_once_on_the_quiz_sub_hosts(work):
    log = work.file("ran.log")
    work.hosts(QUIZ_HOSTS)
    work.queue(QUIZ_QUEUE.replace("{log}", log))
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    lines = work.read("ran.log").splitlines()
    assert len(lines) == 9
    kinds = collections.Counter(line.split()[1] for line in lines)
    assert kinds == {"plain": 1, "loop": 4, "bye": 4}
    pairs = collections.Counter(tuple(line.split()[1:]) for line in lines if "plain" not in line)
    assert set(pairs.values()) == {1}  # every (kind, low, high) exactly once
    assert {line.split()[0] for line in lines} <= {"node-1", "node-2", "node-3"}
    assert work.read("queue.yaml").strip() == ""


def test_four_sub_hosts_run_four_jobs_at_the_same_time(work):
    # Each job announces itself, then waits until all four have: they can
    # only all finish if they all run at once.
    marks = work.file("marks")
    os.mkdir(marks)
    work.hosts("- hostname: [node-1, node-2]\n  gpu: [0, 1]\n")
    work.queue("- command: touch %s/{{ n }}; for i in $(seq 300); do [ $(ls %s | wc -l) -ge 4 ]"
               " && exit 0; sleep 0.05; done; exit 9\n  n: [a, b, c, d]\n" % (marks, marks))
    result = work.run("q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(os.listdir(marks)) == ["a", "b", "c", "d"]
    hosts = {line.split("]")[0] for line in result.stdout.splitlines() if "$ touch" in line}
    assert len(hosts) == 4  # one job per sub-host


TORTURE = [
    "single 'quotes' and \"double\" quotes",
    "dollars $HOME ${PATH} $(echo no) $((1+1))",
    "backticks `echo no` and backslashes \\ \\\\ \\n \\'",
    "separators ; | & && || > < >> 2>&1 * ? [a] ~",
    "tabs\tbetween\twords and  double  spaces ",
    "unicode: é ü 中文 😀 \u200b",
    "-leading dash",
    "EOF-looking and 'unbalanced \" quote",
]


def _heredoc(payload, out):
    return "cat > %s <<'PEGASUS_END'\n%s\nPEGASUS_END" % (out, payload)


def test_commands_reach_the_remote_shell_byte_exact(work):
    from pegasus.queuefile import QueueFile
    from pegasus.spec.jobs import Job

    work.hosts("- node-1\n")
    payloads = TORTURE + ["\n".join(TORTURE), "x" * 100 * 1024]
    jobs = [Job(_heredoc(payload, work.file("out%d" % i))) for i, payload in enumerate(payloads)]
    jobs.append(Job("-x 2>/dev/null; echo $? > %s" % work.file("dash")))
    jobs.append(Job("printf '%%s\\n' \"a'b\" 'c\"d' > %s" % work.file("printf")))
    work.queue("".join(job.canonical() for job in jobs))
    assert QueueFile(work.file("queue.yaml")).validator(work.read("queue.yaml"), "q")
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    for i, payload in enumerate(payloads):
        with open(work.file("out%d" % i), "rb") as stream:
            assert stream.read() == (payload + "\n").encode("utf-8"), "payload %d" % i
    assert work.read("dash").strip() == "127"  # `-x` was run as a command, not an option
    assert work.read("printf") == "a'b\nc\"d\n"


def test_comments_and_formatting_survive_consumption_byte_for_byte(work):
    work.hosts("- node-1\n")
    text = (
        "# queue for tonight\n"
        "\n"
        "- true   # first\n"
        "# between: keep me\n"
        "- command: 'true'\n"
        "  note: \"quoted: yes\"\n"
        "\n"
        "    # indented comment\n"
        "- |\n"
        "  true\n"
        "  true\n"
        "# the end\n")
    work.queue(text)
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    assert work.read("queue.yaml") == (
        "# queue for tonight\n"
        "\n"
        "# between: keep me\n"
        "\n"
        "    # indented comment\n"
        "# the end\n")


def test_consumed_yaml_records_each_job_in_canonical_form_and_requeues(work):
    work.hosts("- node-1\n")
    work.queue("- echo one >> {log}\n- command: echo {{{{ x }}}} >> {log}\n  x: [two, three]\n"
               .format(log=work.file("log")))
    assert work.run("q").returncode == 0
    consumed = work.consumed()
    assert consumed == [
        {"command": "echo one >> %s" % work.file("log")},
        {"command": "echo {{ x }} >> %s" % work.file("log"), "x": "two"},
        {"command": "echo {{ x }} >> %s" % work.file("log"), "x": "three"},
    ]
    # Re-queue the last job with tail, as the README says.
    subprocess.run("tail -n 2 consumed.yaml >> queue.yaml", shell=True, cwd=work.path, check=True)
    assert work.run("q").returncode == 0
    assert work.read("log").split() == ["one", "two", "three", "three"]


def test_exit_status_is_1_when_a_job_fails_and_the_summary_names_it(work):
    work.hosts("- node-1\n- node-2\n")
    work.queue("- 'true'\n- exit 7\n- echo fine\n")
    result = work.run("q")
    assert result.returncode == 1
    assert "1 of 3 jobs failed" in result.stderr
    assert "exit 7" in result.stderr
    # The report: a group per ending, then each run by #seq and sub-host.
    lines = result.stderr.splitlines()
    head = lines.index("pegasus:   1 failed with exit 7:")
    assert re.match(r"pegasus:     #\d+  node-[12]  exit 7$", lines[head + 1]), result.stderr


def test_exit_status_is_0_when_every_job_passes(work):
    work.hosts("- node-1\n")
    work.queue("- 'true'\n- echo ok\n")
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    assert "[node-1] ok" in result.stdout


def test_daemon_mode_runs_a_job_appended_later(work):
    work.hosts("- node-1\n")
    work.queue("# nothing yet\n")
    process = work.start("q", "-d")
    try:
        wait_for(lambda: _children_of(process.pid, "ssh"), timeout=20)
        with open(work.file("queue.yaml"), "a") as stream:
            stream.write("- echo late > %s\n" % work.file("late"))
        wait_for(lambda: work.exists("late"), timeout=20)
        assert work.read("late") == "late\n"
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert work.consumed() == [{"command": "echo late > %s" % work.file("late")}]


def test_daemon_mode_warns_once_about_a_broken_queue_and_resumes_when_fixed(work):
    work.hosts("- node-1\n")
    work.queue("")
    with open(work.file("stderr"), "w") as stderr:
        process = work.start("q", "-d", stderr=stderr)
    try:
        wait_for(lambda: _children_of(process.pid, "ssh"), timeout=20)
        work.queue("- echo a\n- [broken\n")
        broken = work.read("queue.yaml")
        wait_for(lambda: "queue.yaml:2" in work.read("stderr"), timeout=20)
        assert work.read("queue.yaml") == broken
        assert not work.exists("consumed.yaml")
        work.queue("- echo fixed > %s\n" % work.file("fixed"))
        wait_for(lambda: work.exists("fixed"), timeout=20)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    err = work.read("stderr")
    assert err.count("queue.yaml:2") == 1, err
    assert "valid again" in err


def _children_of(pid, name):
    try:
        return [p for p in psutil.Process(pid).children(recursive=True) if p.name() == name]
    except psutil.Error:
        return []


def test_unreachable_host_is_named_with_ssh_reason_and_skipped(work, sshd):
    config = work.write("ssh_config", open(sshd.config).read() + (
        "\nHost dead\n  HostName 127.0.0.1\n  Port 1\n  User nobody\n"))
    work.ssh_config = config
    work.hosts("- dead\n- node-1\n")
    work.queue("- echo one\n- echo two\n")
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    assert "[dead] cannot connect" in result.stderr
    assert "Connection refused" in result.stderr
    assert len(re.findall(r"^\[node-1\] #\d+ done: ", result.stdout, re.M)) == 2


def test_user_ssh_options_win_over_the_config(work):
    work.hosts("- node-1\n")
    work.queue("- echo one\n")
    result = work.run("q", "-o", "Port=1")
    assert result.returncode == 1
    assert "Connection refused" in result.stderr
    assert "no host could be connected" in result.stderr
    assert work.read("queue.yaml") == "- echo one\n"  # nothing consumed


def test_localhost_runs_without_ssh(tmp_path):
    work = Workspace(tmp_path, ssh_config=str(tmp_path / "no-such-config"))
    work.hosts("- localhost\n- hostname: 127.0.0.1\n  k: v\n")
    work.queue("- echo $PPID > {}\n".format(work.file("ppid")))
    result = work.run("q")
    assert result.returncode == 0, result.stderr
    assert work.read("ppid").strip().isdigit()  # ran, though ssh has no usable config


def test_output_lines_are_whole_and_prefixed_even_when_jobs_chat_at_once(work):
    work.hosts("- node-1\n- node-2\n")
    eight = "{{ c }}" * 8
    work.queue("- command: for i in $(seq 500); do printf '%%s\\n' %s; done\n"
               "  c: [%s, %s]\n" % (eight, "A" * 100, "B" * 100))
    result = work.run("q")
    assert result.returncode == 0
    body = [line for line in result.stdout.splitlines()
            if not (" $ " in line or " done: " in line)]
    assert len(body) == 1000
    for text in body:
        prefix, _, rest = text.partition("] ")
        assert prefix in ("[node-1", "[node-2")
        assert rest in ("A" * 800, "B" * 800)


def test_invalid_utf8_is_shown_as_replacement_characters(work):
    work.hosts("- node-1\n")
    work.queue("- printf 'ok \\377\\376 end\\n'\n")
    result = work.run("q")
    assert result.returncode == 0
    assert "[node-1] ok \ufffd\ufffd end" in result.stdout


def test_carriage_returns_end_lines_like_newlines(work):
    work.hosts("- node-1\n")
    work.queue("- printf '10%%\\r50%%\\r100%%\\r\\ndone\\n'\n")
    result = work.run("q")
    lines = [line for line in result.stdout.splitlines()
             if line.startswith("[node-1] ") and "$" not in line]
    assert lines[:4] == ["[node-1] 10%", "[node-1] 50%", "[node-1] 100%", "[node-1] done"]


def test_a_50_megabyte_line_does_not_grow_memory(tmp_path):
    work = Workspace(tmp_path)
    work.hosts("- localhost\n")
    work.queue("- head -c 50000000 /dev/zero | tr '\\0' x; echo\n")
    process = work.start("q", stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    process.communicate()
    assert process.returncode == 0
    assert usage.ru_maxrss < 120 * 1024  # KiB; the line alone is 50 MB


def test_print_period_prints_every_nth_line(work):
    work.hosts("- node-1\n")
    work.queue("- seq 10\n")
    result = work.run("q", "-p", "3")
    printed = [line.split("] ")[1] for line in result.stdout.splitlines()
               if line.startswith("[node-1] ") and line.split("] ")[1].isdigit()]
    assert printed == ["3", "6", "9"]  # as Pegasus 1.4: the Nth, 2Nth... line
    quiet = work.run("q", "-p", "0")
    assert quiet.returncode == 0


def test_color_only_when_asked_or_on_a_terminal(work):
    work.hosts("- node-1\n")
    work.queue("- echo hi\n")
    plain = work.run("q")
    assert "\x1b[" not in plain.stdout
    work.queue("- echo hi\n")
    colored = work.run("q", "--color", "always")
    assert "\x1b[" in colored.stdout


def test_joblog_has_gnu_parallel_columns_and_a_line_per_job(work):
    work.hosts("- node-1\n")
    work.queue("- echo hi\n- exit 3\n")
    result = work.run("q", "--joblog", "jobs.tsv")
    assert result.returncode == 1
    rows = [line.split("\t") for line in work.read("jobs.tsv").splitlines()]
    assert rows[0] == ["Seq", "Host", "Starttime", "JobRuntime", "Send", "Receive",
                       "Exitval", "Signal", "Command"]
    assert [(r[0], r[1], r[6], r[8]) for r in rows[1:]] == [
        ("1", "node-1", "0", "echo hi"), ("2", "node-1", "3", "exit 3")]
    assert rows[1][5] == "3"  # bytes received: "hi\n"
    float(rows[1][2]), float(rows[1][3])


def test_log_dir_holds_one_file_per_job_with_its_output(work):
    work.hosts("- node-1\n")
    work.queue("- command: echo out {{ x }}; echo err {{ x }} >&2\n  x: [1, 2]\n")
    assert work.run("q", "--log-dir", "logs").returncode == 0
    files = sorted(os.listdir(work.file("logs")))
    assert len(files) == 2
    contents = [open(os.path.join(work.file("logs"), f)).read() for f in files]
    assert sorted(contents) == ["out 1\nerr 1\n", "out 2\nerr 2\n"]


def test_masters_are_closed_and_the_socket_directory_removed(work, tmp_path_factory):
    short_tmp = tmp_path_factory.mktemp("t", numbered=True)
    if len(str(short_tmp)) > 40:
        pytest.skip("temporary directory path too long for this check")
    work.hosts("- node-1\n- node-2\n")
    work.queue("- echo a\n- echo b\n")
    result = work.run("q", env=environment(TMPDIR=str(short_tmp)))
    assert result.returncode == 0
    assert os.listdir(short_tmp) == []
    leftovers = [p for p in psutil.process_iter(["cmdline"])
                 if any(str(short_tmp) in part for part in (p.info["cmdline"] or []))]
    assert leftovers == []
