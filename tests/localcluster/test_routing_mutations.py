"""The BGP suite bites on real Cilium and FRR: a broken advertisement or a router missing a
node fails, naming the prefix or the node.

Runs on the suites' own cluster and router fixtures:
`pytest tests/localcluster/test_routing_mutations.py --images=local`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from netconform.fixtures.routing import Routing

from netconform import manifests
from netconform.exec import DockerExec
from netconform.router import Router

# A broken configuration shows within seconds; the suite's bound would wait out minutes.
BROKEN = 30


@pytest.fixture
def service(routing: Routing) -> Iterator[str]:
    backend = routing.bench.backend
    pool = routing.arch.lb_ipam.pools[0]
    name = backend.service("mutation", labels=pool.service_selector or {})
    yield name
    backend.delete_service(name)


def test_an_advertisement_without_load_balancer_ips_is_named(
    routing: Routing, service: str
) -> None:
    assert routing.arch.bgp is not None
    ip = routing.until_addresses(service)[0]
    assert routing.until(lambda: routing.routes(routing.lb_routes([ip]))).ok
    pod_cidr_only = routing.arch.bgp.model_copy(update={"advertise": ["pod-cidr"]})
    addresses = {r.peer.name: r.address for r in routing.routers}
    weakened = manifests.bgp(routing.arch.model_copy(update={"bgp": pod_cidr_only}), addresses)
    routing.kube.apply(weakened)
    try:
        verdict = routing.until(lambda: routing.routes(routing.lb_routes([ip])), timeout=BROKEN)
        assert not verdict.ok
        assert f"{ip}/32 not announced (no best path in FRR)" in verdict.summary
        unreached = routing.reached_from_outside(service, timeout=BROKEN)
        assert not unreached.ok and "answered by nobody" in unreached.summary, unreached
    finally:
        routing.kube.apply(manifests.bgp(routing.arch, addresses))
    assert routing.until(lambda: routing.routes(routing.lb_routes([ip]))).ok


def _reconfigure(router: Router, *lines: str) -> None:
    """Change the running router's BGP configuration as an operator would, with vtysh."""
    argv = ["vtysh", "-c", "configure terminal", "-c", f"router bgp {router.peer.peer_asn}"]
    done = DockerExec(router.container).run([*argv, *(a for line in lines for a in ("-c", line))])
    assert done.rc == 0, done.stderr


def test_a_node_missing_from_the_router_is_named(routing: Routing) -> None:
    assert routing.until(routing.sessions).ok
    router = routing.routers[0]
    node = sorted(routing.nodes)[0]
    address = routing.nodes[node]
    _reconfigure(router, f"no neighbor {address}")
    try:
        verdict = routing.until(routing.sessions, timeout=BROKEN)
        assert not verdict.ok
        assert f"no session configured for node {address}" in verdict.summary
        assert f"{node}: peer {router.address}" in verdict.summary
    finally:
        _reconfigure(router, f"neighbor {address} peer-group nodes")
    assert routing.until(routing.sessions, timeout=routing.timeouts.bgp).ok
