"""pegasus inside a Slurm allocation, on the private cluster of the test
harness (scripts/slurm_cluster.py): hosts from the allocation, every job an
srun step on its node. Every node is this machine; a job tells where it ran
by $SLURMD_NODENAME."""

import collections
import os
import re
import shlex
import signal

import psutil
import pytest
from helpers.runpegasus import Workspace, environment, pegasus_argv, wait_for
from test_queue_mode import TORTURE, _heredoc

TIMEOUT = 60   # seconds; a safety net, not a synchronisation


@pytest.fixture
def work(tmp_path):
    return Workspace(tmp_path)


def inside(job, **extra):
    """pegasus's environment inside the allocation, as salloc gives it."""
    return job.env(environment(**extra))


def our_steps(slurm, job):
    return [step for step in slurm.steps() if step[0].startswith(job.job_id + ".")]


def stepds_of(job):
    """The slurmstepd processes of the job's steps (named `slurmstepd: [J.S]`)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        words = process.info["cmdline"] or []
        if words[:1] == ["slurmstepd:"] and words[1:2] and \
                words[1].startswith("[%s." % job.job_id):
            found.append(process.pid)
    return alive(found)


def children_named(pid, name, recursive=True):
    try:
        return [p for p in psutil.Process(pid).children(recursive=recursive)
                if p.name() == name]
    except psutil.Error:
        return []


def alive(pids):
    return [pid for pid in pids if psutil.pid_exists(pid)
            and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


def test_a_20_job_queue_runs_once_each_spread_over_both_nodes(slurm, slurm_allocation, work):
    job = slurm_allocation(2)
    log = work.file("ran.log")
    work.hosts("- slurm: current\n")
    work.queue("- command: echo {{ n }} $SLURMD_NODENAME $SLURM_JOB_ID >> %s\n  n: [%s]\n"
               % (log, ", ".join(str(n) for n in range(20))))
    result = work.run("q", env=inside(job), timeout=TIMEOUT * 3)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in work.read("ran.log").splitlines()]
    assert sorted(int(n) for n, _node, _job in rows) == list(range(20))
    assert {node for _n, node, _job in rows} == set(job.nodes)
    assert {job_id for _n, _node, job_id in rows} == {job.job_id}
    assert "srun" not in result.stdout + result.stderr   # srun's lines are not output
    assert our_steps(slurm, job) == []


def test_commands_reach_the_node_byte_exact(slurm_allocation, work):
    from pegasus.spec.jobs import Job

    job = slurm_allocation(2)
    work.hosts("- slurm: current\n")
    payloads = TORTURE + ["\n".join(TORTURE), "x" * 100 * 1024]
    jobs = [Job(_heredoc(payload, work.file("out%d" % i))) for i, payload in enumerate(payloads)]
    jobs.append(Job("-x 2>/dev/null; echo $? > %s" % work.file("dash")))
    jobs.append(Job("printf '%%s\\n' \"a'b\" 'c\"d' > %s" % work.file("printf")))
    work.queue("".join(job.canonical() for job in jobs))
    result = work.run("q", env=inside(job), timeout=TIMEOUT * 2)
    assert result.returncode == 0, result.stderr
    for i, payload in enumerate(payloads):
        with open(work.file("out%d" % i), "rb") as stream:
            assert stream.read() == (payload + "\n").encode("utf-8"), "payload %d" % i
    assert work.read("dash").strip() == "127"
    assert work.read("printf") == "a'b\nc\"d\n"


# Each job holds the GPUs it sees (a directory per node and GPU: mkdir fails
# for one already held), checks that they are its {{ slots }}, and waits
# until `count` jobs hold theirs at once: they can only all finish if pegasus
# ran them side by side on the nodes' slots.
HOLD = """\
- command: |
    for i in $(echo "$CUDA_VISIBLE_DEVICES" | tr , ' '); do
      mkdir {held}/$SLURMD_NODENAME-$i || exit 9
    done
    [ "$CUDA_VISIBLE_DEVICES" = "{{{{ slots }}}}" ] || exit 8
    echo "$SLURMD_NODENAME {{{{ slots }}}}" >> {log}
    touch {marks}/{{{{ n }}}}
    for t in $(seq 600); do [ $(ls {marks} | wc -l) -ge {count} ] && break; sleep 0.05; done
    for i in $(echo "$CUDA_VISIBLE_DEVICES" | tr , ' '); do rmdir {held}/$SLURMD_NODENAME-$i; done
  slots: {slots}
  n: [{names}]
