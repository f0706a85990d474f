"""LB IPAM on the real cluster: each declared pool addresses its Services, a requested
address is honoured, sharing, exhaustion and release behave, a Service no pool selects gets
none, and an allocated address answers from outside."""

from __future__ import annotations

import pytest
from netconform.fixtures.routing import LbBench, Routing, expect

from netconform.checks.lbipam import Allocated, Refused, Shared
from netconform.lb_scenario import LbScenario
from netconform.verdict import Verdict

pytestmark = [pytest.mark.requires("lb_ipam"), pytest.mark.xdist_group("bgp")]


def test_each_declared_pool_addresses_the_services_it_selects(lb_bench: LbBench) -> None:
    lb_bench.declared_pools()
    with lb_bench.per_pool("pool") as services:
        expect(
            lb_bench.backend,
            *(Allocated(service, pool=pool) for pool, service in services.items()),
        )


def test_a_requested_address_in_a_declared_pool_is_honoured(lb_bench: LbBench) -> None:
    pool = lb_bench.declared_pools()[0]
    with lb_bench.requesting_last_address(pool) as (service, wanted):
        expect(lb_bench.backend, Allocated(service, pool=pool.name, ip=wanted))


def test_a_sharing_key_shares_one_address_when_ports_differ(lb: LbScenario) -> None:
    lb.pool("pool", str(lb.block))
    key = {"lbipam.cilium.io/sharing-key": "dns"}
    first = lb.service("dns-a", port=53, annotations=key)
    second = lb.service("dns-b", port=5353, annotations=key)
    expect(lb, Shared(first, second))


def test_a_sharing_key_with_clashing_ports_does_not_share(lb: LbScenario) -> None:
    lb.pool("pool", str(lb.block))
    pinned = str(lb.block[2])
    key = {"lbipam.cilium.io/sharing-key": "web", "lbipam.cilium.io/ips": pinned}
    first = lb.service("web-a", port=80, annotations=key)
    second = lb.service("web-b", port=80, annotations=key)
    expect(
        lb, Allocated(first, ip=pinned), Refused(second, "already_allocated_incompatible_service")
    )


def test_an_exhausted_pool_refuses_then_releases_on_delete(lb: LbScenario) -> None:
    only = str(lb.block[0])
    lb.pool("tiny", f"{only}/32")
    first = lb.service("first")
    expect(lb, Allocated(first, ip=only))
    second = lb.service("second")
    expect(lb, Allocated(first, ip=only), Refused(second, "out_of_ips"))
    lb.delete_service(first)
    expect(lb, Allocated(second, ip=only))


def test_a_service_no_pool_selects_gets_no_address(lb: LbScenario, lb_bench: LbBench) -> None:
    lb_bench.without_a_catch_all_pool()
    lb.pool("red", str(lb.block), color="red")
    lost = lb.service("lost", color="green")
    expect(lb, Refused(lost, "no_pool"))


@pytest.mark.requires("bgp")
def test_an_allocated_address_answers_from_outside(routing: Routing) -> None:
    routing.announced_by_bgp()
    with routing.bench.per_pool("outside") as services:
        verdict = Verdict.all([routing.reached_from_outside(s) for s in services.values()])
    assert verdict.ok, verdict
