"""WireGuard proven by packets in the lab: wireguard-go joins two node namespaces, the real
netprobe captures on a node's uplink, on the sending pod's veth and on the receiving pod's veth
while marked traffic flows. The
healthy lab passes; each mutation fails, naming what broke."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lab.wireguard_lab import NODES, PODS, TUNNELS, WireguardLab, wireguard_lab
from netconform.checks.encryption import check_encrypted
from netconform.verdict import Verdict

pytestmark = pytest.mark.lab


def judged(lab: WireguardLab, sanity: str | None = None) -> Verdict:
    uplink, clear, delivered = lab.observe(sanity=sanity)
    return check_encrypted(uplink, clear, delivered, NODES)


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


def _dropped_after_decryption(lab: WireguardLab) -> str | None:
    """The tunnel still carries it, encrypted; the receiving node drops it before the pod.
    The sender's side alone looks exactly like encryption that works."""
    lab.run(lab.nodes[1], "ip", "route", "replace", "blackhole", f"{PODS[1]}/32")
    return None


MUTATIONS: dict[str, tuple[Callable[[WireguardLab], str | None], str]] = {
    "traffic routed around the tunnel": (
        _around_the_tunnel,
        "clear-text leak: the marker crossed eth0 in",
    ),
    "capture on the wrong interface": (
        _wrong_interface,
        "the sanity capture on lo never saw the marker",
    ),
    "tunnel down": (
        _tunnel_down,
        f"no WireGuard traffic (UDP 51871) between {NODES[0]} and {NODES[1]} on eth0",
    ),
    "dropped after the sender's veth": (
        _dropped_after_decryption,
        "the marker never reached the destination's to-pod2",
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_a_broken_encryption_is_named(mutation: str) -> None:
    mutate, words = MUTATIONS[mutation]
    with wireguard_lab() as lab:
        sanity = mutate(lab)
        verdict = judged(lab, sanity)
        assert not verdict.ok and words in verdict.summary, verdict
