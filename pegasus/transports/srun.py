"""A job as a Slurm step: the srun command line of a job, and what srun's
own messages mean. Which nodes an allocation holds is spec/allocation.py's.

A hosts.yaml entry `- slurm: current` (or `- slurm: JOBID`) stands for one
host per node of that job; its jobs run as steps of the job, one `srun`
each (transport.py, SrunTransport). Nothing here runs a job: the loop does.

`srun_argv` says why each option of a step is there; the comment on
stopping, below, why a job is stopped through the job wrapper and never by
signalling srun; `StepMessages` what srun's lines mean for the job and its
node. What is said here of srun's behaviour was measured with Slurm 22.05
(scripts/slurm_cluster.py runs one on this machine for the tests).
"""

from __future__ import annotations

import re
import signal
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..spec.allocation import SRUN, Node, job_fields, without_job

__all__ = ["GPU_SETUP", "SRUN", "STEPS_PER_NODE", "Node", "StepMessages", "srun_argv",
           "step_environment"]

# At most this many jobs run at once on one node, whatever its slots. A step
# costs about 14 MB (srun here about 8 MB on pegasus's machine, slurmstepd
# about 6 MB on the node), a call to slurmctld to start and one to end; a
# node takes more steps than this only by a typo in `slots`. Slurm also caps
# the steps of a job over its whole life (MaxStepCount, 40000 by default):
# past it no step starts any more (see `_JOB_REFUSED`), and the rest of the
# queue waits for a new allocation.
STEPS_PER_NODE = 128

# Stopping a job goes through the job wrapper's stdin, never by signalling
# srun. srun's own signal handling gives a job no grace period: SIGTERM or
# SIGHUP to srun kills the step at once (SIGKILL), and one SIGINT only makes
# it print the step's status. srun passes its stdin
# on to the task unbuffered, though, and the task is the job wrapper: the
# wrapper protocol's `t` line (SIGTERM to the job's process group, SIGKILL
# after the grace period) reaches it within milliseconds, as over ssh. And
# when pegasus dies, srun forwards the end of its stdin: the wrapper stops
# the job, the step ends, and srun exits with it (and srun killed outright
# cancels its step at once, without a grace period).

# Run by the wrapper's shell before the job, once slurmstepd has set the
# step's environment (an exported value would not survive: with GRES, Slurm
# sets CUDA_VISIBLE_DEVICES itself). $d is the job's slots, e.g. `0,1`:
# slot k is the k-th GPU Slurm gave the step on this node, or GPU k if Slurm
# named none. Every overlapping step is given the same GPUs, so without this
# all jobs on a node would share them.
GPU_SETUP = r"""if [ -n "$d" ]; then
IFS=,; set -f; v=
for i in $d; do x=$i; n=0
for y in ${CUDA_VISIBLE_DEVICES-}; do [ $n = $i ] && x=$y; n=$((n+1)); done
v=$v${v:+,}$x; done
unset IFS; set +f; export CUDA_VISIBLE_DEVICES="$v"
fi
"""


# --- the nodes of an allocation -------------------------------------------------


# --- a job as a step -------------------------------------------------------------

def srun_argv(job_id: str, node: str, wrapped: Sequence[str]) -> List[str]:
    """The srun command line that runs `wrapped` (the job wrapper's argv)
    as one step on `node`. Not given, on purpose: -l and -u (they change the
    output), -Q (it would silence the messages pegasus reads) and -X (srun's
    own Ctrl-C handling: pegasus never signals srun)."""
    return [SRUN,
            # Explicit, whatever SLURM_JOB_ID the environment holds.
            "--jobid=" + job_id,
            # Share the node's CPUs, memory and GPUs with the other steps
            # pegasus runs there: without it they wait for one another.
            "--overlap",
            # One task, on this node; its CPUs are the job's on the node.
            "-N1", "-n1", "-w", node,
            # The job's memory on the node, shared with the other steps
            # (--overlap), whatever SLURM_MEM_PER_CPU or SLURM_MEM_PER_NODE
            # the job's environment passes on: a step that asked for memory
            # of its own would wait until others give theirs back.
            "--mem=0",
            # What `squeue -s` calls the step.
            "--job-name=pegasus",
            "--", *wrapped]


