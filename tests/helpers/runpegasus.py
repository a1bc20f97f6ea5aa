"""Running the real `pegasus` command in a scratch directory, for the
integration tests: the `pegasus` of a wheel built from this checkout and installed
into a fresh venv (tests/helpers/installed.py), as users install it."""

import os
import subprocess
import time

import psutil
import yaml
from helpers.installed import installed

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pegasus_argv():
    """The `pegasus` command of the installed wheel."""
    return [installed().pegasus]


def environment(**extra):
    """The environment of a `pegasus` run: no PYTHONPATH, which would put a source
    tree before the wheel's own modules; no colors."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


class Workspace:
    """A directory with hosts.yaml and queue.yaml, and the ssh config."""

    def __init__(self, path, ssh_config=None):
        self.path = str(path)
        self.ssh_config = ssh_config

    def file(self, name):
        return os.path.join(self.path, name)

    def write(self, name, text):
        with open(self.file(name), "w", encoding="utf-8") as stream:
            stream.write(text)
        return self.file(name)

    def read(self, name):
        with open(self.file(name), encoding="utf-8") as stream:
            return stream.read()

    def exists(self, name):
        return os.path.exists(self.file(name))

    def hosts(self, text):
        return self.write("hosts.yaml", text)

    def queue(self, text, settled=True):
        """Write queue.yaml. `settled`: dated a few seconds back, as a file
        written a while before the run, whose last entry has settled
        (queuefile/settle.py): the run does not wait out the settle time for
        it. The tests of entries written in pieces write theirs as writers do."""
        path = self.write("queue.yaml", text)
        if settled:
            then = time.time() - 5
            os.utime(path, (then, then))
        return path

    def consumed(self):
        """The jobs of consumed.yaml, as pegasus itself reads them."""
        from pegasus.spec.yamlfile import compose, entries
        text = self.read("consumed.yaml")
        return [
            {key: value.items[0] for key, value in entry.values.items()}
            for entry in entries(compose(text, "consumed.yaml"), "consumed.yaml", "command")
        ]

    def argv(self, mode, *args):
        argv = pegasus_argv() + [mode]
        if self.ssh_config and mode not in ("l", "lock", "status"):
            argv += ["--ssh-config", self.ssh_config]
        return argv + list(args)

    def run(self, mode="q", *args, timeout=120, env=None, input=None):
        return subprocess.run(self.argv(mode, *args), cwd=self.path, env=env or environment(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, input=input, check=False)

    def start(self, mode="q", *args, env=None, **popen):
        popen.setdefault("stdout", subprocess.PIPE)
        popen.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(mode, *args), cwd=self.path,
                                env=env or environment(), text=True, **popen)


def connected(work):
    """How many sub-hosts the queue's one runner has connected, as its
    journal says (`pegasus status`)."""
    import json
    result = work.run("status", "--json")
    runners = json.loads(result.stdout)["runners"] if result.returncode == 0 else []
    return (runners[0]["connected"] or 0) if runners else 0


def wait_for(predicate, timeout=30.0, interval=0.02):
    """Wait until `predicate()` is true; a safety net, not a timing claim."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met within %s s" % timeout)


def load_yaml(text):
    return yaml.safe_load(text)


def sleepers(tag):
    """The `sleep TAG` processes of a test, wherever they run (not the shells
    that mention it)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if (process.info["cmdline"] or [])[-2:] == ["sleep", tag]:
                found.append(process)
        except psutil.Error:
            continue
    return found


def far_and_near(tmp_path, sshd, second_sshd):
    """A workspace whose hosts.yaml is `far-1` (a second sshd of its own, which a
    test may stop to lose the host) and `node-1` (the usual sshd)."""
    far = second_sshd(aliases=1)
    config = tmp_path / "ssh_config"
    config.write_text(open(far.config).read() + "\n" + open(sshd.config).read())
    work = Workspace(tmp_path, str(config))
    work.hosts("- far-1\n- node-1\n")
    return far, work
