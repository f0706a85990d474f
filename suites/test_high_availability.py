"""High availability on the real cluster: connections across nodes live through a restart of
the Cilium agent at either end, no denied cell connects while an agent is away, and new
connections resume (the longest gap is measured, printed and kept in results.json); another
operator leads when the leader goes; a paused node that carried a LoadBalancer address is
given up by the router and the address answers through the other nodes within the budget."""

from __future__ import annotations

import pytest

from netconform.checks.lbipam import Allocated

pytestmark = [pytest.mark.requires("policies"), pytest.mark.xdist_group("cluster-policy")]


def test_connections_and_policies_live_through_agent_restarts(
    agent_restarts, with_policies, capsys: pytest.CaptureFixture[str], record_property
) -> None:
    outcome = agent_restarts.restart_both_ends()
    record_property("agent_restart", outcome.figure)
    with capsys.disabled():
        print(f"\n{outcome.figure}")
    assert outcome.held.ok, outcome.held
    assert outcome.disruption.ok, outcome.disruption
    assert outcome.recovered.ok, f"the matrix after the restarts: {outcome.recovered}"


@pytest.mark.requires("operator_failover", "lb_ipam")
def test_another_operator_leads_and_allocates_after_the_leader_goes(
    spec, operators, lb_bench, capsys: pytest.CaptureFixture[str], record_property
) -> None:
    failover = operators.fail_over()
    record_property("operator_failover", str(failover))
    with capsys.disabled():
        print(f"\n{failover}")
    budget = spec.high_availability.failover_budget
    assert failover.seconds <= budget, f"{failover}: over the budget of {budget:g} s"
    pool = spec.lb_ipam.pools[0] if spec.lb_ipam.pools else None
    if pool is None:
        return
    backend = lb_bench.backend
    service = backend.service("after-failover", labels=pool.service_selector or {})
    try:
        verdict = backend.verdict(Allocated(service, pool=pool.name))
        assert verdict.ok, f"LB IPAM after the failover: {verdict}"
    finally:
        backend.delete_service(service)


@pytest.mark.requires("node_loss", "bgp", "lb_ipam")
def test_a_lost_node_is_given_up_and_its_lb_address_answers_through_the_others(
    node_loss, capsys: pytest.CaptureFixture[str], record_property
) -> None:
    outcome = node_loss.lose_the_node_in_use()
    record_property("node_loss", outcome.figure)
    with capsys.disabled():
        print(f"\n{outcome.figure}")
    assert outcome.lost.ok, f"the router kept the lost node: {outcome.lost}"
    assert outcome.disruption.ok, outcome.disruption
    assert outcome.back.ok, f"after the node returned: {outcome.back}"
