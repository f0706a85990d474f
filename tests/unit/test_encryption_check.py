"""The encryption checkers on agent status and capture results shaped as they come."""

from __future__ import annotations

from netconform.checks.encryption import WG_PUBLIC_KEY, check_encrypted, check_wireguard_status

NODES = ["198.18.192.2", "198.18.192.3"]
ENDS = (NODES[0], NODES[1])


def status(mode: str = "Wireguard", peers: int = 1) -> dict:
    interface = {"name": "cilium_wg0", "listen-port": 51871, "peer-count": peers, "peers": []}
    return {"mode": mode, "wireguard": {"interfaces": [interface]}}


def cilium_node(name: str, key: str | None = "abc=") -> dict:
    annotations = {WG_PUBLIC_KEY: key} if key else {}
    return {"metadata": {"name": name, "annotations": annotations}}


def test_every_agent_with_its_peers_and_every_node_with_its_key_passes() -> None:
    verdict = check_wireguard_status(
        {"a": status(), "b": status()}, [cilium_node("a"), cilium_node("b")]
    )
    assert verdict.ok and "all 2 agents encrypt with 1 peer(s)" in verdict.summary


def test_a_missing_peer_a_disabled_agent_and_a_missing_key_are_named() -> None:
    verdict = check_wireguard_status(
        {"a": status(peers=0), "b": status(mode="Disabled")},
        [cilium_node("a"), cilium_node("b", key=None)],
    )
    assert not verdict.ok
    assert "a: 0 WireGuard peer(s), want 1" in verdict.summary
    assert "b: encryption Disabled, not WireGuard" in verdict.summary
    assert f"CiliumNode b has no {WG_PUBLIC_KEY}" in verdict.summary


def test_an_agents_own_warning_fails_although_its_mode_and_peers_look_right() -> None:
    mismatch = {**status(), "msg": "kernel and agent WireGuard state differ"}
    verdict = check_wireguard_status(
        {"a": status(), "b": mismatch}, [cilium_node("a"), cilium_node("b")]
    )
    assert not verdict.ok
    assert verdict.summary == "wireguard: b: kernel and agent WireGuard state differ"


def test_a_failed_capture_is_reported_not_judged() -> None:
    sanity = {"interface": "lxc1", "packets": 3, "marker_packets": 3, "flows": []}
    verdict = check_encrypted(
        {"error": "capture on eth0: [Errno 1] Operation not permitted"}, sanity, sanity, ENDS
    )
    assert not verdict.ok and "the capture failed: capture on eth0" in verdict.summary


def wireguard(src: str, dst: str) -> dict:
    return {"proto": "udp", "src": src, "sport": 51871, "dst": dst, "dport": 51871, "packets": 9}


UPLINK = {"interface": "eth0", "packets": 9, "marker_packets": 0, "flows": [wireguard(*NODES)]}
CLEAR = {"interface": "lxc1", "packets": 10, "marker_packets": 10, "flows": []}


def test_the_marker_must_arrive_and_the_tunnel_join_the_two_nodes() -> None:
    assert check_encrypted(UPLINK, CLEAR, {**CLEAR, "interface": "lxc9"}, ENDS).ok
    lost = check_encrypted(UPLINK, CLEAR, {**CLEAR, "interface": "lxc9", "marker_packets": 0}, ENDS)
    assert not lost.ok and "never reached the destination's lxc9" in lost.summary
    elsewhere = {**UPLINK, "flows": [wireguard(NODES[0], "198.18.192.9")]}
    other = check_encrypted(elsewhere, CLEAR, CLEAR, ENDS)
    assert not other.ok and f"between {NODES[0]} and {NODES[1]}" in other.summary