"""


def test_slots_and_cuda_visible_devices_agree_and_no_gpu_is_held_twice(slurm_allocation,
                                                                       work):
    job = slurm_allocation(2)
    held, marks, log = work.file("held"), work.file("marks"), work.file("log")
    os.mkdir(held)
    os.mkdir(marks)
    work.hosts("- slurm: current\n  slots: 4\n")
    # Four two-GPU jobs fill both nodes; then eight one-GPU jobs, four at once.
    work.queue(HOLD.format(held=held, marks=marks, log=log, count=4, slots=2,
                           names="a, b, c, d")
               + HOLD.format(held=held, marks=marks, log=log, count=12, slots=1,
                             names=", ".join("x%d" % i for i in range(8))))
    result = work.run("q", env=inside(job, CUDA_VISIBLE_DEVICES="7"), timeout=TIMEOUT * 3)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [tuple(line.split()) for line in work.read("log").splitlines()]
    assert len(rows) == 12 and {node for node, _slots in rows} == set(job.nodes)
    twos = collections.Counter(slots for _node, slots in rows if "," in slots)
    assert twos == {"0,1": 2, "2,3": 2}          # each node: both halves at once
    assert os.listdir(held) == []


def test_a_failing_command_exits_1_and_the_summary_names_node_and_status(slurm_allocation,
                                                                          work):
    job = slurm_allocation(2)
    work.hosts("- slurm: current\n")
    work.queue("- 'true'\n- exit 7\n- kill -9 $$\n- echo fine\n")
    result = work.run("q", "--joblog", "jobs.tsv", env=inside(job), timeout=TIMEOUT)
    assert result.returncode == 1
    assert "2 of 4 jobs failed" in result.stderr
    # The report: a group per ending, then each run by #seq and node.
    lines = result.stderr.splitlines()
    head = lines.index("pegasus:   1 failed with exit 7:")
    assert lines[head + 1].split()[2] in job.nodes, result.stderr
    rows = {row.split("\t")[8]: row.split("\t") for row in work.read("jobs.tsv").splitlines()}
    assert rows["exit 7"][6:8] == ["7", "0"]
    assert rows["kill -9 $$"][6:8] == ["137", "0"]   # the job's own status, as over ssh
    assert "srun:" not in result.stderr


def _start_long_jobs(work, job, count, tag):
    """pegasus running `count` jobs that wait; their PIDs (the job's shell
    and its sleep) come back once all have started."""
    pids = work.file("pids")
    work.hosts("- slurm: current\n  slots: %d\n" % (count // len(job.nodes)))
    # The wrapper signals the job's group and its leader: one line per job.
    work.queue("- command: trap 'trap \"\" TERM; echo term >> %s; exit 1' TERM; sleep %s &"
               " echo $$ $! >> %s; wait\n  n: [%s]\n" % (work.file("terms"), tag, pids,
                                       ", ".join(str(i) for i in range(count))))
    process = work.start("q", env=inside(job))
    wait_for(lambda: work.exists("pids") and len(work.read("pids").splitlines()) == count,
             timeout=TIMEOUT)
    assert len(children_named(process.pid, "srun", recursive=False)) == count
    sruns = [p.pid for p in children_named(process.pid, "srun")]   # and their helpers
    job_pids = [int(pid) for line in work.read("pids").splitlines() for pid in line.split()]
    return process, sruns, job_pids


def test_ctrl_c_stops_every_step_gracefully_and_leaves_nothing(slurm, slurm_allocation, work):
    job = slurm_allocation(2)
    process, sruns, job_pids = _start_long_jobs(work, job, 4, "4%d" % os.getpid())
    assert len(our_steps(slurm, job)) == 4
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, err
    assert work.read("terms").split() == ["term"] * 4    # SIGTERM reached every job
    assert alive(sruns) == [] and alive(job_pids) == []
    assert our_steps(slurm, job) == []
    wait_for(lambda: not stepds_of(job), timeout=15)   # Slurm's side of the steps too
    assert "put back 4 cancelled jobs" in err
    assert "srun" not in out


def test_when_pegasus_is_killed_no_srun_and_no_step_outlives_it(slurm, slurm_allocation, work):
    job = slurm_allocation(2)
    process, sruns, job_pids = _start_long_jobs(work, job, 2, "5%d" % os.getpid())
    process.kill()
    process.communicate(timeout=TIMEOUT)
    wait_for(lambda: not alive(sruns) and not alive(job_pids) and not our_steps(slurm, job)
             and not stepds_of(job), timeout=15)


def test_a_node_set_down_mid_job_is_host_lost_and_the_other_node_carries_on(
        slurm, slurm_allocation, work):
    job = slurm_allocation(2, no_kill=True)
    kept, lost = job.nodes
    marks, log = work.file("m"), work.file("log")
    os.mkdir(marks)
    work.hosts("- slurm: current\n")
    # The first job goes to the first node and waits for the test's go; the
    # second runs on the other until that node fails; the rest come after.
    work.queue("- while [ ! -e {m}/go ]; do sleep 0.05; done; "
               "echo first $SLURMD_NODENAME >> {log}\n"
               "- touch {m}/started; exec sleep 300\n"
               "- command: echo after {{{{ n }}}} $SLURMD_NODENAME >> {log}\n  n: [1, 2, 3]\n"
               .format(m=marks, log=log))
    with open(work.file("stderr"), "w") as stderr:
        process = work.start("q", env=inside(job), stderr=stderr)
    try:
        wait_for(lambda: os.path.exists(os.path.join(marks, "started")), timeout=TIMEOUT)
        slurm.set_down(lost)
        wait_for(lambda: "[%s] connection lost: node failure" % lost in work.read("stderr"),
                 timeout=TIMEOUT)
        open(os.path.join(marks, "go"), "w").close()
        process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        slurm.resume(lost)
    err = work.read("stderr")
    assert process.returncode == 1, err
    assert sorted(work.read("log").splitlines()) == [
        "after 1 " + kept, "after 2 " + kept, "after 3 " + kept, "first " + kept]
    lines = err.splitlines()
    head = lines.index("pegasus:   1 failed with host lost:")
    row = lines[head + 1].split()
    assert row[2] == lost and "exec sleep 300" in lines[head + 1], err
    assert "1 of 5 jobs failed" in err


def _cut_off_by_the_end_of_the_allocation(slurm, job, work, end, *args):
    """Four long jobs run on the allocation's two nodes, two more wait in
    the queue; `end()` ends the allocation. pegasus's stderr comes back."""
    from pegasus.spec.validate import validate_text
    marks = work.file("m")
    os.mkdir(marks)
    work.hosts("- slurm: current\n  slots: 2\n")
    work.queue("- command: touch %s/{{ n }}; exec sleep 300\n  n: [1, 2, 3, 4, 5, 6]\n" % marks)
    with open(work.file("stderr"), "w") as stderr:
        process = work.start("q", "--joblog", "jobs.tsv", *args, env=inside(job),
                             stderr=stderr)
    try:
        wait_for(lambda: len(os.listdir(marks)) == 4, timeout=TIMEOUT)
        end()
        out, _ = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    err = work.read("stderr")
    assert process.returncode == 1, out + err
    # Cut off, not failed: every job is back in the queue, none recorded as
    # a failure, none run again on a node of the ending job.
    queued = [entry.params["n"] for entry in validate_text(work.read("queue.yaml"),
                                                           "queue.yaml")]
    assert sorted(queued) == ["1", "2", "3", "4", "5", "6"], out + err
    assert sorted(os.listdir(marks)) == ["1", "2", "3", "4"]
    assert out.count("CUT OFF: allocation ended: job %s " % job.job_id) == 4, out
    assert "FAILED" not in out and "failed:" not in err
    assert "what is left in queue.yaml was not run" in err
    wait_for(lambda: not our_steps(slurm, job), timeout=15)
    return err


