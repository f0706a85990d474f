"""Mutual authentication: the flows `mutual_auth.required_for` names connect only between
authenticated peers. Cilium offers it, SPIRE has attested every node, the applied policies
require it on those flows and the flows work; in Cilium's test-always-fail mode the same
flows drop, and Hubble gives the authentication as the reason (not the policy)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixtures.policy import ReachabilitySuite
from netconform.checks.mutual_auth import check_auth_offered, check_ready
from netconform.checks.policy_analyzer import ALWAYS_FAIL
from netconform.convergence import Convergence, converge
from netconform.matrix import AUTH_DROP, of_flows
from netconform.policy_analysis import predictions, unauthenticated
from netconform.policy_run import PolicyRun
from netconform.spec import Architecture
from netconform.spire import Spire
from netconform.timeouts import Timeouts

pytestmark = [pytest.mark.mutual_auth, pytest.mark.xdist_group("cluster-policy")]


def test_cilium_offers_mutual_authentication(spec: Architecture, spire: Spire) -> None:
    verdict = check_auth_offered(spire.cilium_config(), spec.mutual_auth.required_for)
    assert verdict.ok, str(verdict)


def test_spire_can_authenticate_on_every_node(
    spire: Spire, policy_run: PolicyRun, timeouts: Timeouts
) -> None:
    """Every node attested, the chart's entries and one per workload identity, every Cilium
    agent holding its delegate stream."""
    namespaces = [policy_run.layout.namespace(env) for env in policy_run.arch.environments]
    history = converge(
        lambda: check_ready(spire.state(spire.identities(namespaces))),
        lambda verdict: verdict.ok,
        Convergence(timeouts.spire, consistent_rounds=1, interval=timeouts.poll),
    ).history
    assert history[-1].ok, str(history[-1])


def test_the_required_flows_are_authenticated_and_connect(
    spec: Architecture, with_policies: PolicyRun, reachability: ReachabilitySuite
) -> None:
    missing = unauthenticated(
        spec, predictions(spec, with_policies.applied_policies, with_policies.layout)
    )
    assert not missing, "\n".join(missing)
    reachability.expect_matrix_from_spec().only(
        of_flows(spec, spec.mutual_auth.required_for)
    ).assert_converges()


@pytest.fixture
def always_failing(policy_run: PolicyRun, without_policies: PolicyRun) -> Iterator[PolicyRun]:
    """The policies under test with every required authentication always failing."""
    policy_run.apply_policies(policy_run.policy_manifests(authentication=ALWAYS_FAIL))
    yield policy_run
    policy_run.remove_policies()


def test_failing_authentication_drops_the_required_flows_for_that_reason(
    spec: Architecture, always_failing: PolicyRun, reachability: ReachabilitySuite
) -> None:
    assertion = reachability.expect_matrix_from_spec().only(
        of_flows(spec, spec.mutual_auth.required_for)
    )
    assertion.expecting(AUTH_DROP).assert_converges()
