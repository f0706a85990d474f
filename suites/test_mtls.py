"""Mutual authentication: the flows `mutual_auth.required_for` names connect only between
authenticated peers. Cilium offers it, SPIRE has attested every node, the applied policies
require it on those flows and the flows work; in Cilium's test-always-fail mode the same
flows drop, and Hubble gives the authentication as the reason (not the policy)."""

from __future__ import annotations

import pytest
from netconform.fixtures.mutual_auth import spire_ready
from netconform.fixtures.policy import ReachabilitySuite

from netconform.checks.mutual_auth import check_auth_offered
from netconform.matrix import AUTH_DROP, of_flows
from netconform.policy_run import PolicyRun
from netconform.spec import Architecture
from netconform.spire import Spire
from netconform.timeouts import Timeouts

pytestmark = [pytest.mark.requires("mutual_auth"), pytest.mark.xdist_group("cluster-policy")]


def test_cilium_offers_mutual_authentication(spec: Architecture, spire: Spire) -> None:
    verdict = check_auth_offered(spire.cilium_config(), spec.mutual_auth.required_for)
    assert verdict.ok, str(verdict)


def test_spire_can_authenticate_on_every_node(
    spire: Spire, policy_run: PolicyRun, timeouts: Timeouts
) -> None:
    verdict = spire_ready(spire, policy_run, timeouts)
    assert verdict.ok, str(verdict)


def test_the_required_flows_are_authenticated_and_connect(
    spec: Architecture, with_policies: PolicyRun, reachability: ReachabilitySuite
) -> None:
    missing = with_policies.unauthenticated()
    assert not missing, "\n".join(missing)
    reachability.expect_matrix_from_spec().only(
        of_flows(spec, spec.mutual_auth.required_for)
    ).assert_converges()


def test_failing_authentication_drops_the_required_flows_for_that_reason(
    spec: Architecture, always_failing: PolicyRun, reachability: ReachabilitySuite
) -> None:
    assertion = reachability.expect_matrix_from_spec().only(
        of_flows(spec, spec.mutual_auth.required_for)
    )
    assertion.expecting(AUTH_DROP).assert_converges()