def step_environment(environ: Mapping[str, str], node: Node) -> Dict[str, str]:
    """srun's environment: pegasus's own, less what would mislead it. The
    SLURM_* variables of the job pegasus runs in say nothing of another one
    (only SLURM_CONF, which names the cluster, stays); CUDA_VISIBLE_DEVICES
    goes when pegasus hands out the GPUs, so that in the step it is Slurm's
    own or nothing."""
    env = dict(environ) if node.current else without_job(environ)
    if node.gpus:
        env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


# --- what srun says ----------------------------------------------------------------

# Lines srun and slurmstepd print on the step's stderr that only tell what
# they are doing: kept out of the job's output, and nothing more.
_CHATTER = [
    r"srun: Job step aborted(?:: .*)?",
    r"srun: forcing job termination",
    r"srun: Force Terminated (?:StepId=|job step )\S+",
    r"srun: Job \d+ step creation temporarily disabled, retrying.*",
    r"srun: Job step creation still disabled, retrying.*",
    r"srun: Step created for (?:job|StepId=)\s?\S+",
    r"srun: interrupt \(one more within 1 sec to abort\)",
    r"srun: sending Ctrl-C to (?:StepId=|job )\S+",
    r"srun: (?:StepId=\S+ )?tasks? \S+: (?:running|exited|unknown).*",
    r"srun: Check SLURM_JOB_ID environment variable\. Expired or invalid job \d+",
    r"srun: error: Timed out waiting for job step to complete",
]
_CHATTER_RE = re.compile("|".join("(?:%s)" % p for p in _CHATTER))


def _signal_names() -> Dict[str, int]:
    """srun names a signal as strsignal() does: "Killed", "Terminated"..."""
    names = {}
    for number in sorted(signal.valid_signals(), reverse=True):
        name = signal.strsignal(number) if 0 < number < 65 else None
        if name:
            names[name] = int(number)
    return names


_SIGNALS = _signal_names()


