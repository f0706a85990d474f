"""The `control_plane` fixture: a real kube-apiserver (+ controller manager, + Cilium operator).

The binaries are built by `make controlplane` into a cache outside the repo.
Without them these tests skip saying so; in CI (CI=true) that is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from netconform.fixtures.prerequisites import skip_or_stop

from netconform.kube import Kube
from netconform.offline.gobuild import binary_path
from tests.controlplane import harness

ROOT = Path(__file__).resolve().parents[2]
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "cilium-operator-generic")
CRDS = Path(os.environ.get("NETCONFORM_CRDS", ROOT.parent / "shared" / "crds"))


def unavailable() -> str | None:
    missing = [name for name in BINARIES if not binary_path(name).exists()]
    if missing:
        return f"control plane not built ({', '.join(missing)}): run make controlplane"
    if not (CRDS / "gateway-api").is_dir():
        return f"upstream CRDs not found at {CRDS}: set NETCONFORM_CRDS"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    ours = [item for item in items if here in Path(str(item.fspath)).parents]
    for item in ours:
        item.add_marker(pytest.mark.controlplane)
    reason = unavailable() if ours else None
    if not reason:
        return
    skip_or_stop(ours, "the control-plane tests", reason)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[harness.ControlPlane]:
    binaries = {name: binary_path(name) for name in BINARIES}
    with harness.control_plane(binaries, CRDS / "gateway-api") as made:
        yield made


@pytest.fixture(scope="session")
def kube(control_plane: harness.ControlPlane) -> Kube:
    return control_plane.kube()
