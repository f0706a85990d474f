"""LB IPAM against the real Cilium operator, judged by the suite's own LB IPAM checker.

Each test's pools select only its own Services (a per-test label), so tests
cannot take each other's addresses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from netconform.checks.lbipam import Allocated, Conflicting, Refused, Shared
from netconform.convergence import Convergence
from netconform.kube import Kube
from netconform.lb_scenario import LbScenario


class Scenario(LbScenario):
    def expect(self, *expectations) -> None:
        verdict = self.verdict(*expectations)
        assert verdict.ok, str(verdict)


@pytest.fixture
def lb(kube: Kube) -> Iterator[Scenario]:
    scenario = Scenario(kube)
    scenario.create_namespace()
    yield scenario
    scenario.cleanup()


def test_allocates_from_the_pool_whose_selector_matches(lb: Scenario) -> None:
    lb.pool("red", "198.18.240.0/29", color="red")
    lb.pool("blue", "198.18.240.8/29", color="blue")
    blue = lb.service("web", color="blue")
    lb.expect(Allocated(blue, pool=f"{lb.test_id}-blue"))


def test_a_requested_address_is_honoured(lb: Scenario) -> None:
    lb.pool("pool", "198.18.240.16/29")
    pinned = lb.service("pinned", annotations={"lbipam.cilium.io/ips": "198.18.240.21"})
    lb.expect(Allocated(pinned, ip="198.18.240.21"))


def test_sharing_key_shares_one_address_when_ports_differ(lb: Scenario) -> None:
    lb.pool("pool", "198.18.240.24/29")
    key = {"lbipam.cilium.io/sharing-key": "dns"}
    udp = lb.service("dns-a", port=53, annotations=key)
    tcp = lb.service("dns-b", port=5353, annotations=key)
    lb.expect(Shared(udp, tcp))


def test_sharing_key_with_clashing_ports_does_not_share(lb: Scenario) -> None:
    lb.pool("pool", "198.18.240.32/29")
    key = {"lbipam.cilium.io/sharing-key": "web", "lbipam.cilium.io/ips": "198.18.240.34"}
    first = lb.service("web-a", port=80, annotations=key)
    second = lb.service("web-b", port=80, annotations=key)
    lb.expect(
        Allocated(first, ip="198.18.240.34"),
        Refused(second, "already_allocated_incompatible_service"),
    )


def test_exhaustion_then_release_on_delete(lb: Scenario) -> None:
    lb.pool("tiny", "198.18.240.40/32")
    first = lb.service("first")
    lb.expect(Allocated(first, ip="198.18.240.40"))
    second = lb.service("second")
    lb.expect(Allocated(first, ip="198.18.240.40"), Refused(second, "out_of_ips"))
    lb.kube.delete("v1", "Service", "first", lb.namespace)
    lb.expect(Allocated(second, ip="198.18.240.40"))


def test_no_matching_pool(lb: Scenario) -> None:
    lb.pool("red", "198.18.240.48/29", color="red")
    lost = lb.service("lost", color="green")
    lb.expect(Refused(lost, "no_pool"))


def test_overlapping_pools_are_flagged(lb: Scenario) -> None:
    older = lb.pool("first", "198.18.240.56/29")
    time.sleep(1.1)  # "newer" is by creationTimestamp, which has one-second resolution
    newer = lb.pool("second", "198.18.240.60/30")
    lb.expect(Conflicting(newer))
    assert not lb.verdict(Conflicting(older), settle=Convergence(timeout=1)).ok


def test_a_disabled_pool_keeps_existing_addresses_but_gives_no_new_ones(lb: Scenario) -> None:
    lb.pool("pool", "198.18.240.64/29")
    old = lb.service("old")
    lb.expect(Allocated(old, pool=f"{lb.test_id}-pool"))
    lb.pool("pool", "198.18.240.64/29", disabled=True)
    new = lb.service("new")
    lb.expect(Allocated(old, pool=f"{lb.test_id}-pool"), Refused(new, "no_pool"))


def test_the_checker_fails_on_what_the_operator_really_did(lb: Scenario) -> None:
    """The check bites: a wrong expectation over real operator output is named."""
    lb.pool("red", "198.18.240.72/29", color="red")
    lb.pool("blue", "198.18.240.80/29", color="blue")
    red = lb.service("web", color="red")
    lb.expect(Allocated(red, pool=f"{lb.test_id}-red"))
    wrong = lb.verdict(Allocated(red, pool=f"{lb.test_id}-blue"), settle=Convergence(timeout=2))
    assert not wrong.ok
    assert f"outside pool {lb.test_id}-blue" in wrong.summary
