#!/usr/bin/env python3
"""A private Slurm cluster on this machine, for integration tests.

One slurmctld and one `slurmd -N nodeK` per node, all at 127.0.0.1 on free ports,
all state (config, spool, logs, pid files) in a temporary directory. Clients reach it
through SLURM_CONF, never /etc/slurm. Debian 12's Slurm 22.05, run as root: auth/none
and cred/none (no munge), proctrack/cgroup so that ending a step kills all of it.

    with LocalSlurm(nodes=4) as slurm, slurm.allocate(2) as job:
        subprocess.run(["srun", "--jobid", job.job_id, "-N2", "hostname"], env=slurm.env())

Every node's `hostname` is this machine: placement shows in $SLURMD_NODENAME.

Run as a script, it starts one, prints the environment to use and waits for Ctrl-C
or SIGTERM:  python3 scripts/slurm_cluster.py --nodes 4
"""

import argparse
import fcntl
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from loopback_sshd import LOOPBACK, free_port
from procs import exists as _exists
from procs import freeze_tree as _freeze_tree
from procs import signal_all as _signal_all

START_TIMEOUT = 20.0    # seconds for every node to register and be idle
POLL_INTERVAL = 0.05    # seconds between `sinfo`/`squeue` calls while waiting
STOP_GRACE = 3.0        # seconds between SIGTERM and SIGKILL of our processes
CANCEL_TIMEOUT = 10.0   # seconds for cancelled jobs to leave the queue
BIND_ATTEMPTS = 5       # another process may take a free port before a daemon binds it
CGROUP = "/sys/fs/cgroup"
FREEZER = CGROUP + "/freezer"
CLIENTS = ("srun", "salloc", "sbatch", "scancel", "scontrol", "squeue", "sinfo")


class SlurmError(RuntimeError):
    """Slurm is missing, cannot run here, or did not start."""


def find_daemon(name):
    """slurmctld and slurmd live in /usr/sbin, which a user's PATH may lack."""
    found = shutil.which(name) or "/usr/sbin/" + name
    return os.path.abspath(found) if os.access(found, os.X_OK) else None


def unavailable():
    """Why no private cluster can run here, or None."""
    if os.getuid() != 0:
        return "a private Slurm cluster needs root (slurmd starts steps as their user)"
    missing = [n for n in ("slurmctld", "slurmd") if find_daemon(n) is None]
    missing += [n for n in CLIENTS if shutil.which(n) is None]
    if missing:
        return ("Slurm is not installed (no %s): as root, scripts/setup installs "
                "slurmctld, slurmd and slurm-client" % ", ".join(missing))
    return None


def cgroup_setup():
    """(proctrack plugin, cgroup.conf text or None, note or None) for this machine.

    proctrack/cgroup is the only plugin that kills every process of a step, even one
    that left the step's process group with setsid. It needs a writable freezer
    hierarchy (cgroup v1, also in hybrid layouts) or a writable cgroup v2 root.
    Elsewhere: proctrack/linuxproc, which misses such children."""
    with open("/proc/self/mounts") as f:
        types = {fields[1]: fields[2] for fields in (line.split() for line in f)}
    if types.get(FREEZER) == "cgroup" and _writable(FREEZER):
        return "proctrack/cgroup", "CgroupPlugin=cgroup/v1\nCgroupMountpoint=%s\n" % CGROUP, None
    if types.get(CGROUP) == "cgroup2" and _writable(CGROUP):
        # No systemd to delegate a scope in a container: slurmd makes its own.
        return ("proctrack/cgroup", "CgroupPlugin=cgroup/v2\nCgroupMountpoint=%s\n"
                "IgnoreSystemd=yes\n" % CGROUP, None)
    return ("proctrack/linuxproc", None,
            "no writable cgroup freezer (v1) or cgroup2 hierarchy under %s: using "
            "proctrack/linuxproc, which does not kill a step's setsid children" % CGROUP)


def _writable(path):
    probe = os.path.join(path, "pegasus-probe-%d" % os.getpid())
    try:
        os.mkdir(probe)
        os.rmdir(probe)
        return True
    except OSError:
        return False


