"""Split DNS: cluster names resolve to their Services, internal zones through their own
servers, everything else through the external resolver; the same name answers differently
inside and outside; failures are told apart; DNS passes default deny only as declared."""

from __future__ import annotations

import pytest
from netconform.fixtures.split_dns import SplitDns

from netconform.checks.dns import INSIDE, OUTSIDE, TIMEOUT, Question

pytestmark = [pytest.mark.requires("dns", "split_dns"), pytest.mark.xdist_group("cluster-policy")]


def test_service_names_resolve_to_their_addresses(split_dns: SplitDns, without_policies) -> None:
    verdict = split_dns.until(split_dns.service_names)
    assert verdict.ok, verdict
    assert "-headless." in verdict.evidence, "no headless Service was asked"


def test_each_name_answers_as_declared_inside_and_outside(
    split_dns: SplitDns, without_policies
) -> None:
    verdict = split_dns.until(split_dns.answers)
    assert verdict.ok, verdict


def test_internal_names_never_reach_the_external_resolver(
    split_dns: SplitDns, without_policies
) -> None:
    verdict = split_dns.paths()
    assert verdict.ok, verdict


def test_failure_kinds_are_told_apart(split_dns: SplitDns, without_policies) -> None:
    """NXDOMAIN (no such name in the zone), REFUSED (a zone server asked outside its zone) and
    a timeout (nothing at the address) each come back as themselves."""
    zone = split_dns.dns.zones[0].name
    zone_server = split_dns.servers.addresses[zone]
    missing = Question(f"missing.{zone}", "A", INSIDE)
    refused = Question("outside-its-zone.example", "A", OUTSIDE)
    nobody = Question(f"any.{zone}", "A", OUTSIDE)
    got = {
        **split_dns.inside([missing]),
        **split_dns.outside([refused], zone_server),
        **split_dns.outside([nobody], split_dns.unused_address()),
    }
    kinds = {q.name: a.rcode for q, a in got.items()}
    assert kinds == {missing.name: "NXDOMAIN", refused.name: "REFUSED", nobody.name: TIMEOUT}, (
        f"{kinds}\nreproduce the first: {split_dns.reproduce(missing)}"
    )


def test_dns_passes_default_deny_only_through_the_declared_flow(
    split_dns: SplitDns, policy_run
) -> None:
    """With the policies, names still resolve through the cluster's DNS, but a pod asking the
    external resolver itself is dropped; without them, the same question is answered."""
    policy_run.remove_policies()
    before = split_dns.upstream_asked_directly()
    assert before.rcode != TIMEOUT, (
        f"without policies the pod cannot reach the upstream at all: {before}"
    )
    policy_run.apply_policies()
    verdict = split_dns.until(split_dns.only_through_the_cluster_dns)
    assert verdict.ok, verdict
