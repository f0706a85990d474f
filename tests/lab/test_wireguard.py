"""WireGuard proven by packets in the lab: wireguard-go joins two node namespaces, the real
agent captures on a node's uplink and on the pod's veth while marked traffic flows. The
healthy lab passes; each mutation fails, naming what broke."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lab.wireguard_lab import NODES, PODS, TUNNELS, WireguardLab, wireguard_lab
from netconform.checks.encryption import check_encrypted
from netconform.verdict import Verdict

pytestmark = pytest.mark.lab


def judged(lab: WireguardLab, sanity: str | None = None) -> Verdict:
    uplink, clear = lab.observe(sanity=sanity)
    return check_encrypted(uplink, clear, NODES)


def test_healthy_tunnel_carries_the_marker_only_encrypted() -> None:
    with wireguard_lab() as lab:
        verdict = judged(lab)
        assert verdict.ok, verdict
        assert f"udp {NODES[0]}:51871 -> {NODES[1]}:51871" in verdict.evidence


def _around_the_tunnel(lab: WireguardLab) -> str | None:
    node = lab.nodes[0]
    lab.run(node, "ip", "route", "replace", f"{PODS[1]}/32", "via", NODES[1], "dev", "eth0")
    return None


def _tunnel_down(lab: WireguardLab) -> str | None:
    lab.run(lab.nodes[0], "ip", "link", "set", TUNNELS[0], "down")
    return None


def _wrong_interface(lab: WireguardLab) -> str | None:
    return "lo"


MUTATIONS: dict[str, tuple[Callable[[WireguardLab], str | None], str]] = {
    "traffic routed around the tunnel": (
        _around_the_tunnel,
        "clear-text leak: the marker crossed eth0 in",
    ),
    "capture on the wrong interface": (
        _wrong_interface,
        "the sanity capture on lo never saw the marker",
    ),
    "tunnel down": (_tunnel_down, "no WireGuard traffic (UDP 51871) between the nodes on eth0"),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_a_broken_encryption_is_named(mutation: str) -> None:
    mutate, words = MUTATIONS[mutation]
    with wireguard_lab() as lab:
        sanity = mutate(lab)
        verdict = judged(lab, sanity)
        assert not verdict.ok and words in verdict.summary, verdict
