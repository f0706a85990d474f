"""CoreDNS redundancy: a steady stream of queries from a pod loses at most the spec's budget
(dns.disruption_budget) while one CoreDNS replica is deleted and replaced."""

from __future__ import annotations

import pytest
from netconform.fixtures.dns_redundancy import Disruption

from netconform.spec import Architecture

pytestmark = [pytest.mark.requires("dns"), pytest.mark.xdist_group("cluster-policy")]


def test_losing_a_coredns_replica_stays_within_the_budget(
    spec: Architecture,
    coredns_disruption: Disruption,
    capsys: pytest.CaptureFixture[str],
    record_property,
) -> None:
    seen = coredns_disruption
    assert seen.replicas >= 2, f"CoreDNS runs {seen.replicas} replica(s): redundancy needs two"
    assert not seen.error, seen.error
    budget = spec.dns.disruption_budget
    figure = f"{seen} (budget {budget:.2%})"
    record_property("coredns_redundancy", figure)
    with capsys.disabled():
        print(f"\n{figure}")
    assert len(seen.lost) <= budget * seen.total, f"{figure}\nlost: {seen.lost[:10]}"
