"""Slurm without a cluster: node lists, hosts.yaml entries for an allocation,
the srun command line and its environment, and what srun's own lines mean
(pegasus/transports/srun.py). The real cluster is in test_slurm_runs.py."""

import os
import signal
import subprocess
from types import SimpleNamespace
from typing import Any

import pytest

from pegasus.errors import SpecError, UsageError
from pegasus.events.outcome import Reason
from pegasus.settings import Settings
from pegasus.spec.hostlist import load_subhosts
from pegasus.spec.hosts import load_hosts
from pegasus.templates.template import Templates
from pegasus.spec import allocation
from pegasus.transports import srun, transport, wrapper

JOB = "4242"


@pytest.fixture
def inside(tmp_path, monkeypatch):
    """An environment as salloc gives it, with an `srun` on PATH (never run)."""
    fake = tmp_path / "bin" / "srun"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 99\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", "%s%s%s" % (fake.parent, os.pathsep, os.environ["PATH"]))
    monkeypatch.setenv("SLURM_JOB_ID", JOB)
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu-a[01-02],login1")
    return tmp_path


def hosts(path, text):
    (path / "hosts.yaml").write_text(text)
    return load_hosts(str(path / "hosts.yaml"), Templates())


# --- node lists --------------------------------------------------------------------

@pytest.mark.parametrize("listed, nodes", [
    ("node[1-2,4]", ["node1", "node2", "node4"]),
    ("gpu-a[01-02],login1", ["gpu-a01", "gpu-a02", "login1"]),
    ("a[1-2]b[3-4]", ["a1b3", "a1b4", "a2b3", "a2b4"]),
    ("node[009-011],x", ["node009", "node010", "node011", "x"]),
    ("n7", ["n7"]),
])
def test_slurm_node_lists_expand_in_slurm_order(listed, nodes):
    assert allocation.expand_nodelist(listed) == nodes


def test_scontrol_fields_are_read_even_beside_fields_with_spaces():
    line = ("JobId=7 JobName=my job UserId=ann(1) JobState=RUNNING Reason=None "
            "Command=/home/ann/run me.sh NodeList=node[1-3] BatchHost=node1\n")
    assert allocation.job_fields(line) == {"JobState": "RUNNING", "NodeList": "node[1-3]"}


# --- hosts.yaml entries ----------------------------------------------------------------

def test_a_slurm_entry_is_one_sub_host_per_node_times_its_parameters(inside):
    subhosts = hosts(inside, "- slurm: current\n  gpu: [0, 1]\n- node-9\n")
    assert [(h.hostname, h.params) for h in subhosts] == [
        ("gpu-a01", {"gpu": "0"}), ("gpu-a01", {"gpu": "1"}),
        ("gpu-a02", {"gpu": "0"}), ("gpu-a02", {"gpu": "1"}),
        ("login1", {"gpu": "0"}), ("login1", {"gpu": "1"}), ("node-9", {})]
    assert subhosts[0].slurm == allocation.Node(JOB, "srun", current=True, gpus=False)
    assert subhosts[-1].slurm is None
    assert [h.index for h in subhosts] == list(range(7))


def test_slots_make_pegasus_hand_out_the_gpus(inside):
    [first, *_] = hosts(inside, "- slurm: current\n  slots: 4\n")
    assert first.slots == 4 and first.slurm.gpus


def test_the_launcher_chooses_the_transport(inside):
    subhosts = hosts(inside, "- slurm: current\n- slurm: %s\n  launcher: ssh\n- localhost\n"
                     % JOB)
    transport.attach(subhosts, Settings())
    kinds = [h.transport.kind for h in subhosts]
    assert kinds == ["srun"] * 3 + ["ssh"] * 3 + ["local"]


@pytest.mark.parametrize("text, line, words", [
    ("- slurm: current\n  launcher: rsh\n", 2, "'launcher' must be srun or ssh"),
    ("- slurm: [1, 2]\n", 1, "'slurm' holds a list"),
    ("- slurm: job7\n", 1, "'job7' is neither 'current' nor a job id"),
    ("- node-1\n- hostname: a\n  slurm: current\n", 3, "both 'hostname' and 'slurm'"),
    ("- slurm: ''\n", 1, "'slurm' is empty"),
])
def test_a_bad_slurm_entry_is_an_error_at_its_line(inside, text, line, words):
    with pytest.raises(SpecError) as caught:
        hosts(inside, text)
    problem = caught.value.first
    assert (problem.line, words in problem.message) == (line, True), str(problem)


