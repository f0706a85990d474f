"""Gateway controller failover: with two Cilium operators behind leader election, killing the
leader (what deleting its pod does) hands the lease to the other, which then reconciles a
route created after the failover into Envoy configuration."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from netconform import gateway
from netconform.offline.gobuild import binary_path
from tests.controlplane import harness
from tests.controlplane.conftest import BINARIES, CRDS
from tests.controlplane.test_gateway import (
    SETTLE,
    SPEC,
    another_route,
    gateway_class_installed,
    spec_gateway,
    translated,
    wait_programmed,
)


@pytest.fixture(scope="module")
def two_operators() -> Iterator[harness.ControlPlane]:
    binaries = {name: binary_path(name) for name in BINARIES}
    with harness.control_plane(binaries, CRDS / "gateway-api", operator_replicas=2) as made:
        yield made


def test_a_route_made_after_the_leader_dies_is_reconciled_by_the_other(
    two_operators: harness.ControlPlane,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kube = two_operators.kube()
    (leader,) = [op for op in two_operators.operators if op.leading()]
    (standby,) = [op for op in two_operators.operators if op is not leader]
    with (
        gateway_class_installed(kube),
        spec_gateway(kube, tmp_path_factory.mktemp("certs")) as (layout, rendered),
    ):
        wait_programmed(kube, layout)
        leader.process.kill()
        killed = time.monotonic()
        deadline = killed + SETTLE
        while not standby.leading():
            assert time.monotonic() < deadline, f"no new leader {SETTLE} s after the leader died"
            time.sleep(0.5)
        took = time.monotonic() - killed
        web = next(m for m in rendered if m["kind"] == "HTTPRoute")
        path = {"path": {"type": "PathPrefix", "value": "/after-failover"}}
        rule = {**web["spec"]["rules"][0], "matches": [path]}
        another_route(kube, rendered, "after-failover", rule, "Accepted", "True")
        declared = [
            replace(route, name="after-failover", path="/after-failover")
            for route in gateway.declared_routes(SPEC, layout)
            if route.name == web["metadata"]["name"]
        ]
        verdict = translated(kube, layout, declared)
        assert verdict.ok, str(verdict)
    with capsys.disabled():
        print(f"\ngateway controller failover: a new leader {took:.1f} s after the leader died")
