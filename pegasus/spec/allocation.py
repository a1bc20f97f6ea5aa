"""Which nodes a Slurm allocation holds: a hosts.yaml entry `- slurm:
current` (or `- slurm: JOBID`), or `--slurm`, stands for one host per node
of that job. Read from the job's environment (SLURM_JOB_NODELIST) inside
it, else asked of `scontrol show job` once, as the hosts are loaded. How a
job runs on such a node (srun) is transports/srun.py's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

from . import nodeset

SRUN = "srun"
LAUNCHERS = ("srun", "ssh")

SCONTROL_TIMEOUT = 30   # seconds; a controller that does not answer is an error

class AllocationError(ValueError):
    """The nodes of an allocation cannot be known; `hint` says what to do."""

    def __init__(self, message: str, hint: Optional[str] = None):
        super().__init__(message)
        self.hint = hint

@dataclass(frozen=True)
class Node:
    """What a sub-host from an allocation carries besides its node name."""

    job_id: str
    launcher: str = SRUN     # or "ssh": the host entry said `launcher: ssh`
    current: bool = True     # the allocation pegasus runs inside
    gpus: bool = False       # pegasus sets CUDA_VISIBLE_DEVICES from the slots

def expand_nodelist(text: str) -> List[str]:
    """`node[1-2,4],gpu-a[01-02]` -> every node name, in Slurm's order."""
    return nodeset.expand_list(text)

def nodes_of(value: str, environ: Optional[Mapping[str, str]] = None,
             launcher: str = SRUN) -> Tuple[str, List[str], bool]:
    """`current` or a job id -> (job id, its nodes, whether it is the job
    pegasus runs inside)."""
    environ = os.environ if environ is None else environ
    own = environ.get("SLURM_JOB_ID") or environ.get("SLURM_JOBID")
    if value == "current" and not own:
        raise AllocationError(
            "pegasus runs outside any Slurm allocation (no SLURM_JOB_ID): there is no "
            "current one to take the nodes of",
            "run pegasus inside salloc or an sbatch script, or give the job's id")
    if value != "current" and not (value.isascii() and value.isdigit()):
        raise AllocationError("'%s' is neither 'current' nor a job id" % value,
                              "e.g. current inside salloc, or a job id such as 12345")
    if launcher == SRUN and shutil.which(SRUN, path=environ.get("PATH")) is None:
        raise AllocationError("srun is not on PATH", "run pegasus where Slurm's clients are "
                              "installed, or say 'launcher: ssh' to reach the nodes by ssh")
    job_id = value if value != "current" else own or ""
    listed = environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_NODELIST")
    if job_id == own and listed:
        return job_id, _expand(listed, job_id), True
    return job_id, _scontrol_nodes(job_id, environ), job_id == own

def _expand(listed: str, job_id: str) -> List[str]:
    try:
        nodes = expand_nodelist(listed)
    except nodeset.RangeError as exc:
        raise AllocationError("the node list of job %s, '%s': %s" % (job_id, listed, exc)) \
            from None
    if not nodes:
        raise AllocationError("job %s holds no node" % job_id)
    return nodes

def _scontrol_nodes(job_id: str, environ: Mapping[str, str]) -> List[str]:
    """The nodes of a running job, as `scontrol show job -o` lists them."""
    try:
        result = subprocess.run(["scontrol", "show", "job", "-o", job_id],
                                env=without_job(environ), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, timeout=SCONTROL_TIMEOUT,
                                check=False)
    except OSError as exc:
        raise AllocationError("cannot run scontrol to find the nodes of job %s: %s"
                              % (job_id, exc.strerror),
                              "run pegasus where Slurm's clients are installed") from None
    except subprocess.TimeoutExpired:
        raise AllocationError("scontrol gave no answer about job %s within %d s"
                              % (job_id, SCONTROL_TIMEOUT)) from None
    fields = job_fields(result.stdout)
    if result.returncode != 0 or "JobState" not in fields:
        said = (result.stderr.strip() or result.stdout.strip()).split("\n")[0]
        raise AllocationError("no Slurm job %s: %s" % (job_id, said or "scontrol failed"),
                              "squeue --me lists your jobs")
    state = fields["JobState"]
    if state != "RUNNING":
        raise AllocationError("Slurm job %s is %s, not running: it holds no nodes now"
                              % (job_id, state), "squeue --me lists your jobs")
    return _expand(fields.get("NodeList", ""), job_id)

_FIELD = re.compile(r"(?:^|\s)(JobState|NodeList)=(\S*)")

def job_fields(text: str) -> Dict[str, str]:
    """JobState and NodeList from one `scontrol show job -o` line (other
    fields may hold spaces: only these two are read)."""
    return dict(_FIELD.findall(text.split("\n")[0]))

def without_job(environ: Mapping[str, str]) -> Dict[str, str]:
    """`environ` less the SLURM_* variables of the job pegasus runs in (but
    SLURM_CONF, which names the cluster)."""
    return {key: value for key, value in environ.items()
            if not key.startswith("SLURM_") or key == "SLURM_CONF"}