@pytest.mark.parametrize("retries", ["0", "1"])
def test_jobs_cut_off_by_a_cancelled_allocation_go_back_to_the_queue(slurm, slurm_allocation,
                                                                     work, retries):
    job = slurm_allocation(2)
    err = _cut_off_by_the_end_of_the_allocation(
        slurm, job, work, lambda: slurm.run("scancel", job.job_id), "--retries", retries)
    assert "job %s was cancelled" % job.job_id in err or "is ending" in err, err


def test_a_node_failure_that_ends_the_allocation_cuts_off_every_node_s_jobs(
        slurm, slurm_allocation, work):
    job = slurm_allocation(2)      # without --no-kill: Slurm ends the whole job
    failed = job.nodes[1]
    try:
        _cut_off_by_the_end_of_the_allocation(slurm, job, work,
                                              lambda: slurm.set_down(failed), "--retries", "1")
    finally:
        slurm.resume(failed)


def test_a_batch_job_ended_without_a_signal_beforehand_loses_no_job(slurm, work):
    # The allocation's end reaches pegasus (SIGTERM, the batch script being
    # pegasus itself) and its steps at once; no --signal=B:TERM@N.
    from pegasus.spec.validate import validate_text
    marks = work.file("m")
    os.mkdir(marks)
    work.queue("- command: touch %s/{{ n }}; exec sleep 300\n  n: [1, 2, 3, 4, 5, 6]\n" % marks)
    script = work.write("batch.sh", "#!/bin/sh\ncd %s\nexec %s q --slurm --joblog jobs.tsv\n"
                        % (shlex.quote(work.path), " ".join(map(shlex.quote, pegasus_argv()))))
    os.chmod(script, 0o755)
    submitted = slurm.run("sbatch", "-N", "2", "--ntasks-per-node", "2", "-o",
                          work.file("out"), "-e", work.file("err"), script)
    granted = re.search(r"\d+", submitted.stdout)
    assert granted, submitted.stdout + submitted.stderr
    job_id = granted.group(0)
    try:
        wait_for(lambda: len(os.listdir(marks)) == 2, timeout=TIMEOUT)
    finally:
        slurm.run("scancel", job_id, check=False)
        wait_for(lambda: all(job != job_id for job, _state, _nodes in slurm.jobs()),
                 timeout=TIMEOUT)
    out, err = work.read("out"), work.read("err")
    queued = [entry.params["n"] for entry in validate_text(work.read("queue.yaml"),
                                                           "queue.yaml")]
    assert sorted(queued) == ["1", "2", "3", "4", "5", "6"], out + err
    assert "FAILED" not in out and "failed:" not in err


