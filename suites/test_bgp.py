"""BGP to the spec's router: every node peers, announces its pod CIDR and the LoadBalancer
IPs, withdraws what goes away, and peers again after its agent restarts."""

from __future__ import annotations

import time

import pytest
from netconform.fixtures.routing import Routing

pytestmark = [pytest.mark.requires("bgp"), pytest.mark.xdist_group("bgp")]


def test_every_node_peers_with_the_router(routing: Routing) -> None:
    verdict = routing.until(routing.sessions)
    assert verdict.ok, verdict


def test_each_node_announces_its_own_pod_cidr(routing: Routing) -> None:
    assert routing.pod_cidrs, "no node has a pod CIDR: nothing would be checked"
    verdict = routing.until(lambda: routing.routes(routing.pod_cidr_routes()))
    assert verdict.ok, verdict


def test_a_load_balancer_ip_is_announced_then_withdrawn(routing: Routing) -> None:
    backend = routing.bench.backend
    pool = routing.arch.lb_ipam.pools[0]
    name = backend.service("bgp-withdraw", labels=pool.service_selector or {})
    ips = routing.until_addresses(name)
    announced = routing.until(lambda: routing.routes(routing.lb_routes(ips)))
    assert announced.ok, announced
    backend.delete_service(name)
    started = time.monotonic()
    prefixes = tuple(routing.lb_routes(ips))
    withdrawn = routing.until(lambda: routing.routes({}, withdrawn=prefixes), rounds=1)
    assert withdrawn.ok, f"{withdrawn}\n(after {time.monotonic() - started:.1f}s)"


def test_the_outside_reaches_a_load_balancer_service_through_the_router(routing: Routing) -> None:
    backend = routing.bench.backend
    pool = routing.arch.lb_ipam.pools[0]
    name = backend.service("bgp-outside", labels=pool.service_selector or {})
    try:
        verdict = routing.reached_from_outside(name)
        assert verdict.ok, verdict
    finally:
        backend.delete_service(name)


def test_a_restarted_agent_peers_again_and_its_routes_come_back(routing: Routing) -> None:
    """Load balancer redundancy: the other nodes keep announcing while one agent restarts,
    and the restarted one comes back with its routes."""
    assert routing.until(routing.sessions).ok
    node = sorted(routing.nodes)[-1]
    address = routing.nodes[node]
    pod = routing.cilium_pod(node)
    routing.kube.core().delete_namespaced_pod(pod, "kube-system")
    went_down = routing.until(
        lambda: routing.session_down(address), routing.timeouts.bgp_session_down, rounds=1
    )
    assert went_down.ok, f"deleting {pod} never took its BGP session down: {went_down}"
    others = routing.routes(routing.pod_cidr_routes(without=node))
    assert others.ok, f"while {node}'s agent restarts, the other nodes' routes: {others}"
    back = routing.until(routing.sessions, timeout=routing.timeouts.agent_restart)
    assert back.ok, back
    routes = routing.until(lambda: routing.routes(routing.pod_cidr_routes()))
    assert routes.ok, routes
