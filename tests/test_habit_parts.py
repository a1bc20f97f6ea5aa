"""The parts behind the peers' habits, without processes: the ssh command
line of -l and -t, -f with --connect-limit, localhost and srun under -l,
the printer's --prefix and --stderr, --joblog -, the watch screen."""

import io
import json

import pytest

from pegasus.cli import parser as cli
from pegasus.errors import UsageError
from pegasus.events.outcome import Launch, Outcome
from pegasus.settings import Settings, SshSettings
from pegasus.spec.jobs import Job
from pegasus.spec.hosts import SubHost
from pegasus.transports import ssh, transport
from pegasus.transports.srun import Node
from pegasus.ui.prefixes import colon_tag
from pegasus.ui.printer import Printer
from pegasus.ui.joblog import JobLog
from pegasus.ui.watch import frame, steady


def argv(settings, destination):
    return ssh.job_argv(settings, "CONFIG", destination, "/tmp/socket", "true")


def test_l_is_sshs_own_l_unless_the_host_names_its_user():
    settings = SshSettings(user="ann")
    plain = argv(settings, "node-1")
    assert plain[plain.index("-l") + 1] == "ann"
    assert plain.index("-l") < plain.index("--")
    assert "-l" not in argv(settings, "bob@node-1")
    assert "-l" not in argv(SshSettings(), "node-1")


def test_t_sets_connect_timeout_on_the_command_line_before_the_users_o():
    args = cli.parse_args(["q", "-t", "3", "-o", "ConnectTimeout=9"])
    line = argv(Settings.from_args(args).ssh, "node-1")
    options = [line[n + 1] for n, word in enumerate(line) if word == "-o"]
    assert options.index("ConnectTimeout=3") < options.index("ConnectTimeout=9")
    assert "ConnectTimeout=3" not in argv(Settings.from_args(cli.parse_args(["q"])).ssh, "n")


def test_f_caps_the_connections_opened_at_once_too():
    assert Settings.from_args(cli.parse_args(["q", "-f", "8"])).connect_parallel == 8
    assert Settings.from_args(cli.parse_args(["q", "-f", "100"])).connect_parallel == 64
    assert Settings.from_args(cli.parse_args(["q"])).connect_parallel == 64


def test_l_with_another_user_reaches_localhost_over_ssh():
    local = SubHost(0, "localhost", {})
    assert transport.choose(local) is transport.LocalTransport
    assert transport.choose(local, "ann") is transport.SshTransport


def test_l_with_another_user_is_refused_for_srun_nodes():
    node = SubHost(0, "n1", {}, slurm=Node("77"))
    with pytest.raises(UsageError, match="launcher: ssh"):
        transport.choose(node, "ann")


def test_l_naming_oneself_changes_nothing():
    me = transport._me()
    settings = Settings.from_args(cli.parse_args(["q", "-l", me]))
    host = SubHost(0, "localhost", {})
    transport.attach([host], settings)
    assert isinstance(host.transport, transport.LocalTransport)


def printer(**options):
    return Printer(stdout=io.StringIO(), stderr=io.StringIO(), color="never", **options)


def run_of(host, seq=1):
    return Launch(seq, Job("echo"), host, None, "echo", 0.0)


def shown(each):
    each.flush()
    return each.stdout.getvalue(), each.stderr.getvalue()


@pytest.mark.parametrize("prefix, line", [("colon", "node-1(gpu=0,note=a_b): hi\n"),
                                          ("none", "hi\n")])
def test_pipeline_prefixes_leave_stdout_to_the_jobs(prefix, line):
    host = SubHost(0, "node-1", {"gpu": "0", "note": "a b"})
    each = printer(prefix=prefix)
    launch = run_of(host)
    each.on_job_started(launch)
    each.on_job_line(launch, "out", "hi")
    each.on_job_finished(Outcome(launch, 1.0, 0))
    failed = run_of(host, 2)
    each.on_job_started(failed)
    each.on_job_finished(Outcome(failed, 1.0, 3))
    out, err = shown(each)
    assert out == line
    assert err == "[node-1 (gpu=0,note=a b)] #2 FAILED: exit 3 after 1.0 s\n"


def test_stderr_lines_join_stdout_when_asked():
    host = SubHost(0, "node-1", {})
    each = printer(job_stderr="stdout")
    launch = run_of(host)
    each.on_job_line(launch, "err", "oops")
    assert shown(each) == ("[node-1] oops\n", "")


def test_a_colon_tag_is_one_word():
    assert colon_tag(SubHost(0, "node-1", {})) == "node-1"
    assert colon_tag(None) == "-"


def test_joblog_dash_goes_through_the_given_writer():
    written: list = []
    log = JobLog(None, write=written.append)
    log.on_job_finished(Outcome(run_of(SubHost(0, "node-1", {})), 1.0, 0))
    assert written[0].startswith("Seq\tHost\t")
    assert written[1].split("\t")[:2] == ["1", "node-1"]
    log.close()


def status(elapsed, at):
    return {"at": at, "runners": [{"journal": "r", "running": [{"seq": 1, "elapsed": elapsed}]}],
            "finished": {"ok": 0}}


def test_a_snapshot_differs_only_when_something_happened():
    assert steady(status(1.0, 10)) == steady(status(2.0, 11))
    changed = status(1.0, 10)
    changed["finished"] = {"ok": 1}
    assert steady(changed) != steady(status(1.0, 10))
    json.loads(steady(changed))


def test_a_frame_fits_the_window_and_clears_what_was_below():
    text = frame(["x" * 200] + ["row %d" % n for n in range(50)], 80, 10)
    rows = text[len("\x1b[H"):].split("\n")
    assert len(rows) == 11 and rows[-1] == "\x1b[J"
    assert all(len(row.replace("\x1b[K", "")) <= 79 for row in rows)
    assert rows[9].startswith("... 42 more rows")
