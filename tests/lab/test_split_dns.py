"""Split DNS on real CoreDNS: the resolver runs the Corefile rendered for the cluster, the zone
servers and the external resolver the files rendered for the containers next to kind. The
healthy lab passes both checks and tells the failure kinds apart; each mutation fails,
naming what broke."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from lab.dns_lab import BASE_COREFILE, RESOLVER, UPSTREAM, DnsLab, Servers, dns_lab, spec_servers
from netconform import dns_config as render
from netconform.checks.dns import (
    INSIDE,
    OUTSIDE,
    Question,
    check_answers,
    check_paths,
    expected_answers,
)
from netconform.offline import gobuild
from netconform.spec import Dns, Zone, load
from netconform.verdict import Verdict

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
DNS = load(ROOT / "architecture.yaml").dns
ZONE = DNS.zones[0].name
# A lab address nothing answers on.
NOBODY = "198.18.53.99"


@pytest.fixture(scope="module")
def coredns() -> Path:
    """The CoreDNS binary the project builds (cached; minutes the first time)."""
    return gobuild.ensure(["coredns"])["coredns"]


def healthy_corefile(dns: Dns = DNS, servers: Servers | None = None) -> str:
    servers = servers or spec_servers(dns)
    zone_servers = {zone.name: [servers.addresses[zone.name]] for zone in dns.zones}
    return render.cluster_corefile(BASE_COREFILE, dns, zone_servers, [servers.addresses[UPSTREAM]])


def answers_verdict(lab: DnsLab) -> Verdict:
    """Every record's answer inside (through the resolver) and outside (the upstream)."""
    expected = expected_answers(DNS)
    where = {INSIDE: RESOLVER, OUTSIDE: lab.servers[UPSTREAM].address}
    observed = lab.ask({q: where[q.vantage] for q in expected})
    return check_answers(expected, observed)


def paths_verdict(lab: DnsLab, rounds: int = 4) -> Verdict:
    """Fresh names (no cache can answer them) asked inside: those in the zone must reach only
    its server, the others only the upstream."""
    nonce = secrets.token_hex(4)
    must_reach = {f"q{i}-{nonce}.{ZONE}": ZONE for i in range(rounds)}
    must_reach[f"q-{nonce}.example"] = UPSTREAM
    lab.ask({Question(name, "A", INSIDE): RESOLVER for name in must_reach})
    return check_paths(must_reach, lab.logged(), lab.servers)


def test_healthy_split_dns_passes_both_checks(coredns: Path) -> None:
    with dns_lab(DNS, healthy_corefile(), spec_servers(DNS), coredns) as lab:
        answers = answers_verdict(lab)
        assert answers.ok, answers
        assert ". nas.home.arpa A from inside: 198.18.100.10" in answers.evidence
        assert ". nas.home.arpa A from outside: 198.18.101.10" in answers.evidence
        paths = paths_verdict(lab)
        assert paths.ok, paths


def test_failure_kinds_are_told_apart(coredns: Path) -> None:
    """NXDOMAIN (no such name), REFUSED (a server asked outside its zone), SERVFAIL (a zone
    forwarded to a server that never answers) and a timeout (nothing answers at all) each
    come back as themselves."""
    dead = Zone(name="dead.arpa", forward_to=[NOBODY])
    with_dead = DNS.model_copy(update={"zones": [*DNS.zones, dead]})
    servers = spec_servers(DNS)
    zone_servers = {ZONE: [servers.addresses[ZONE]], dead.name: [NOBODY]}
    upstream = [servers.addresses[UPSTREAM]]
    corefile = render.cluster_corefile(BASE_COREFILE, with_dead, zone_servers, upstream)
    with dns_lab(DNS, corefile, servers, coredns) as lab:
        asked = {
            Question(f"missing.{ZONE}", "A", "NXDOMAIN"): RESOLVER,
            Question("www.example", "A", "REFUSED"): lab.servers[ZONE].address,
            Question(f"x.{dead.name}", "A", "SERVFAIL"): RESOLVER,
            Question("www.example", "A", "TIMEOUT"): NOBODY,
        }
        got = {q.vantage: a.rcode for q, a in lab.ask(asked, timeout=8.0).items()}
        assert got == {kind: kind for kind in ("NXDOMAIN", "REFUSED", "SERVFAIL", "TIMEOUT")}, got


