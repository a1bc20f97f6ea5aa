"""Shared fixtures: a real sshd on 127.0.0.1 (scripts/loopback_sshd.py) and the
environment for running the `pegasus` command."""

import os
import signal
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))

from loopback_sshd import LoopbackSshd, find_sshd  # noqa: E402

# The private Slurm cluster's fixtures (slurm, slurm_allocation).
pytest_plugins = ["helpers.slurm_plugin"]

# A test that uses one of these needs a service beyond Python (a private sshd, tmux,
# Slurm): it is an integration test. The others are unit tests, which
# `scripts/test --all-pythons` runs under the oldest and the newest Python found
# (`--every-python`: each from 3.9 on), with `-m "not integration"`.
INTEGRATION_FIXTURES = frozenset({"sshd", "second_sshd", "slurm", "tmux"})


def pytest_configure(config):
    # A suite started in the background of a script (scripts/test runs the
    # integration tests so) has SIGINT ignored, and every process it starts
    # would inherit that: Ctrl-C could not reach the pegasus, demo or watcher
    # a test stops with it. They are started as from a user's shell instead.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    config.addinivalue_line(
        "markers", "integration: needs a private sshd, tmux or Slurm (set automatically "
                   "for the tests that use their fixtures)")
    config.addinivalue_line(
        "markers", "remote_shell: tests what runs in the remote shell (the job wrapper, "
                   "sh under each login shell), where Python's version plays no part: "
                   "`scripts/test --all-pythons` leaves them to the main run")


def pytest_collection_modifyitems(config, items):
    """Mark with `integration` every test that uses an integration fixture, directly
    or through another fixture. A module that sets `pytestmark =
    pytest.mark.integration` has its tests marked already."""
    for item in items:
        if INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def _require_sshd():
    if find_sshd() is None:
        pytest.skip("sshd not found (PATH, /usr/sbin): install openssh-server, "
                    "as scripts/test does")


@pytest.fixture(scope="session")
def sshd():
    """One private sshd for the whole run; ssh -F sshd.config node-1..node-8."""
    _require_sshd()
    server = LoopbackSshd(None, aliases=8)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def second_sshd():
    """Factory: second_sshd(aliases=2, alias_prefix="far-") starts another private
    sshd, which the test may stop (server.stop() or by server.pid) to lose a host.
    Whatever is still running is stopped after the test."""
    _require_sshd()
    started = []

    def start(aliases=2, alias_prefix="far-", **options):
        server = LoopbackSshd(None, aliases=aliases, alias_prefix=alias_prefix, **options)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
