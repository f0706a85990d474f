"""BGP control plane: did Cilium derive, for every node, the BGP instance the architecture wants,
and do the agents report their sessions up?

Pure: reads the CiliumBGPNodeConfig objects the operator writes (one per node)
and compares them with the spec's local ASN and peers.
"""

from __future__ import annotations

from collections.abc import Sequence

from netconform.manifest import Manifest
from netconform.spec import Bgp
from netconform.verdict import Verdict

SHOWN = 6


def _peer(peer: Manifest) -> str:
    return f"{peer.get('peerAddress')} AS{peer.get('peerASN')}"


def _problems(node: str, config: Manifest | None, want: Bgp) -> list[str]:
    if config is None:
        return [f"{node}: no CiliumBGPNodeConfig"]
    instances = config.get("spec", {}).get("bgpInstances") or []
    instance = next((i for i in instances if i.get("localASN") == want.local_asn), None)
    if instance is None:
        seen = [i.get("localASN") for i in instances]
        return [f"{node}: no BGP instance with local ASN {want.local_asn} (has {seen})"]
    peers = {_peer(p) for p in instance.get("peers") or []}
    return [
        f"{node}: no peer {wanted} (has {', '.join(sorted(peers)) or 'none'})"
        for wanted in (f"{peer.address} AS{peer.peer_asn}" for peer in want.peers)
        if wanted not in peers
    ]


def _describe(node: str, config: Manifest) -> str:
    instances = []
    for instance in config.get("spec", {}).get("bgpInstances") or []:
        peers = ", ".join(_peer(p) for p in instance.get("peers") or [])
        instances.append(f"AS{instance.get('localASN')} -> {peers or 'no peers'}")
    return f"{node}: {'; '.join(instances) or 'no instances'}"


def check_bgp_node_configs(nodes: Sequence[str], configs: Sequence[Manifest], want: Bgp) -> Verdict:
    by_node = {c["metadata"]["name"]: c for c in configs}
    problems = [p for node in nodes for p in _problems(node, by_node.get(node), want)]
    evidence = "\n".join(_describe(name, c) for name, c in sorted(by_node.items()))
    if problems:
        return Verdict(
            False, f"bgp: {len(problems)} problem(s): " + "; ".join(problems[:SHOWN]), evidence
        )
    return Verdict(
        True,
        f"bgp: all {len(nodes)} nodes peer as AS{want.local_asn} with {len(want.peers)} peer(s)",
        evidence,
    )


ESTABLISHED = "established"


def _peering(node: str, config: Manifest | None, address: str) -> str | None:
    if config is None:
        return f"{node}: no CiliumBGPNodeConfig"
    instances = (config.get("status") or {}).get("bgpInstances") or []
    peers = [p for i in instances for p in i.get("peers") or [] if p.get("peerAddress") == address]
    if not peers:
        return f"{node}: no status for peer {address}"
    state = peers[0].get("peeringState") or "unknown"
    return None if state == ESTABLISHED else f"{node}: peer {address} {state}, not {ESTABLISHED}"


def _status(node: str, config: Manifest) -> str:
    instances = (config.get("status") or {}).get("bgpInstances") or []
    peers = [
        f"{p.get('peerAddress')} {p.get('peeringState') or 'unknown'}"
        for i in instances
        for p in i.get("peers") or []
    ]
    return f"{node}: {', '.join(peers) or 'no peer status'}"


def check_bgp_peering(
    nodes: Sequence[str], configs: Sequence[Manifest], peers: Sequence[str]
) -> Verdict:
    """The agents' own view (the node configs' status): every node's session with every
    router address in `peers` is established."""
    by_node = {c["metadata"]["name"]: c for c in configs}
    problems = [
        problem
        for node in nodes
        for address in peers
        if (problem := _peering(node, by_node.get(node), address))
    ]
    evidence = "CiliumBGPNodeConfig status:\n" + "\n".join(
        _status(name, c) for name, c in sorted(by_node.items())
    )
    if problems:
        return Verdict(False, f"bgp peering: {'; '.join(problems[:SHOWN])}", evidence)
    return Verdict(
        True,
        f"bgp peering: all {len(nodes)} nodes {ESTABLISHED} with {len(peers)} peer(s)",
        evidence,
    )