def test_broadcast_runs_each_job_on_every_node_in_lockstep(slurm_allocation, work):
    job = slurm_allocation(2)
    log = work.file("log")
    step = "echo start {n} $SLURMD_NODENAME >> %s; sleep 0.2; echo end {n} >> %s" % (log, log)
    result = work.run("b", "--slurm", "--", *[step.format(n=n) for n in range(3)],
                      env=inside(job), timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    lines = work.read("log").splitlines()
    assert len(lines) == 12
    previous: list = []
    for n in range(3):
        starts = [i for i, line in enumerate(lines) if line.startswith("start %d " % n)]
        ends = [i for i, line in enumerate(lines) if line == "end %d" % n]
        assert sorted(lines[i].split()[2] for i in starts) == sorted(job.nodes)
        if previous:
            assert min(starts) > max(previous), lines     # lockstep
        previous = ends


def test_another_job_s_nodes_by_its_id_whatever_the_environment_says(slurm_allocation, work):
    job = slurm_allocation(2)
    other = slurm_allocation(1)
    log = work.file("log")
    work.hosts("- slurm: %s\n" % job.job_id)
    work.queue("- command: echo $SLURM_JOB_ID $SLURMD_NODENAME >> %s\n  n: [1, 2, 3, 4]\n"
               % log)
    # pegasus runs inside the other job, whose GPUs per task this one does not
    # have: they must not leak into its steps (srun would refuse them all).
    env = other.env(environment())
    env["SLURM_GPUS_PER_TASK"] = "1"
    result = work.run("q", env=env, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    rows = {tuple(line.split()) for line in work.read("log").splitlines()}
    assert rows == {(job.job_id, node) for node in job.nodes}


def test_no_such_job_or_slurm_current_outside_an_allocation_exits_2_with_file_and_line(
        slurm, work):
    work.hosts("- node-1\n- slurm: current\n")
    work.queue("- 'true'\n")
    outside = slurm.env(environment())
    result = work.run("q", env=outside, timeout=TIMEOUT)
    assert result.returncode == 2
    assert "hosts.yaml:2: slurm: pegasus runs outside any Slurm allocation" in result.stderr
    work.hosts("- slurm: 999999999\n")
    result = work.run("q", env=outside, timeout=TIMEOUT)
    assert result.returncode == 2
    assert "hosts.yaml:1: slurm: no Slurm job 999999999" in result.stderr
    assert work.read("queue.yaml") == "- 'true'\n"   # nothing was consumed