class StepMessages:
    """srun's and slurmstepd's own lines for the steps of one node of one
    job: which they are, and what they mean for the job and for the node.

    Only lines naming this job or this node are taken, plus srun's known
    chatter. A job that itself runs srun (a nested step, on the same job)
    may see a few of its lines taken too: they mean the same for it."""

    def __init__(self, job_id: str, node: str):
        job, host = re.escape(job_id), re.escape(node)
        self.node = node
        self.job_id = job_id
        self._task = re.compile(r"srun: error: %s: task 0: (.+)" % host)
        self._failed = re.compile(r"srun: error: Node failure on %s" % host)
        # "... DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR DETAILS ***" too.
        self._stepd = re.compile(
            r"slurmstepd(?:-\S+)?: error: \*\*\* (?:STEP|JOB) %s(?:\.\S+)? ON \S+ "
            r"CANCELLED AT \S+(?: DUE TO ([^,*]+?)(?:,[^*]*)?)? \*\*\*" % job)
        self._refused = re.compile(
            r"srun: error: (?:Unable to create step for job|Unable to confirm allocation "
            r"for job) %s: (.+)" % job)
        self._expired = re.compile(r"srun: error: Slurm job %s has expired" % job)

    def own(self, line: str) -> Optional[str]:
        """`line` if srun or slurmstepd said it about this step, else None."""
        text = line.strip()
        if not text.startswith(("srun: ", "slurmstepd")):
            return None
        for pattern in (self._task, self._failed, self._stepd, self._refused,
                        self._expired, _CHATTER_RE):
            if pattern.fullmatch(text):
                return text
        return None

    def lost(self, said: Sequence[str]) -> Optional[str]:
        """Why this node is gone for this job (no step will run there any
        more), if srun's lines `said` tell; else None. (A node failure may
        also have ended the whole job: `state` tells.)"""
        return self._why(said, _NODE_CANCELLED, _NODE_REFUSED, node_failure=True)

    def over(self, said: Sequence[str]) -> Optional[str]:
        """Why the whole job is over -- no step will run on any of its
        nodes: its time limit, a preemption, its end, MaxStepCount -- if
        srun's lines `said` tell; else None."""
        for text in said:
            if self._expired.fullmatch(text):
                return "job %s has ended" % self.job_id
        return self._why(said, _JOB_CANCELLED, _JOB_REFUSED)

    def _why(self, said: Sequence[str], cancelled: Dict[str, str], refused: Dict[str, str],
             node_failure: bool = False) -> Optional[str]:
        names = {"node": self.node, "job": self.job_id}
        for text in said:
            if node_failure and self._failed.fullmatch(text):
                return "node failure: Slurm took %s out of job %s" % (self.node, self.job_id)
            match = self._stepd.fullmatch(text)
            if match and match.group(1) and match.group(1) in cancelled:
                return cancelled[match.group(1)] % names
            match = self._refused.fullmatch(text)
            if match and match.group(1).strip() in refused:
                return refused[match.group(1).strip()] % names
        return None

    def doubtful(self, returncode: Optional[int], said: Sequence[str]) -> bool:
        """Whether a step's end may be the end of its job rather than the
        command's: killed by a signal, or cancelled by Slurm (srun's lines;
        slurmstepd's may come too late, or never)."""
        if returncode is None or returncode < 0:
            return True
        return any(self._stepd.fullmatch(text) or text.startswith(_ABORTED) for text in said)

    def state_argv(self) -> List[str]:
        """The command that asks Slurm about the job: `state` reads it."""
        return ["scontrol", "show", "job", "-o", self.job_id]

    def state(self, lines: Sequence[str], returncode: Optional[int]) -> Optional[str]:
        """From what `state_argv` printed: why the job is over, or None if
        it still runs (or Slurm could not tell)."""
        text = "\n".join(lines)
        state = job_fields(text).get("JobState")
        if state is None:
            if "Invalid job id specified" in text:
                return "job %s has ended" % self.job_id
            return None   # no answer: nothing is known
        if state in _STILL_RUNNING:
            return None
        return _ENDED_AS.get(state, "job %(job)s is " + state.lower()) % {"job": self.job_id}

    def ended(self, returncode: Optional[int],
              said: Sequence[str]) -> Tuple[Optional[int], Optional[str]]:
        """The job's exit status as pegasus reads it (as in subprocess: -N
        for signal N), and why the step never started, if srun said so."""
        for text in said:
            match = self._task.fullmatch(text)
            if match:
                name = match.group(1).replace(" (core dumped)", "")
                number = _SIGNALS.get(name)
                if number is not None and returncode == 128 + number:
                    return -number, None
            match = self._refused.fullmatch(text)
            if match:
                return returncode, "srun: %s" % match.group(1).strip()
        return returncode, None


# What a cancelled step (slurmstepd's "... DUE TO X ***") or a step srun
# could not create ("Unable to create step for job J: X") says: the node is
# gone for the job, or the whole job is over. A node failure ends the whole
# job unless it was started with --no-kill: then only asking Slurm tells
# (`state`).
_NODE_CANCELLED = {
    "NODE FAILURE": "node failure: Slurm took %(node)s out of job %(job)s",
}
_JOB_CANCELLED = {
    "TIME LIMIT": "job %(job)s reached its time limit",
    "PREEMPTION": "job %(job)s was preempted",
}
_NODE_REFUSED = {
    "Requested node configuration is not available":
        "%(node)s is no longer part of job %(job)s",
}
_JOB_REFUSED = {
    "Step limit reached for this job":
        "job %(job)s has run as many steps as Slurm allows one job (MaxStepCount)",
    "Invalid job id specified": "job %(job)s is not running (it ended, or never was)",
    "Job/step already completing or completed": "job %(job)s is ending",
}
_ABORTED = "srun: Job step aborted"   # a cancelled step (the line may come cut short)

# Job states (scontrol's JobState) in which the job's steps may still run.
_STILL_RUNNING = frozenset(["RUNNING", "CONFIGURING", "SUSPENDED", "RESIZING", "SIGNALING",
                            "STAGE_OUT"])
_ENDED_AS = {
    "TIMEOUT": "job %(job)s reached its time limit",
    "NODE_FAIL": "job %(job)s ended: one of its nodes failed",
    "CANCELLED": "job %(job)s was cancelled",
    "PREEMPTED": "job %(job)s was preempted",
    "COMPLETING": "job %(job)s is ending",
    "COMPLETED": "job %(job)s has ended",
    "DEADLINE": "job %(job)s reached its deadline",
}
