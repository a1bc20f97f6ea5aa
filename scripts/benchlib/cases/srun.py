"""(i) pegasus inside a Slurm allocation: the same 200 `true` jobs over the same 4
nodes, launched as srun steps and over ssh (`launcher: ssh`), on a private Slurm
cluster (scripts/slurm_cluster.py)."""

import os
import subprocess
import time
from typing import Any, Dict, List

from slurm_cluster import LocalSlurm, unavailable

from benchlib.core import Bench, CaseError, Skip, Timed, run_process, tail, verify_queue_run
from benchlib.registry import Target, case, measured

JOBS = 200
NODES = 4


class Allocation:
    """One private cluster and a job holding all its nodes, made at the first run
    and stopped when the benchmark ends. Its node names, node1..node4, are also
    aliases of the private sshd: over ssh as under srun, every node is this
    machine at 127.0.0.1."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.env: Dict[str, str] = {}
        self.job: Any = None

    def environment(self) -> Dict[str, str]:
        if self.job is None:
            cluster = LocalSlurm(nodes=NODES)
            self.bench.at_end(cluster.stop)
            self.bench.progress("(i) starting a private Slurm cluster of %d nodes" % NODES)
            cluster.start()
            self.job = cluster.allocate(NODES)
            for node in self.job.nodes:
                self.bench.sshd.add_alias(node)
            _, base = self.bench.pegasus_command()
            self.env = self.job.env(base)
        return self.env


def run_once(bench: Bench, allocation: Allocation, launcher: str) -> float:
    env = allocation.environment()
    directory = bench.workdir("slurm-" + launcher)
    queue = os.path.join(directory, "queue.yaml")
    hosts = os.path.join(directory, "hosts.yaml")
    with open(queue, "w") as f:
        f.write("- true\n" * JOBS)
    with open(hosts, "w") as f:
        f.write("- slurm: current\n" + ("  launcher: ssh\n" if launcher == "ssh" else ""))
    prefix, _ = bench.pegasus_command()
    errors = os.path.join(directory, "stderr")
    with open(errors, "wb") as log:
        start = time.monotonic()
        status = run_process(prefix + ["q", "--ssh-config", bench.config, "-p", "0",
                                       "-Q", queue, "-H", hosts],
                             env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=log, cwd=directory)
        seconds = time.monotonic() - start
    if status != 0:
        raise CaseError("pegasus q (%s) exited with status %d:\n%s"
                        % (launcher, status, tail(errors)))
    verify_queue_run(directory, queue, JOBS)
    return seconds


def srun_targets(rows: List[Any]) -> List[Target]:
    seconds, _ = measured(rows)
    if "i" not in seconds or "i2" not in seconds:
        return []
    return [("(i) srun/ssh", "%.2fx" % (seconds["i"] / seconds["i2"]),
             "(none: what a step costs)", None)]


@case("i", "srun", "(i) srun vs ssh", targets=srun_targets)
def case_srun(bench: Bench) -> List[Timed]:
    """`pegasus q` inside a Slurm allocation: 200 `true` jobs over its 4 nodes, each
    an srun step, beside the same hosts reached over ssh (`launcher: ssh`; the node
    names are aliases of the private sshd, so both reach 127.0.0.1); wall time,
    including starting Python (and, over ssh, connecting)."""
    problem = unavailable()
    if problem:
        raise Skip(problem)
    allocation = Allocation(bench)
    return [
        Timed("i", "(i) pegasus q, %d jobs, %d nodes, srun steps" % (JOBS, NODES),
              lambda: run_once(bench, allocation, "srun"), JOBS),
        Timed("i2", "(i) the same nodes over ssh", lambda: run_once(bench, allocation, "ssh"),
              JOBS),
    ]