def _zone_to_upstream(dns: Dns) -> tuple[str, Servers, tuple[str, ...]]:
    servers = spec_servers(dns)
    wrong = {zone.name: [servers.addresses[UPSTREAM]] for zone in dns.zones}
    upstream = [servers.addresses[UPSTREAM]]
    return render.cluster_corefile(BASE_COREFILE, dns, wrong, upstream), servers, ()


def _upstream_has_inside_records(dns: Dns) -> tuple[str, Servers, tuple[str, ...]]:
    servers = spec_servers(dns)
    leaked = [(r.name, r.type, [str(a) for a in r.inside or r.outside]) for r in dns.records]
    zones = {**servers.zones, UPSTREAM: {render.ROOT_ZONE: render.zone_file(".", leaked)}}
    return healthy_corefile(dns), replace(servers, zones=zones), ()


def _zone_also_forwards_upstream(dns: Dns) -> tuple[str, Servers, tuple[str, ...]]:
    servers = spec_servers(dns)
    both = {z.name: [servers.addresses[z.name], servers.addresses[UPSTREAM]] for z in dns.zones}
    corefile = render.cluster_corefile(BASE_COREFILE, dns, both, [servers.addresses[UPSTREAM]])
    # Round robin over both: every other query for the internal zone goes to the upstream.
    corefile = corefile.replace(
        f"forward . {' '.join(both[ZONE])}\n",
        f"forward . {' '.join(both[ZONE])} {{\n        policy round_robin\n    }}\n",
    )
    return corefile, servers, ()


def _stale_record(dns: Dns) -> tuple[str, Servers, tuple[str, ...]]:
    servers = spec_servers(dns)
    stale = [
        (
            r.name,
            r.type,
            ["198.18.100.99"] if r.name == "nas.home.arpa" else [str(a) for a in r.inside],
        )
        for r in dns.records
        if dns.zone_of(r.name)
    ]
    zones = {**servers.zones, ZONE: {ZONE: render.zone_file(ZONE, stale)}}
    return healthy_corefile(dns), replace(servers, zones=zones), ()


def _zone_server_down(dns: Dns) -> tuple[str, Servers, tuple[str, ...]]:
    return healthy_corefile(dns), spec_servers(dns), (ZONE,)


MUTATIONS: dict[str, tuple[Callable[[Dns], tuple[str, Servers, tuple[str, ...]]], str, str]] = {
    "zone forwarded to the wrong server": (
        _zone_to_upstream,
        "answers",
        "nas.home.arpa A from inside: got 198.18.101.10, want 198.18.100.10",
    ),
    "upstream answering for the internal zone": (
        _upstream_has_inside_records,
        "answers",
        "nas.home.arpa A from outside: got 198.18.100.10, want 198.18.101.10",
    ),
    "internal query leaking upstream": (
        _zone_also_forwards_upstream,
        "paths",
        "leaked to upstream",
    ),
    "stale record": (
        _stale_record,
        "answers",
        "nas.home.arpa A from inside: got 198.18.100.99, want 198.18.100.10",
    ),
    "resolver that times out": (
        _zone_server_down,
        "answers",
        "nas.home.arpa A from inside: got TIMEOUT, want 198.18.100.10",
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_a_broken_split_dns_is_named(coredns: Path, mutation: str) -> None:
    mutate, check, words = MUTATIONS[mutation]
    corefile, servers, stopped = mutate(DNS)
    with dns_lab(DNS, corefile, servers, coredns, stopped) as lab:
        verdict = answers_verdict(lab) if check == "answers" else paths_verdict(lab)
        assert not verdict.ok and words in verdict.summary, verdict