class LocalSlurm:
    """slurmctld and `nodes` slurmd daemons on 127.0.0.1, stopped by PID."""

    def __init__(self, nodes=4, directory=None, cpus=8, memory_mb=1024, kill_wait=2):
        self._own_directory = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="pgslurm-", dir="/tmp")
        self.nodes = ["node%d" % i for i in range(1, nodes + 1)]
        self.cpus = cpus
        self.memory_mb = memory_mb
        # Seconds from SIGTERM to SIGKILL when Slurm ends a job (sites: often 30).
        self.kill_wait = kill_wait
        self.conf = os.path.join(self.directory, "slurm.conf")
        # Two clusters on one machine share the cgroup paths slurm_nodeK/uid_U/job_J:
        # job ids from a random multiple of 1000 keep their jobs apart.
        self.first_job_id = 1000 * random.randrange(1, 60000)
        self.proctrack, self._cgroup_conf, self.note = cgroup_setup()
        self.pids = {}              # "slurmctld", "node3"... -> PID
        self._processes = {}

    def _path(self, name):
        return os.path.join(self.directory, name)

    # -- what callers use ------------------------------------------------------------

    def env(self, base=None):
        """An environment for Slurm clients: SLURM_CONF names this cluster, and no
        SLURM_* variable of an outer job leaks in."""
        env = {k: v for k, v in (os.environ if base is None else base).items()
               if not k.startswith("SLURM_")}
        env["SLURM_CONF"] = self.conf
        return env

    def run(self, *argv, check=True, timeout=30):
        """Run a Slurm client against this cluster; its CompletedProcess (text)."""
        return subprocess.run(argv, env=self.env(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, check=check, timeout=timeout)

    def _rows(self, *argv, fields, check=True):
        result = self.run(*argv, check=check)
        if result.returncode != 0:
            return []
        return [tuple((line.split(None, fields - 1) + [""] * fields)[:fields])
                for line in result.stdout.splitlines() if line.strip()]

    def node_states(self, check=True):
        """{node: state} as sinfo says: idle, mixed, allocated, down..."""
        return dict(self._rows("sinfo", "-h", "-N", "-o", "%N %T", fields=2, check=check))

    def steps(self):
        """Every step in the queue as (step id "J.S", name, node list)."""
        return self._rows("squeue", "-h", "-s", "-o", "%i %j %N", fields=3)

    def jobs(self):
        """Every job in the queue as (job id, state, node list)."""
        return self._rows("squeue", "-h", "-o", "%i %T %N", fields=3)

    def set_down(self, node, reason="pegasus-test"):
        """Mark a node DOWN, as Slurm does a failed one; it stays down until resume()."""
        self.run("scontrol", "update", "nodename=" + node, "state=down", "reason=" + reason)

    def resume(self, node):
        """Bring a DOWN node back; wait until it takes jobs again."""
        self.run("scontrol", "update", "nodename=" + node, "state=resume")
        self._wait_until(lambda: self.node_states(False).get(node) == "idle",
                         CANCEL_TIMEOUT, "%s to be idle" % node)

    def allocate(self, nodes=2, no_kill=False, options=()):
        """A new job on `nodes` nodes that runs nothing yet (salloc --no-shell), as a
        user's allocation; release() it (stop() does too)."""
        argv = ["salloc", "--no-shell", "-N", str(nodes)] + ["--no-kill"] * no_kill
        result = self.run(*argv, *options, check=False)
        granted = re.search(r"Granted job allocation (\d+)", result.stderr)
        if granted is None:
            raise SlurmError("salloc failed (%d): %s" % (result.returncode, result.stderr))
        job = granted.group(1)
        return Allocation(self, job, self.run("squeue", "-h", "-j", job, "-o", "%N").stdout)

    # -- lifecycle -------------------------------------------------------------------

    def start(self):
        problem = unavailable()
        if problem:
            raise SlurmError(problem)
        for attempt in range(BIND_ATTEMPTS):
            self._write_files()
            try:
                return self._launch()
            except SlurmError as exc:
                self._stop_processes([])
                # A port taken meanwhile: try new ones. Anything else is for a person.
                if attempt == BIND_ATTEMPTS - 1 or "already in use" not in str(exc):
                    raise
        return self

    def running(self):
        """Whether slurmctld is up (a client run without it retries for long)."""
        controller = self._processes.get("slurmctld")
        return controller is not None and controller.poll() is None

    def stop(self):
        """Cancel every job, then end every process of the cluster by PID: the
        daemons, their children, and whatever still runs in our jobs' cgroups."""
        jobs = self._cancel_all() if self.running() else []
        self._stop_processes(jobs)
        self._remove_cgroups()
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- files -----------------------------------------------------------------------

    def _write_files(self):
        for sub in ["state"] + ["spool-" + node for node in self.nodes]:
            os.makedirs(self._path(sub), mode=0o700, exist_ok=True)
        for name, text in (("slurm.conf", self._slurm_conf()), ("cgroup.conf", self._cgroup_conf)):
            if text:
                with open(self._path(name), "w") as f:
                    f.write(text)

    def _slurm_conf(self):
        lines = [
            "ClusterName=pegasus",
            # slurmctld runs only on the host it is configured for; everyone reaches
            # it at the address in parentheses.
            "SlurmctldHost=%s(%s)" % (socket.gethostname().split(".")[0], LOOPBACK),
            "SlurmctldPort=%d" % free_port(),
            # slurmctld listens on 127.0.0.1 only. slurmd and srun listen on every
            # address but are only reached at 127.0.0.1 (with NoInAddrAny, srun would
            # bind the address of the machine's name, which need not be loopback).
            "CommunicationParameters=NoCtldInAddrAny",
            "AuthType=auth/none",       # 22.05 still has both: no munge, no key
            "CredType=cred/none",
            "SlurmUser=root",           # and SlurmdUser: root by default
            "StateSaveLocation=" + self._path("state"),
            "SlurmdSpoolDir=" + self._path("spool-%n"),     # %n: per node
            "SlurmctldPidFile=" + self._path("slurmctld.pid"),
            "SlurmdPidFile=" + self._path("slurmd-%n.pid"),
            "SlurmctldLogFile=" + self._path("slurmctld.log"),
            "SlurmdLogFile=" + self._path("slurmd-%n.log"),
            "ProctrackType=" + self.proctrack,
            "TaskPlugin=task/none",
            # Memory is consumable, as at most sites, so that tests meet what a step
            # that asks for memory meets there.
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "DefMemPerCPU=%d" % max(1, self.memory_mb // (4 * self.cpus)),
            "SchedulerType=sched/builtin",
            "MpiDefault=none",
            "JobAcctGatherType=jobacct_gather/none",
            # Our nodes have the CPUs and memory we say, not this machine's.
            "SlurmdParameters=config_overrides",
            "KillWait=%d" % self.kill_wait,
            # A node set DOWN by scontrol stays down until resume().
            "ReturnToService=1",
            "FirstJobId=%d" % self.first_job_id,
            "MailProg=/bin/true",
        ]
        for node in self.nodes:
            lines.append("NodeName=%s NodeHostname=localhost NodeAddr=%s Port=%d CPUs=%d "
                         "RealMemory=%d State=UNKNOWN"
                         % (node, LOOPBACK, free_port(), self.cpus, self.memory_mb))
        lines.append("PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP")
        return "\n".join(lines) + "\n"

    def log_text(self, name):
        """The end of a daemon's output: "slurmctld" or a node name."""
        path = self._path(name + ".out")
        try:
            with open(path, errors="replace") as f:
                return f.read().strip()[-3000:] or "(%s is empty)" % path
        except OSError as exc:
            return "(no log: %s)" % exc

    # -- the processes ---------------------------------------------------------------

    def _spawn(self, name, argv):
        with open(self._path(name + ".out"), "ab") as log:
            # Own session: a Ctrl-C meant for the test run does not reach the daemons.
            process = subprocess.Popen(argv + ["-D", "-f", self.conf], env=self.env(),
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       start_new_session=True)
        self._processes[name] = process
        self.pids[name] = process.pid

    def _launch(self):
        self._spawn("slurmctld", [find_daemon("slurmctld")])
        for node in self.nodes:
            self._spawn(node, [find_daemon("slurmd"), "-N", node])
        self._wait_until(lambda: all(self.node_states(False).get(node) == "idle"
                                     for node in self.nodes),
                         START_TIMEOUT, "every node to be idle")
        return self

    def _wait_until(self, done, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self._processes.items():
                if process.poll() is not None:
                    raise SlurmError("%s exited with status %s:\n%s"
                                     % (name, process.returncode, self.log_text(name)))
            if done():
                return
            time.sleep(POLL_INTERVAL)
        raise SlurmError("Slurm: no sign after %gs of %s (nodes: %s):\n%s"
                         % (timeout, what, self.node_states(False) or "no answer",
                            self.log_text("slurmctld")))

    def _cancel_all(self):
        """Cancel every job and wait until the queue is empty; their ids."""
        jobs = [job for job, _state, _nodes in self.jobs()]
        if jobs:
            self.run("scancel", *jobs, check=False)
            deadline = time.monotonic() + CANCEL_TIMEOUT
            while self.jobs() and time.monotonic() < deadline:
                time.sleep(POLL_INTERVAL)
        return jobs

    def _stop_processes(self, jobs):
        """SIGTERM, then SIGKILL after a grace period: the daemons, their descendants
        and every task in our jobs' cgroups (slurmd double-forks slurmstepd, so the
        steps are no descendants of it)."""
        pids = []
        for process in self._processes.values():
            if process.poll() is None:
                pids += [pid for pid in _freeze_tree(process.pid) if pid not in pids]
        stepping = [pid for pid in self._job_tasks(jobs) if pid not in pids]
        _signal_all(stepping, signal.SIGSTOP)
        pids += stepping
        _signal_all(pids, signal.SIGTERM)
        _signal_all(pids, signal.SIGCONT)       # frozen; now let them handle TERM
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline and self._alive(pids):
            time.sleep(0.01)
        _signal_all(self._alive(pids), signal.SIGKILL)
        for process in self._processes.values():
            process.wait()
        self._processes = {}
        self.pids = {}

    def _alive(self, pids):
        ours = {process.pid: process for process in self._processes.values()}
        return [p for p in pids if (ours[p].poll() is None if p in ours else _exists(p))]

    def _node_cgroups(self):
        """Our nodes' directories in the v1 freezer hierarchy, each before its children
        (with cgroup v2 there are none: stop() then relies on cancelling every job)."""
        return [root for node in self.nodes
                for root, _dirs, _files in os.walk(os.path.join(FREEZER, "slurm_" + node))]

    def _ours(self, part):
        """Whether a cgroup directory name is a job of this cluster: its ids
        start at first_job_id (another cluster on the machine has others)."""
        if not part.startswith("job_") or not part[4:].isdigit():
            return False
        return self.first_job_id <= int(part[4:]) < self.first_job_id + 1000

    def _job_tasks(self, jobs):
        """The tasks in the cgroups of `jobs`, and of every earlier job of
        this cluster: a step's slurmstepd may still be finishing after its
        allocation was released."""
        names = {"job_%s" % job for job in jobs}
        tasks = []
        for path in self._node_cgroups():
            parts = path.split(os.sep)
            if names.intersection(parts) or any(self._ours(part) for part in parts):
                try:
                    with open(os.path.join(path, "tasks")) as f:
                        tasks += [int(task) for task in f.read().split()]
                except OSError:
                    continue        # removed meanwhile
        return tasks

    def _remove_cgroups(self):
        """Remove our nodes' empty cgroup directories, holding the lock slurmstepd
        holds on the hierarchy's root while it makes or removes one; rmdir spares
        what another cluster on this machine still uses."""
        try:
            fd = os.open(FREEZER, os.O_RDONLY)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            for path in reversed(self._node_cgroups()):
                try:
                    os.rmdir(path)
                except OSError:
                    pass
        finally:
            os.close(fd)


class Allocation:
    """One job of a LocalSlurm: its id, its nodes, the environment inside it."""

    def __init__(self, cluster, job_id, nodelist):
        self.cluster = cluster
        self.job_id = job_id
        self.nodelist = nodelist.strip()        # as Slurm writes it: node[1-2,4]
        self.nodes = cluster.run("scontrol", "show", "hostnames", self.nodelist).stdout.split()

    def env(self, base=None):
        """The variables a program started by salloc finds about its allocation."""
        env = self.cluster.env(base)
        env.update(SLURM_JOB_ID=self.job_id, SLURM_JOBID=self.job_id,
                   SLURM_JOB_NODELIST=self.nodelist, SLURM_NODELIST=self.nodelist,
                   SLURM_JOB_NUM_NODES=str(len(self.nodes)), SLURM_NNODES=str(len(self.nodes)))
        return env

    def release(self):
        """Cancel the job and every step in it; wait until it has left the queue."""
        if not self.cluster.running():
            return
        self.cluster.run("scancel", self.job_id, check=False)
        deadline = time.monotonic() + CANCEL_TIMEOUT
        while time.monotonic() < deadline and any(
                job == self.job_id for job, _state, _nodes in self.cluster.jobs()):
            time.sleep(POLL_INTERVAL)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=4, help="number of nodes (4)")
    parser.add_argument("--directory", help="where its state goes (a new /tmp dir)")
    args = parser.parse_args(argv)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    # SIGINT too: started with `&` by a script, it inherits SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    slurm = LocalSlurm(args.nodes, args.directory)
    try:
        slurm.start()
        print("export SLURM_CONF=%s" % slurm.conf, flush=True)
        sys.stderr.write("Slurm up: %s, %s, pids %s%s\ntry: SLURM_CONF=%s salloc -N 2 srun "
                         "printenv SLURMD_NODENAME\nCtrl-C stops it.\n"
                         % (" ".join(slurm.nodes), slurm.proctrack, slurm.pids,
                            "\nnote: " + slurm.note if slurm.note else "", slurm.conf))
        sys.stderr.write("slurmctld exited with status %d\n"
                         % slurm._processes["slurmctld"].wait())
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        slurm.stop()


if __name__ == "__main__":
    sys.exit(main())
