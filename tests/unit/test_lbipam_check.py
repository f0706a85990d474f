"""The LB IPAM checker on Service/pool objects shaped as the API server returns them."""

from __future__ import annotations

import pytest

from netconform.checks.lbipam import (
    SATISFIED,
    Allocated,
    Conflicting,
    Refused,
    Shared,
    check_lb_ipam,
)


def service(name: str, ips: list[str], reason: str = "satisfied", message: str = "") -> dict:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "status": {
            "loadBalancer": {"ingress": [{"ip": ip} for ip in ips]},
            "conditions": [
                {
                    "type": SATISFIED,
                    "status": "True" if ips else "False",
                    "reason": reason,
                    "message": message,
                }
            ],
        },
    }


def pool(name: str, cidr: str, conflict: bool = False) -> dict:
    conditions = [{"type": "cilium.io/PoolConflict", "status": "True" if conflict else "False"}]
    return {
        "metadata": {"name": name},
        "spec": {"blocks": [{"cidr": cidr}]},
        "status": {"conditions": conditions},
    }


SERVICES = [
    service("web", ["198.18.250.1"]),
    service("pinned", ["198.18.250.5"]),
    service("dns-udp", ["198.18.250.2"]),
    service("dns-tcp", ["198.18.250.2"]),
    service("late", [], "out_of_ips", "no more IPs in pool"),
]
POOLS = [pool("default", "198.18.250.0/28"), pool("late", "198.18.250.8/29", conflict=True)]


def test_all_expectations_hold() -> None:
    verdict = check_lb_ipam(
        SERVICES,
        POOLS,
        [
            Allocated("ns/web", pool="default"),
            Allocated("ns/pinned", ip="198.18.250.5"),
            Shared("ns/dns-udp", "ns/dns-tcp"),
            Refused("ns/late", "out_of_ips"),
            Conflicting("late"),
        ],
    )
    assert verdict.ok, str(verdict)
    assert "ns/late: no address [out_of_ips] no more IPs in pool" in verdict.evidence


@pytest.mark.parametrize(
    ("expectation", "words"),
    [
        (Allocated("ns/web", pool="late"), "ns/web got 198.18.250.1, outside pool late"),
        (
            Allocated("ns/pinned", ip="198.18.250.6"),
            "got 198.18.250.5, not the requested 198.18.250.6",
        ),
        (
            Allocated("ns/late"),
            "ns/late: no address [out_of_ips] no more IPs in pool instead of one address",
        ),
        (
            Refused("ns/web", "no_pool"),
            "ns/web got ['198.18.250.1'] but should have none (no_pool)",
        ),
        (Refused("ns/late", "no_pool"), "but for 'out_of_ips', not 'no_pool'"),
        (Shared("ns/web", "ns/pinned"), "not one shared address"),
        (
            Conflicting("default"),
            "pool default overlaps another but has no cilium.io/PoolConflict=True",
        ),
        (Allocated("ns/ghost"), "service ns/ghost does not exist"),
    ],
)
def test_each_wrong_expectation_is_named(expectation, words: str) -> None:
    verdict = check_lb_ipam(SERVICES, POOLS, [Allocated("ns/web"), expectation])
    assert not verdict.ok
    assert verdict.summary.startswith("lb-ipam: 1 of 2 expectations wrong")
    assert words in verdict.summary, verdict.summary
