"""Tests of kind on this machine (marker `localcluster`, `make test-local`): the engine, a
cluster's lifecycle, pod exec and broken policies caught on real Cilium. They need the
engine and the images `make local-images` builds; CI runs them, so there a missing engine
stops the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from netconform.fixtures.prerequisites import skip_or_stop

ENGINE_TESTS = "test_engine.py"
# Makes and deletes a cluster of its own: before the session's cluster is up, the two never
# boot side by side (kind gives a node 30 s to reach systemd's multi-user target).
LIFECYCLE_TESTS = "test_cluster.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    # The engine tests stop the engine and remove every container, clusters included: they
    # run before anything that keeps a cluster for the session, then the lifecycle tests.
    first = (ENGINE_TESTS, LIFECYCLE_TESTS)
    items.sort(
        key=lambda item: (
            first.index(name) if (name := Path(str(item.fspath)).name) in first else len(first)
        )
    )
    ours = [item for item in items if here in Path(str(item.fspath)).parents]
    for item in ours:
        item.add_marker(pytest.mark.localcluster)
    if not shutil.which("dockerd"):
        reason = "Debian's Docker engine is missing: run make docker-up (installs it as root)"
        skip_or_stop(ours, "the local-cluster tests", reason)
