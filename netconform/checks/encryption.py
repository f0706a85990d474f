"""Transparent encryption, judged by packets: between two nodes the marked traffic must travel
only as WireGuard, and a capture on a path that is clear by design must see the marker, so
a capture that sees nothing can never pass (cilium-cli's encryption sanity mode).

Pure: takes netprobe's `capture` results (the sending node's uplink, the sanity path and
the destination pod's veth) and the two nodes' addresses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from netconform.verdict import Verdict

WIREGUARD_PORT = 51871  # Cilium's


def _flows(capture: Mapping[str, Any]) -> str:
    listed = [
        f"  {f['proto']} {f['src']}:{f['sport']} -> {f['dst']}:{f['dport']}: {f['packets']} packets"
        for f in capture.get("flows") or []
    ]
    head = f"{capture.get('interface')}: {capture.get('packets', 0)} packets, marker in "
    head += f"{capture.get('marker_packets', 0)}"
    return "\n".join([head, *listed[:10]])


def check_encrypted(
    uplink: Mapping[str, Any],
    sanity: Mapping[str, Any],
    delivered: Mapping[str, Any],
    ends: tuple[str, str],
    port: int = WIREGUARD_PORT,
) -> Verdict:
    """The marker was seen on the sanity path (the sender's veth) and on the destination pod's
    veth in the same window, never on the sending node's uplink, and that uplink carried
    WireGuard (UDP `port`) between the two nodes of `ends`. Without the destination's side, a
    drop after the sender's veth would look like encryption."""
    evidence = f"uplink {_flows(uplink)}\nsanity {_flows(sanity)}\ndestination {_flows(delivered)}"
    for side in (uplink, sanity, delivered):
        if "error" in side:
            return Verdict(False, f"encryption: the capture failed: {side['error']}", evidence)
    if not sanity.get("marker_packets"):
        return Verdict(
            False,
            f"encryption: the sanity capture on {sanity.get('interface')} never saw the marker: "
            "it proves nothing about the uplink (wrong interface, or no traffic was sent)",
            evidence,
        )
    if uplink.get("marker_packets"):
        leaked = [
            f"{f['proto']} {f['src']} -> {f['dst']}"
            for f in uplink.get("flows") or []
            if not (f["proto"] == "udp" and port in (f["sport"], f["dport"]))
        ]
        return Verdict(
            False,
            f"encryption: clear-text leak: the marker crossed {uplink.get('interface')} in "
            f"{uplink['marker_packets']} packets ({', '.join(leaked[:3]) or 'flows above'})",
            evidence,
        )
    tunnel = [
        f
        for f in uplink.get("flows") or []
        if f["proto"] == "udp"
        and port in (f["sport"], f["dport"])
        and {f["src"], f["dst"]} == set(ends)
    ]
    if not tunnel:
        return Verdict(
            False,
            f"encryption: no WireGuard traffic (UDP {port}) between {ends[0]} and {ends[1]} on "
            f"{uplink.get('interface')}: the marked traffic never went through the tunnel",
            evidence,
        )
    if not delivered.get("marker_packets"):
        return Verdict(
            False,
            f"encryption: the marker never reached the destination's {delivered.get('interface')}"
            ": it was dropped after the sender's veth, and a silent uplink proves nothing",
            evidence,
        )
    packets = sum(f["packets"] for f in tunnel)
    return Verdict(
        True,
        f"encryption: the marker crossed {uplink.get('interface')} only inside WireGuard "
        f"({packets} packets on UDP {port}); it left and reached the pods in clear",
        evidence,
    )


WG_PUBLIC_KEY = "network.cilium.io/wg-pub-key"


def check_wireguard_status(
    statuses: Mapping[str, Mapping[str, Any]], cilium_nodes: Iterable[Mapping[str, Any]]
) -> Verdict:
    """Every agent (node -> `cilium-dbg encrypt status -o json`) runs WireGuard with a peer
    per other node and reports no warning in its `msg`, and every CiliumNode publishes its
    public key."""
    nodes = list(cilium_nodes)
    peers_wanted = len(nodes) - 1
    problems, lines = [], []
    for node, status in sorted(statuses.items()):
        mode = status.get("mode") or "none"
        interfaces = (status.get("wireguard") or {}).get("interfaces") or []
        peers = sum(int(i.get("peer-count") or 0) for i in interfaces)
        lines.append(f"{node}: {mode}, {len(interfaces)} interface(s), {peers} peer(s)")
        if status.get("msg"):
            # The agent's own warning (e.g. kernel and agent state disagree), with exit 0.
            problems.append(f"{node}: {status['msg']}")
        if mode.lower() != "wireguard":
            problems.append(f"{node}: encryption {mode}, not WireGuard")
        elif peers != peers_wanted:
            problems.append(f"{node}: {peers} WireGuard peer(s), want {peers_wanted}")
    for cilium_node in nodes:
        meta = cilium_node.get("metadata") or {}
        if not (meta.get("annotations") or {}).get(WG_PUBLIC_KEY):
            problems.append(f"CiliumNode {meta.get('name')} has no {WG_PUBLIC_KEY}")
    evidence = "\n".join(lines)
    if problems:
        return Verdict(False, "wireguard: " + "; ".join(problems[:6]), evidence)
    return Verdict(
        True, f"wireguard: all {len(statuses)} agents encrypt with {peers_wanted} peer(s)", evidence
    )
