"""The mutual authentication checks bite on real Cilium and SPIRE: a drop for the wrong
reason fails with Hubble's reason, and a required flow whose policy lost its
`authentication` still connects, so only the policies' check can tell, and it does; a SPIRE
server that lost its entries is named, collected in the bundle and restored.
Runs on the suites' own cluster: `pytest tests/localcluster/test_mtls_mutations.py
--images=local`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from netconform.fixtures.policy import ReachabilitySuite

from netconform.bundle import collect
from netconform.checks.mutual_auth import SpireState, check_ready
from netconform.checks.policy_analyzer import ALWAYS_FAIL
from netconform.convergence import Convergence, converge
from netconform.engine import ReachabilityEngine
from netconform.matrix import POLICY_DROP, ExpectedMatrix, of_flows
from netconform.podexec import PodExec
from netconform.policy_run import PolicyRun
from netconform.spec import Architecture, MutualAuth
from netconform.spire import INIT_CONTAINER, SERVER_POD, Spire
from netconform.timeouts import Timeouts
from netconform.verdict import Verdict

# A wrong expectation shows at once; the default convergence would wait out its timeout.
BROKEN = Convergence(timeout=30, consistent_rounds=2)


def applied(policy_run: PolicyRun, arch: Architecture, authentication: str) -> None:
    policy_run.remove_policies()
    policy_run.apply_policies(policy_run.reference_policies(arch, authentication))


@pytest.fixture
def required(
    spec: Architecture, policy_run: PolicyRun, reachability: ReachabilitySuite
) -> Iterator[ExpectedMatrix]:
    """The required flows' cells as the suite probes them; the policies removed after."""
    flows = of_flows(spec, spec.mutual_auth.required_for)
    yield reachability.expect_matrix_from_spec().only(flows).matrix
    policy_run.remove_policies()


def judge(reachability: ReachabilitySuite, matrix: ExpectedMatrix) -> Verdict:
    engine = reachability.engine
    broken = ReachabilityEngine(engine.prober, BROKEN, engine.evidence, engine.drop_reasons)
    return broken.check(matrix)


def test_an_auth_drop_judged_as_a_policy_drop_fails_with_hubbles_reason(
    spec: Architecture,
    policy_run: PolicyRun,
    reachability: ReachabilitySuite,
    required: ExpectedMatrix,
) -> None:
    applied(policy_run, spec, ALWAYS_FAIL)
    verdict = judge(reachability, ExpectedMatrix(dict.fromkeys(required.cells, POLICY_DROP)))
    assert not verdict.ok
    wrong = [line for line in verdict.evidence.splitlines() if line.startswith("! ")]
    assert len(wrong) == len(required.cells), verdict
    assert all(
        line.endswith("expected a POLICY_DENIED drop; Hubble's newest drop: AUTH_REQUIRED")
        for line in wrong
    ), verdict


def test_a_required_flow_that_lost_its_authentication_connects_and_is_reported(
    spec: Architecture,
    policy_run: PolicyRun,
    reachability: ReachabilitySuite,
    required: ExpectedMatrix,
) -> None:
    applied(policy_run, spec.model_copy(update={"mutual_auth": MutualAuth()}), "required")
    assert judge(reachability, required).ok  # the probes alone cannot tell
    missing = policy_run.unauthenticated()
    assert {line.split(":")[0] for line in missing} == {
        f"{env}/backend -> {env}/db 5432/TCP" for env in ("prod", "staging")
    }


def test_a_spire_server_that_lost_its_entries_is_named_and_restored(
    spec: Architecture,
    policy_run: PolicyRun,
    reachability: ReachabilitySuite,
    required: ExpectedMatrix,
    timeouts: Timeouts,
    tmp_path: Path,
) -> None:
    """What failed cold CI runs: the server's container restarted (its liveness probe, while it
    made its CA on a loaded node) after the chart's side container had found it, so its entries
    were gone for good and every delegate stream ended in "no identity issued"."""
    spire = Spire(policy_run.kube)
    side = PodExec(policy_run.kube.core(), spire.namespace(), SERVER_POD, INIT_CONTAINER)
    assert side.run(["sh", "-c", "kill $(pgrep spire-server)"]).rc == 0
    lost = converge(
        spire.state, SpireState.lost_entries, Convergence(timeouts.spire, 1, timeouts.poll)
    ).history[-1]
    verdict = check_ready(lost)
    assert not verdict.ok and "after the chart's entry-making container" in verdict.summary
    assert "! no registration entry for the Cilium agents (their delegate identity) " in (
        verdict.evidence
    )
    bundle = {p.name for p in collect(policy_run.kube, tmp_path)}
    assert {"entry-show.json", "spire-server-0-cilium-init.log", "policies.txt", "auth.txt"} <= (
        bundle
    )
    applied(policy_run, spec, "required")
    policy_run.wait_mutual_auth(timeouts)
    assert reachability.engine.check(required).ok


@pytest.fixture(autouse=True)
def _only_on_a_cluster_the_suite_made(pytestconfig: pytest.Config) -> None:
    if pytestconfig.getoption("cluster") != "kind":
        pytest.skip("applies deliberately broken policies: only on a kind cluster the suite made")
