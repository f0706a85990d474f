"""Tests of kind on this machine (marker `localcluster`, `make test-local`): the engine, a
cluster's lifecycle, pod exec and broken policies caught on real Cilium. They need the
engine and the images `make local-images` builds; CI runs them, so there a missing engine
stops the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fixtures.prerequisites import skip_or_stop

ENGINE_TESTS = "test_engine.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    # The engine tests stop the engine and remove every container, clusters included: they
    # run before anything that keeps a cluster for the session.
    items.sort(key=lambda item: Path(str(item.fspath)).name != ENGINE_TESTS)
    ours = [item for item in items if here in Path(str(item.fspath)).parents]
    for item in ours:
        item.add_marker(pytest.mark.localcluster)
    if not shutil.which("dockerd"):
        reason = "Debian's Docker engine is missing: run make docker-up (installs it as root)"
        skip_or_stop(ours, "the local-cluster tests", reason)
