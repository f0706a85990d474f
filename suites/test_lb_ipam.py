"""LB IPAM on the real cluster: each declared pool addresses its Services, a requested
address is honoured, sharing, exhaustion and release behave, a Service no pool selects gets
none, and an allocated address answers from outside."""

from __future__ import annotations

import ipaddress

import pytest
from netconform.fixtures.routing import SCENARIO_RANGE, LbBench, Routing

from netconform.checks.lbipam import Allocated, LbExpectation, Refused, Shared
from netconform.lb_scenario import LbScenario
from netconform.verdict import Verdict

pytestmark = [pytest.mark.requires("lb_ipam"), pytest.mark.xdist_group("bgp")]

SUBNETS = list(ipaddress.ip_network(SCENARIO_RANGE).subnets(new_prefix=29))


def expect(scenario: LbScenario, *expectations: LbExpectation) -> None:
    verdict = scenario.verdict(*expectations)
    assert verdict.ok, verdict


def test_each_declared_pool_addresses_the_services_it_selects(lb_bench: LbBench) -> None:
    pools = lb_bench.arch.lb_ipam.pools
    if not pools:
        pytest.skip("architecture.yaml declares no LB IPAM pool")
    backend = lb_bench.backend
    services = {
        pool.name: backend.service(f"pool-{pool.name}", labels=pool.service_selector or {})
        for pool in pools
    }
    try:
        expect(backend, *(Allocated(service, pool=pool) for pool, service in services.items()))
    finally:
        for service in services.values():
            backend.delete_service(service)


def test_a_requested_address_in_a_declared_pool_is_honoured(lb_bench: LbBench) -> None:
    pool = lb_bench.arch.lb_ipam.pools[0]
    wanted = str(list(pool.cidr.hosts())[-1])
    backend = lb_bench.backend
    service = backend.service(
        "pinned", labels=pool.service_selector or {}, annotations={"lbipam.cilium.io/ips": wanted}
    )
    try:
        expect(backend, Allocated(service, pool=pool.name, ip=wanted))
    finally:
        backend.delete_service(service)


def test_a_sharing_key_shares_one_address_when_ports_differ(lb: LbScenario) -> None:
    lb.pool("pool", str(SUBNETS[0]))
    key = {"lbipam.cilium.io/sharing-key": "dns"}
    first = lb.service("dns-a", port=53, annotations=key)
    second = lb.service("dns-b", port=5353, annotations=key)
    expect(lb, Shared(first, second))


def test_a_sharing_key_with_clashing_ports_does_not_share(lb: LbScenario) -> None:
    lb.pool("pool", str(SUBNETS[1]))
    pinned = str(SUBNETS[1][2])
    key = {"lbipam.cilium.io/sharing-key": "web", "lbipam.cilium.io/ips": pinned}
    first = lb.service("web-a", port=80, annotations=key)
    second = lb.service("web-b", port=80, annotations=key)
    expect(
        lb, Allocated(first, ip=pinned), Refused(second, "already_allocated_incompatible_service")
    )


def test_an_exhausted_pool_refuses_then_releases_on_delete(lb: LbScenario) -> None:
    only = str(SUBNETS[2][0])
    lb.pool("tiny", f"{only}/32")
    first = lb.service("first")
    expect(lb, Allocated(first, ip=only))
    second = lb.service("second")
    expect(lb, Allocated(first, ip=only), Refused(second, "out_of_ips"))
    lb.delete_service(first)
    expect(lb, Allocated(second, ip=only))


def test_a_service_no_pool_selects_gets_no_address(lb: LbScenario, lb_bench: LbBench) -> None:
    catch_all = [pool.name for pool in lb_bench.arch.lb_ipam.pools if not pool.service_selector]
    if catch_all:
        pytest.skip(f"pool {catch_all[0]} selects every Service: none can be left without one")
    lb.pool("red", str(SUBNETS[3]), color="red")
    lost = lb.service("lost", color="green")
    expect(lb, Refused(lost, "no_pool"))


@pytest.mark.requires("bgp")
def test_an_allocated_address_answers_from_outside(routing: Routing) -> None:
    announce = routing.arch.lb_ipam.announce
    if announce != "bgp":
        pytest.skip(f"LB IPs are announced by {announce}: only BGP gives the outside a route here")
    backend = routing.bench.backend
    pools = routing.arch.lb_ipam.pools
    services = [
        backend.service(f"outside-{p.name}", labels=p.service_selector or {}) for p in pools
    ]
    try:
        verdict = Verdict.all([routing.reached_from_outside(service) for service in services])
        assert verdict.ok, verdict
    finally:
        for service in services:
            backend.delete_service(service)
