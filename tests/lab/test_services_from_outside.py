"""The outside view of a Service's node port on real packets (lab/service_lab.py): the ways in
the spec declares answer from the right pods, keep the client's address where they must, and
a node without a pod or a port no Service holds stays closed. Each mutation of one node's
translation fails naming that node and what it did."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.service_lab import (
    BALANCER,
    CLIENT,
    CLOSED_PORT,
    NODE_PORT,
    POD_PORT,
    PODS,
    ServiceLab,
    service_lab,
)
from netconform.checks.services import check_exposed
from netconform.exposure import Exposed, closed, probe_entries
from netconform.spec import GroupService
from netconform.verdict import Verdict

pytestmark = pytest.mark.lab

SERVICE = "prod/frontend"
LOCAL = GroupService(type="NodePort", external_traffic_policy="Local")
CLUSTER = GroupService(type="NodePort", external_traffic_policy="Cluster")


@pytest.fixture(scope="module")
def lab() -> Iterator[ServiceLab]:
    with service_lab() as made:
        yield made


def _judged(lab: ServiceLab, declared: GroupService, allowed: bool = True) -> Verdict:
    exposed = Exposed(
        SERVICE, declared, {POD_PORT: NODE_PORT}, frozenset({POD_PORT} if allowed else ())
    )
    entries = exposed.through_nodes(lab.node_addresses, lab.pods_by_node)
    entries += closed(lab.node_addresses, CLOSED_PORT)
    tries, reproduce = probe_entries(lab.site, entries, timeout=1.0, slack=10)
    return check_exposed(CLIENT, tries, reproduce)


def test_local_answers_only_from_each_nodes_own_pod_keeping_the_client(lab: ServiceLab) -> None:
    lab.local()
    verdict = _judged(lab, LOCAL)
    assert verdict.ok, verdict
    assert verdict.summary == f"from {CLIENT}: 2 open and 4 closed ways in, as declared"


def test_cluster_answers_on_every_node_from_any_pod(lab: ServiceLab) -> None:
    lab.cluster()
    verdict = _judged(lab, CLUSTER)
    assert verdict.ok, verdict
    assert "3 open and 3 closed" in verdict.summary


def test_a_client_no_flow_allows_finds_every_way_closed_or_fails_naming_each(
    lab: ServiceLab,
) -> None:
    lab.cluster()
    verdict = _judged(lab, CLUSTER, allowed=False)
    assert not verdict.ok
    assert {w.cell.split(" via ")[1] for w in verdict.wrong} == {"node-a", "node-b", "node-c"}
    assert {w.expected for w in verdict.wrong} == {"closed"}


def test_a_node_without_a_pod_that_forwards_under_local_is_named(lab: ServiceLab) -> None:
    lab.local()
    lab.translate("node-c", {NODE_PORT: ["pod-a"]}, masquerade=True)
    verdict = _judged(lab, LOCAL)
    assert not verdict.ok
    assert [w.cell for w in verdict.wrong] == [
        f"{CLIENT} -> {SERVICE} at 198.18.3.3:{NODE_PORT} via node-c"
    ]
    assert "8 of 8 connections accepted" in verdict.evidence
    assert "reproduce: " in verdict.evidence


def test_a_source_rewritten_under_local_is_named(lab: ServiceLab) -> None:
    lab.local()
    lab.translate("node-a", {NODE_PORT: [PODS["node-a"][0]]}, masquerade=True)
    verdict = _judged(lab, LOCAL)
    assert not verdict.ok
    assert f"the pod saw the client as 198.18.10.1, not {CLIENT}" in verdict.evidence
    assert [w.cell.split(" via ")[1] for w in verdict.wrong] == ["node-a"]


def test_a_node_port_the_spec_does_not_expose_is_named(lab: ServiceLab) -> None:
    lab.local()
    lab.translate("node-b", {NODE_PORT: ["pod-b"], CLOSED_PORT: ["pod-b"]}, masquerade=False)
    verdict = _judged(lab, LOCAL)
    assert not verdict.ok
    assert [w.cell for w in verdict.wrong] == [
        f"{CLIENT} -> no Service at 198.18.3.2:{CLOSED_PORT} via node-b"
    ]


def test_the_balancer_address_answers_only_through_nodes_with_a_pod_under_local(
    lab: ServiceLab,
) -> None:
    """The pool address sent through each node in turn (a router's ECMP picks any): under
    Local only the nodes running a pod answer; one that forwards anyway is named."""
    exposed = Exposed(
        SERVICE, LOCAL, {POD_PORT: NODE_PORT}, frozenset({POD_PORT}), addresses=[BALANCER]
    )

    def through_every_node() -> Verdict:
        tries, reproduce = {}, {}
        for node in lab.nodes:
            lab.balancer_through(node)
            entries = exposed.through_balancer(node, lab.pods_by_node)
            more, again = probe_entries(lab.site, entries, timeout=1.0, slack=10)
            tries.update(more)
            reproduce.update(again)
        return check_exposed(CLIENT, tries, reproduce)

    lab.local()
    healthy = through_every_node()
    assert healthy.ok, healthy
    assert "2 open and 1 closed" in healthy.summary
    lab.translate("node-c", {NODE_PORT: ["pod-b"]}, masquerade=True)
    verdict = through_every_node()
    assert [w.cell for w in verdict.wrong] == [
        f"{CLIENT} -> {SERVICE} at {BALANCER}:{POD_PORT} via node-c"
    ]
