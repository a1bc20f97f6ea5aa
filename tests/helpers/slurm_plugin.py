"""pytest plugin: a real Slurm cluster on 127.0.0.1 (scripts/slurm_cluster.py).

Register it with `pytest_plugins = ["helpers.slurm_plugin"]` in conftest.py, or run
`pytest -p slurm_plugin` with tests/ on sys.path.

- `slurm`: one LocalSlurm of four nodes (node1..node4) for the whole session, stopped
  at its end. Clients need `env=slurm.env()` (it sets SLURM_CONF). It skips, with the
  reason, only where Slurm is not installed or we are not root; a cluster that fails
  to start is an error.
- `slurm_allocation`: allocate(nodes=2, no_kill=False, options=()) -> Allocation, a
  job holding nodes as `salloc --no-shell` would, released after the test.
"""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts"))

from slurm_cluster import LocalSlurm, unavailable  # noqa: E402


@pytest.fixture(scope="session")
def slurm():
    problem = unavailable()
    if problem:
        pytest.skip(problem)
    cluster = LocalSlurm(nodes=4)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def slurm_allocation(slurm):
    held = []

    def allocate(nodes=2, no_kill=False, options=()):
        allocation = slurm.allocate(nodes, no_kill=no_kill, options=options)
        held.append(allocation)
        return allocation

    yield allocate
    for allocation in held:
        allocation.release()