def test_slurm_current_outside_an_allocation_says_so_at_its_line(inside, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID")
    with pytest.raises(SpecError) as caught:
        hosts(inside, "- node-1\n- slurm: current\n")
    assert str(caught.value.first).startswith("%s:2: slurm: pegasus runs outside any Slurm "
                                              "allocation" % (inside / "hosts.yaml"))


def test_an_entry_without_hostname_names_slurm_in_its_hint(inside):
    with pytest.raises(SpecError) as caught:
        hosts(inside, "- gpu: 1\n")
    assert "(or 'slurm: ...')" in (caught.value.first.hint or "")


def command_line(**given):
    """What the command line says of the hosts: --slurm, and `given`."""
    values: dict = {"hosts": None, "exclude": [], "hosts_file": "hosts.yaml",
                    "slurm": "current"}
    values.update(given)
    return SimpleNamespace(**values)


def test_slurm_option_takes_the_allocation_less_excluded_nodes(inside):
    subhosts = load_subhosts(command_line(exclude=["gpu-a02"]), Templates())
    assert [(h.index, h.hostname, h.slurm and h.slurm.launcher) for h in subhosts] == [
        (0, "gpu-a01", "srun"), (1, "login1", "srun")]


def test_slurm_option_with_w_or_outside_an_allocation_is_a_usage_error(inside, monkeypatch):
    with pytest.raises(UsageError, match="-w and --slurm"):
        load_subhosts(command_line(hosts=["node-1"]), Templates())
    monkeypatch.delenv("SLURM_JOB_ID")
    with pytest.raises(UsageError, match=r"^--slurm: pegasus runs outside"):
        load_subhosts(command_line(), Templates())


# --- the step ------------------------------------------------------------------------

def test_each_job_is_one_overlapping_step_on_its_node_claiming_no_memory():
    argv = srun.srun_argv("77", "node3", ["sh", "-c", "x"])
    assert argv == ["srun", "--jobid=77", "--overlap", "-N1", "-n1", "-w", "node3", "--mem=0",
                    "--job-name=pegasus", "--", "sh", "-c", "x"]


def test_another_job_s_slurm_variables_stay_out_of_the_step_but_slurm_conf_stays():
    environ = {"SLURM_JOB_ID": "1", "SLURM_MEM_PER_NODE": "9", "SLURM_CONF": "/c",
               "HOME": "/h", "CUDA_VISIBLE_DEVICES": "5"}
    other = srun.step_environment(environ, allocation.Node("2", current=False))
    assert other == {"SLURM_CONF": "/c", "HOME": "/h", "CUDA_VISIBLE_DEVICES": "5"}
    own = srun.step_environment(environ, allocation.Node("1", current=True, gpus=True))
    assert own == {"SLURM_JOB_ID": "1", "SLURM_MEM_PER_NODE": "9", "SLURM_CONF": "/c",
                   "HOME": "/h"}


def _devices(slots, slurm_set=None):
    """What the job sees in CUDA_VISIBLE_DEVICES, run through the real wrapper."""
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    if slurm_set is not None:
        env["CUDA_VISIBLE_DEVICES"] = slurm_set
    argv = wrapper.wrapped_local('printf %s "${CUDA_VISIBLE_DEVICES-unset}"', 1.0,
                                 srun.GPU_SETUP, slots)
    read, write = os.pipe()   # the wrapper's stdin, held open while it runs
    try:
        result = subprocess.run(argv, env=env, stdin=read, stdout=subprocess.PIPE,
                                timeout=20, check=True)
    finally:
        os.close(read)
        os.close(write)
    return result.stdout.decode()


def test_the_job_s_gpus_are_its_slots_or_the_gpus_slurm_gave_at_those_places():
    assert _devices("0,1") == "0,1"
    assert _devices("2") == "2"
    assert _devices("1,2", slurm_set="4,5,6,7") == "5,6"
    assert _devices("0", slurm_set="GPU-aa,GPU-bb") == "GPU-aa"
    assert _devices("", slurm_set="0,1") == "0,1"     # no slots: Slurm's own, untouched
    assert _devices("") == "unset"


# --- what srun says ---------------------------------------------------------------------

WORDS = srun.StepMessages(JOB, "node2")
STEP = "slurmstepd-node2: error: *** STEP %s.3 ON node2 CANCELLED AT 2026-01-01T10:00:00" % JOB


NODE_GONE = "node failure: Slurm took node2 out of job 4242"


@pytest.mark.parametrize("line, lost, over", [
    ("srun: error: Node failure on node2", NODE_GONE, None),
    (STEP + " DUE TO NODE FAILURE ***", NODE_GONE, None),
    # Slurm 22.05, when the node failure ended the whole job (no --no-kill);
    # only asking Slurm tells that (`state`).
    (STEP + " DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR DETAILS ***", NODE_GONE, None),
    (STEP + " DUE TO TIME LIMIT ***", None, "job 4242 reached its time limit"),
    (STEP + " DUE TO PREEMPTION ***", None, "job 4242 was preempted"),
    ("srun: error: Unable to create step for job 4242: Requested node configuration is not "
     "available", "node2 is no longer part of job 4242", None),
    ("srun: error: Unable to create step for job 4242: Step limit reached for this job", None,
     "job 4242 has run as many steps as Slurm allows one job (MaxStepCount)"),
    ("srun: error: Unable to confirm allocation for job 4242: Invalid job id specified", None,
     "job 4242 is not running (it ended, or never was)"),
    ("srun: error: Unable to create step for job 4242: Job/step already completing or "
     "completed", None, "job 4242 is ending"),
    ("srun: error: Slurm job 4242 has expired", None, "job 4242 has ended"),
    (STEP + " ***", None, None),                   # scancel: the job, not the node
    ("srun: error: node2: task 0: Exited with exit code 3", None, None),
    ("srun: Job step aborted: Waiting up to 4 seconds for job step to finish.", None, None),
    ("srun: Job step aborted", None, None),        # seen cut short
    ("srun: forcing job termination", None, None),
    ("srun: Force Terminated StepId=4242.3", None, None),
    ("srun: Job 4242 step creation temporarily disabled, retrying (Requested nodes are busy)",
     None, None),
    ("srun: Step created for job 4242", None, None),
    ("srun: interrupt (one more within 1 sec to abort)", None, None),
])
def test_srun_s_own_lines_are_kept_out_of_the_output_and_say_if_node_or_job_is_gone(
        line, lost, over):
    assert WORDS.own(line) == line
    assert WORDS.lost([line]) == lost
    assert WORDS.over([line]) == over


@pytest.mark.parametrize("returncode, said, doubtful", [
    (-signal.SIGTERM, ["srun: error: node2: task 0: Terminated"], True),
    (None, [], True),
    (0, ["srun: Job step aborted: Waiting up to 4 seconds for job step to finish."], True),
    (1, [STEP + " ***"], True),
    (3, ["srun: error: node2: task 0: Exited with exit code 3"], False),
    (0, [], False),
])
def test_a_step_killed_or_cancelled_may_be_its_job_s_end(returncode, said, doubtful):
    assert WORDS.doubtful(returncode, said) is doubtful


@pytest.mark.parametrize("printed, returncode, over", [
    (["JobId=4242 JobName=x JobState=RUNNING Reason=None NodeList=node[1-2]"], 0, None),
    (["JobId=4242 JobName=x JobState=SUSPENDED Reason=None"], 0, None),
    (["JobId=4242 JobName=x JobState=TIMEOUT Reason=TimeLimit"], 0,
     "job 4242 reached its time limit"),
    (["JobId=4242 JobName=x JobState=NODE_FAIL Reason=NodeDown"], 0,
     "job 4242 ended: one of its nodes failed"),
    (["JobId=4242 JobName=x JobState=COMPLETING Reason=None"], 0, "job 4242 is ending"),
    (["JobId=4242 JobName=x JobState=CANCELLED Reason=None"], 0, "job 4242 was cancelled"),
    (["JobId=4242 JobName=x JobState=OUT_OF_MEMORY"], 0, "job 4242 is out_of_memory"),
    (["slurm_load_jobs error: Invalid job id specified"], 1, "job 4242 has ended"),
    (["slurm_load_jobs error: Unable to contact slurm controller (connect failure)"], 1, None),
    ([], -9, None),
])
def test_what_slurm_says_of_the_job_tells_whether_it_is_over(printed, returncode, over):
    assert WORDS.state_argv() == ["scontrol", "show", "job", "-o", JOB]
    assert WORDS.state(printed, returncode) == over


@pytest.mark.parametrize("line", [
    "srun: error: Node failure on node3",             # another node (a nested step)
    "srun: error: Unable to create step for job 99: Step limit reached for this job",
    "srun: my program's own message",
    "slurmstepd-node2: error: Detected 1 oom_kill event in StepId=4242.3.",
    "error: Node failure on node2",
])
def test_lines_about_other_jobs_or_nodes_and_unknown_lines_are_the_job_s_output(line):
    assert WORDS.own(line) is None


@pytest.mark.parametrize("said, returncode, ended", [
    (["srun: error: node2: task 0: Killed"], 137, (-signal.SIGKILL, None)),
    (["srun: error: node2: task 0: Terminated"], 143, (-signal.SIGTERM, None)),
    (["srun: error: node2: task 0: Segmentation fault (core dumped)"], 139,
     (-signal.SIGSEGV, None)),
    (["srun: error: node2: task 0: Exited with exit code 137"], 137, (137, None)),
    (["srun: error: node2: task 0: Killed"], 1, (1, None)),
    ([], 0, (0, None)),
    (["srun: error: Unable to create step for job 4242: Memory required by task is not "
      "available"], 1,
     (1, "srun: Memory required by task is not available")),
])
def test_a_task_killed_by_a_signal_ends_by_that_signal_and_a_refused_step_never_started(
        said, returncode, ended):
    assert WORDS.ended(returncode, said) == ended


class Listener:
    def __init__(self):
        self.heard = []

    def connection_ready(self, connection, was_down):
        self.heard.append(("ready", connection.host.hostname))

    def connection_lost(self, connection, reason, jobs_lost):
        self.heard.append(("lost", connection.host.hostname, reason, jobs_lost))

    def connection_failed(self, connection, reason, first):
        self.heard.append(("failed", connection.host.hostname, reason))


class StateLoop:
    """A loop that records what Connections runs to ask Slurm, and lets the
    test answer."""

    def __init__(self):
        self.environ: dict = {}
        self.asked: list = []

    def spawn(self, argv, on_stdout, on_stderr, on_exit, **_options):
        child = SimpleNamespace(argv=argv, returncode=None, signal=lambda signum: None)

        def answer(text, returncode=0):
            on_stdout(text)
            child.returncode = returncode
            on_exit(child)
        self.asked.append(answer)
        return child

    def call_later(self, delay, callback):
        return SimpleNamespace(cancel=lambda: None)


def _judged(inside):
    from pegasus.engine.connections import Connections

    subhosts = hosts(inside, "- slurm: current\n")
    transport.attach(subhosts, Settings())
    listener = Listener()
    loop = StateLoop()
    fake: Any = loop   # a Loop as far as the connections use one
    no_control: Any = None   # srun sub-hosts use no control directory
    connections = Connections(fake, subhosts, no_control, 1, listener)
    connections.start()                   # no connection to open: ready at once
    assert connections.is_ready(0) and connections.is_ready(1)
    return loop, connections, listener


def test_a_node_failure_is_host_lost_though_srun_exits_0_and_the_node_takes_no_more_jobs(
        inside):
    loop, connections, listener = _judged(inside)
    decided: list = []
    failure = ["srun: error: Node failure on gpu-a01"]
    connections.judge(0, 0, failure, decided.append)
    connections.judge(0, 0, failure, decided.append)   # its other job: one question
    assert len(loop.asked) == 1 and decided == []
    loop.asked[0]("JobId=4242 JobState=RUNNING NodeList=gpu-a[01-02],login1")   # --no-kill
    connections.judge(1, 0, [], decided.append)
    connections.judge(1, 1, ["srun: error: gpu-a02: task 0: Exited with exit code 1"],
                      decided.append)
    assert decided == [Reason.HOST_LOST, Reason.HOST_LOST, None, None]
    assert not connections.is_ready(0) and connections.is_ready(1)
    assert listener.heard[3:] == [
        ("lost", "gpu-a01", "node failure: Slurm took gpu-a01 out of job 4242", False)]


def test_a_step_killed_as_its_job_ends_is_cut_off_and_every_node_is_gone_at_once(inside):
    loop, connections, listener = _judged(inside)
    decided: list = []
    killed = ["srun: error: gpu-a01: task 0: Terminated"]
    connections.judge(0, -signal.SIGTERM, killed, decided.append)
    connections.judge(1, -signal.SIGTERM, [], decided.append)
    assert len(loop.asked) == 1 and decided == []
    loop.asked[0]("JobId=4242 JobState=CANCELLED NodeList=gpu-a[01-02],login1")
    assert decided == [Reason.ENDED, Reason.ENDED]
    assert not any(connections.is_ready(index) for index in range(3))
    assert [heard[1] for heard in listener.heard[3:]] == ["gpu-a01", "gpu-a02", "login1"]
    assert connections.why_over(2) == "job 4242 was cancelled"
    connections.judge(2, 0, [], decided.append)                   # ended by itself, first
    connections.judge(2, -signal.SIGKILL, [], decided.append)     # known now: no question
    assert decided[2:] == [None, Reason.ENDED] and len(loop.asked) == 1


def test_a_step_killed_while_its_job_runs_on_ended_by_that_signal(inside):
    loop, connections, _listener = _judged(inside)
    decided: list = []
    connections.judge(0, -signal.SIGKILL, ["srun: error: gpu-a01: task 0: Killed"],
                      decided.append)
    loop.asked[0]("JobId=4242 JobState=RUNNING NodeList=gpu-a[01-02],login1")
    assert decided == [None] and connections.is_ready(0)
    connections.judge(0, -signal.SIGKILL, [], decided.append)   # asked again: it may end now
    assert len(loop.asked) == 2


def test_a_step_refused_because_the_job_is_ending_needs_no_question(inside):
    loop, connections, _listener = _judged(inside)
    decided: list = []
    connections.judge(1, 1, ["srun: error: Unable to create step for job 4242: Job/step "
                             "already completing or completed"], decided.append)
    assert decided == [Reason.ENDED] and loop.asked == []
    assert not connections.is_ready(0) and connections.why_over(0) == "job 4242 is ending"
