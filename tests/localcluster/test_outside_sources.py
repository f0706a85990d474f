"""Flows from outside the app groups on real Cilium: a client beside kind (its own container,
routed to the pods through the nodes) and another node (a host-network pod on the control
plane) reach exactly what the spec lets them, through the reference policies; and removing
the client's flow, or letting the world in, fails naming those cells.

Runs on the suites' own cluster and probe workloads:
`pytest tests/localcluster/test_outside_sources.py --images=local`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from netconform import clients, workloads
from netconform.convergence import Convergence
from netconform.engine import ReachabilityEngine
from netconform.matrix import ALLOWED, ExpectedMatrix, expected_matrix, restrict
from netconform.policy_run import PolicyRun
from netconform.spec import Architecture, parse
from netconform.timeouts import Timeouts
from netconform.verdict import Verdict
from netconform.versions import load_versions, router_image

ONE_ROUND = Convergence(timeout=0, consistent_rounds=1)
LAPTOP = "laptop"


def with_outside_sources(spec: Architecture, flows: list[dict[str, object]]) -> Architecture:
    data = yaml.safe_load(Path(spec.file).read_text())
    data.setdefault("clients", {})[LAPTOP] = {"cidr": "198.18.10.100/32"}
    data["policy"]["flows"] += flows
    return parse(yaml.safe_dump(data))


FLOWS: list[dict[str, object]] = [
    {"name": "laptop-web", "from": LAPTOP, "to": "frontend", "ports": ["8080/TCP"],
     "environments": ["prod"]},
    {"name": "nodes-scrape", "from": "remote-node", "to": "monitoring", "ports": ["9090/TCP"]},
]  # fmt: skip


@pytest.fixture(scope="module")
def outside_run(
    policy_run: PolicyRun, spec: Architecture, timeouts: Timeouts
) -> Iterator[PolicyRun]:
    """The suites' workloads seen by a spec with a client and another node as sources."""
    variant = with_outside_sources(spec, FLOWS)
    run = PolicyRun(
        policy_run.target,
        variant,
        policy_run.layout,
        policy_run.image,
        policy_run.externals,
        clients=dict(policy_run.clients),
    )
    started: dict[str, clients.Client] = {}
    try:
        started = run.start_clients(router_image(load_versions()), None)
        run.deploy()
        run.wait_ready(timeouts.workloads_ready)
        yield run
    finally:
        run.remove_policies()
        clients.stop(started.values())
        run.kube.delete_namespace(run.layout.namespace(workloads.NODES), wait=False)


def outside_cells(arch: Architecture, engine: ReachabilityEngine) -> ExpectedMatrix:
    expected = expected_matrix(arch)
    kept = [c for c in expected.cells if c.source.name in (LAPTOP, "remote-node")]
    return engine.prober.probed(restrict(expected, kept))


def judge(run: PolicyRun, arch: Architecture, timeouts: Timeouts) -> tuple[ExpectedMatrix, Verdict]:
    """Reference policies rendered from `arch` applied and seen to take effect, then the cells
    held to `run`'s spec in one round."""
    run.remove_policies()
    run.apply_policies(run.reference_policies(arch))
    prober = run.prober(2.0, timeouts.exec_slack)
    applied = ReachabilityEngine(prober, Convergence(timeouts.convergence, 2))
    took_effect = applied.check(outside_cells(arch, applied))
    assert took_effect.ok, f"the policies applied never held:\n{took_effect}"
    engine = ReachabilityEngine(prober, ONE_ROUND)
    matrix = outside_cells(run.arch, engine)
    return matrix, engine.check(matrix)


def test_a_client_and_another_node_reach_what_the_spec_lets_them(
    outside_run: PolicyRun, timeouts: Timeouts
) -> None:
    matrix, verdict = judge(outside_run, outside_run.arch, timeouts)
    sources = {c.source.name for c in matrix.cells}
    assert sources == {LAPTOP, "remote-node"}, sources
    allowed = sorted(str(c) for c, e in matrix.cells.items() if e == ALLOWED)
    assert allowed == [
        f"{LAPTOP} -> prod/frontend 8080/TCP",
        "remote-node -> ops/monitoring 9090/TCP",
    ]
    assert verdict.ok, str(verdict)


def test_a_client_let_into_every_environment_leaks_the_cells_it_should_not_reach(
    outside_run: PolicyRun, spec: Architecture, timeouts: Timeouts
) -> None:
    everywhere = [{**FLOWS[0], "environments": None}, FLOWS[1]]
    _, verdict = judge(outside_run, with_outside_sources(spec, everywhere), timeouts)
    assert_only_wrong(verdict, f"{LAPTOP} -> staging/frontend 8080/TCP", "connected")


def test_without_the_clients_flow_its_cells_are_named_dropped(
    outside_run: PolicyRun, spec: Architecture, timeouts: Timeouts
) -> None:
    without = with_outside_sources(spec, FLOWS[1:])
    _, verdict = judge(outside_run, without, timeouts)
    assert_only_wrong(verdict, f"{LAPTOP} -> prod/frontend 8080/TCP", "dropped")


def assert_only_wrong(verdict: Verdict, cell: str, got: str) -> None:
    wrong = [line for line in verdict.evidence.splitlines() if line.startswith("! wrong:")]
    assert not verdict.ok
    assert [line.split(" expected")[0] for line in wrong] == [f"! wrong: {cell}"], verdict.evidence
    assert f"got {got}" in wrong[0]
