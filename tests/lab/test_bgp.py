"""BGP to the external router on real daemons: FRR runs the frr.conf rendered from the spec,
GoBGP speakers stand in for the nodes. The healthy lab passes both checks; each mutation
fails them, naming what broke."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.bgp_lab import BgpLab, bgp_lab
from netconform.checks.bgp_rib import check_rib, check_session_lost, check_sessions
from netconform.spec import BgpTimers, load
from netconform.verdict import Verdict

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
BGP = load(ROOT / "architecture.yaml").bgp
POD_CIDRS = ("198.18.64.0/24", "198.18.65.0/24", "198.18.66.0/24")
LB_IPS = ("198.18.250.1/32",)
LEFT_OVER = "198.18.250.2/32"


def sessions_verdict(lab: BgpLab) -> Verdict:
    return check_sessions(lab.sessions(), lab.node_addresses)


def routes_verdict(lab: BgpLab, withdrawn: tuple[str, ...] = ()) -> Verdict:
    return check_rib(lab.rib(), lab.healthy_announcements(), lab.node_addresses, withdrawn)


def announce_healthy(lab: BgpLab, skip: tuple[str, ...] = ()) -> None:
    for node in lab.nodes:
        if node.pod_cidr not in skip:
            lab.announce(node, node.pod_cidr)
        for ip in lab.lb_ips:
            lab.announce(node, ip)


def test_healthy_peering_passes_both_checks() -> None:
    assert BGP is not None
    with bgp_lab(BGP, POD_CIDRS, LB_IPS) as lab:
        announce_healthy(lab)
        sessions = lab.until(lambda: sessions_verdict(lab), lambda v: v.ok)
        assert sessions.ok, sessions
        routes = lab.until(lambda: routes_verdict(lab), lambda v: v.ok)
        assert routes.ok, routes
        assert "198.18.64.0/24" in routes.evidence and "via 198.18.0.11" in routes.evidence


def _wrong_next_hop(lab: BgpLab) -> None:
    announce_healthy(lab, skip=(POD_CIDRS[0],))
    lab.announce(lab.nodes[0], POD_CIDRS[0], next_hop=lab.nodes[1].host.address)


def _foreign_next_hop(lab: BgpLab) -> None:
    announce_healthy(lab, skip=(POD_CIDRS[0],))
    lab.announce(lab.nodes[0], POD_CIDRS[0], next_hop="198.18.99.99")


def _never_announced(lab: BgpLab) -> None:
    announce_healthy(lab, skip=(POD_CIDRS[1],))


def _lb_ip_from_one_node(lab: BgpLab) -> None:
    """Load balancer redundancy lost: the address reaches the router through one node only."""
    for node in lab.nodes:
        lab.announce(node, node.pod_cidr)
    lab.announce(lab.nodes[0], LB_IPS[0])


def _not_withdrawn(lab: BgpLab) -> None:
    announce_healthy(lab)
    lab.announce(lab.nodes[2], LEFT_OVER)


ROUTE_MUTATIONS: dict[str, tuple[Callable[[BgpLab], None], str]] = {
    "wrong next hop": (_wrong_next_hop, "198.18.64.0/24 wrong next hop: via 198.18.0.12"),
    "foreign next hop": (_foreign_next_hop, "198.18.64.0/24 via foreign next hop 198.18.99.99"),
    "prefix never announced": (_never_announced, "198.18.65.0/24 not announced"),
    "route not withdrawn": (_not_withdrawn, f"{LEFT_OVER} not withdrawn"),
    "LB address from one node only": (
        _lb_ip_from_one_node,
        f"{LB_IPS[0]} wrong next hop: via 198.18.0.11, want 198.18.0.11, 198.18.0.12, 198.18.0.13",
    ),
}


@pytest.mark.parametrize("mutation", ROUTE_MUTATIONS)
def test_a_broken_route_is_named(mutation: str) -> None:
    assert BGP is not None
    mutate, words = ROUTE_MUTATIONS[mutation]
    with bgp_lab(BGP, POD_CIDRS, LB_IPS) as lab:
        assert lab.until(lambda: sessions_verdict(lab), lambda v: v.ok).ok
        mutate(lab)
        verdict = lab.until(lambda: routes_verdict(lab, (LEFT_OVER,)), lambda v: words in v.summary)
        assert not verdict.ok and words in verdict.summary, verdict


SESSION_MUTATIONS = {
    "missing peer": ({"router_neighbors": 2}, "198.18.0.13", "no session configured for node"),
    "session stuck in Active": (
        {"node_asns": [64512, 64999, 64512]},
        "198.18.0.12",
        "node 198.18.0.12: session",
    ),
}


@pytest.mark.parametrize("mutation", SESSION_MUTATIONS)
def test_a_broken_session_is_named(mutation: str) -> None:
    assert BGP is not None
    options, broken, words = SESSION_MUTATIONS[mutation]
    with bgp_lab(BGP, POD_CIDRS, LB_IPS, **options) as lab:
        healthy = [address for address in lab.node_addresses if address != broken]
        # The others come up, so the broken one had its chance too.
        assert lab.until(lambda: check_sessions(lab.sessions(), healthy), lambda v: v.ok).ok
        verdict = sessions_verdict(lab)
        assert not verdict.ok and words in verdict.summary and broken in verdict.summary, verdict


HOLD = 3
SILENCE_SLACK = 3.0


def _until_lost(lab: BgpLab, node: str, within: float) -> tuple[Verdict, float]:
    """The router's session with `node` judged until lost, at most `within` seconds."""
    started = time.monotonic()
    verdict = check_session_lost(lab.sessions(), node)
    while not verdict.ok and time.monotonic() - started < within:
        time.sleep(0.2)
        verdict = check_session_lost(lab.sessions(), node)
    return verdict, time.monotonic() - started


@pytest.mark.parametrize(
    ("timers", "lost"),
    [(BgpTimers(hold=HOLD, keepalive=1), True), (None, False)],
    ids=["spec timers", "default timers"],
)
def test_a_silent_node_is_given_up_within_the_hold_time_and_peers_again(
    timers: BgpTimers | None, lost: bool
) -> None:
    """Load balancer redundancy on real daemons: a node gone silent (its speaker paused, as a
    paused node container is) loses its session on the router within the spec's hold time,
    its pod CIDR goes and its LB address stays through the other nodes; resumed, it peers again
    and its routes return. Without the spec's timers (the 90 s default) the session is still
    held when the budget is over, and the check says so."""
    assert BGP is not None
    with bgp_lab(BGP.model_copy(update={"timers": timers}), POD_CIDRS, LB_IPS) as lab:
        announce_healthy(lab)
        assert lab.until(lambda: routes_verdict(lab), lambda v: v.ok).ok
        silent, others = lab.nodes[0], lab.nodes[1:]
        silent.pause()
        try:
            verdict, took = _until_lost(lab, silent.host.address, HOLD + SILENCE_SLACK)
            if not lost:
                assert not verdict.ok
                assert f"node {silent.host.address}: session still Established" in verdict.summary
                return
            assert verdict.ok, verdict
            assert took <= HOLD + SILENCE_SLACK
            remaining = {node.host.address for node in others}
            wanted = {ip: remaining for ip in LB_IPS}
            wanted.update({node.pod_cidr: {node.host.address} for node in others})
            without = lab.until(
                lambda: check_rib(lab.rib(), wanted, lab.node_addresses, (silent.pod_cidr,)),
                lambda v: v.ok,
            )
            assert without.ok, without
        finally:
            silent.resume()
        back = lab.until(lambda: routes_verdict(lab), lambda v: v.ok)
        assert back.ok, back
