"""L7 policy: on a flow with HTTP rules, Cilium's proxy lets each declared request through to
the destination and answers any other 403 (a verdict distinct from a drop), while the L3 part
of the policies still holds. Both fail-open cases seen with Cilium are caught: a proxy that
is off (`l7Proxy=false` drops the whole rule, its L3 part included, while the policy still
says valid) and a proxy that passes what the rule should stop. On the local-images path it
skips before anything is applied: no Envoy can be built there, and an L7 policy without one
leaves its endpoint regenerating and later policies unenforced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from netconform.fixtures.policy import ReachabilitySuite

from netconform.convergence import Convergence, converge
from netconform.matrix import workload_endpoints
from netconform.policy_run import PolicyRun
from netconform.spec import WILDCARD, Architecture, Flow
from netconform.timeouts import Timeouts

pytestmark = [pytest.mark.requires("l7"), pytest.mark.xdist_group("cluster-policy")]


@pytest.fixture
def l7_policies(spec: Architecture, policy_run: PolicyRun) -> Iterator[list[Flow]]:
    flows = [flow for flow in spec.policy.flows if flow.http]
    policy_run.remove_policies()
    policy_run.apply_policies(policy_run.reference_policies(l7=True))
    yield flows
    policy_run.remove_policies()


def test_declared_requests_pass_and_any_other_gets_403(
    spec: Architecture,
    l7_policies: list[Flow],
    reachability: ReachabilitySuite,
    timeouts: Timeouts,
) -> None:
    endpoints = workload_endpoints(spec)
    for flow in l7_policies:
        pairs = [
            (source, destination)
            for source in endpoints
            for destination in endpoints
            if flow.from_ in (WILDCARD, source.group)
            and destination.group == flow.to
            and source.environment == destination.environment
        ]
        assert pairs, f"flow {flow.name} has no pair of workloads to probe"
        for source, destination in pairs:
            history = converge(
                lambda f=flow, s=source, d=destination: reachability.http_verdict(
                    f, s, d, timeouts.exec_slack
                ),
                lambda verdict: verdict.ok,
                Convergence(timeouts.convergence, timeouts.consistent_rounds),
            ).history
            assert history[-1].ok, f"{flow.name} {source} -> {destination}\n{history[-1]}"


def test_the_l3_part_still_holds_under_l7_rules(
    l7_policies: list[Flow], reachability: ReachabilitySuite
) -> None:
    reachability.expect_matrix_from_spec().assert_converges()
