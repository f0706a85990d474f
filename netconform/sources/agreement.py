"""Where the spec and the user's files must say the same: the BGP peers and ASNs, the LB pools,
the DNS zones and where they forward. A disagreement is an error naming both places, since a
run would otherwise test one and judge by the other.

Also what the user's selectors need of the kind cluster: the node labels their BGP and L2
policies select, and the Service labels their BGP advertisements select.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from typing import Any

from netconform.sources.corefile import forwarding
from netconform.sources.tree import Sourced
from netconform.spec import Architecture


def _spec_of(doc: Sourced) -> dict[str, Any]:
    return doc.manifest.get("spec") or {}


def bgp(arch: Architecture, docs: Sequence[Sourced], spec_file: str) -> Iterator[str]:
    configs = [d for d in docs if d.kind == "CiliumBGPClusterConfig"]
    if not configs:
        return
    if arch.bgp is None:
        yield f"{configs[0]}: the user's files configure BGP, {spec_file} declares no bgp section"
        return
    declared = {str(p.address): p for p in arch.bgp.peers}
    seen: set[str] = set()
    for config in configs:
        for i, instance in enumerate(_spec_of(config).get("bgpInstances") or []):
            where = f"{config.origin}: CiliumBGPClusterConfig {config.name} bgpInstances[{i}]"
            if instance.get("localASN") != arch.bgp.local_asn:
                yield (
                    f"{where}.localASN is {instance.get('localASN')}, {spec_file} "
                    f"bgp.local_asn is {arch.bgp.local_asn}"
                )
            for j, peer in enumerate(instance.get("peers") or []):
                address = str(peer.get("peerAddress", "")).split("/")[0]
                seen.add(address)
                spec_peer = declared.get(address)
                if spec_peer is None:
                    yield (
                        f"{where}.peers[{j}].peerAddress {address} is a peer {spec_file} does not "
                        f"declare (bgp.peers: {', '.join(declared) or 'none'})"
                    )
                elif peer.get("peerASN") != spec_peer.peer_asn:
                    yield (
                        f"{where}.peers[{j}].peerASN is {peer.get('peerASN')}, {spec_file} "
                        f"bgp.peers {spec_peer.name} peer_asn is {spec_peer.peer_asn}"
                    )
    for address, peer in declared.items():
        if address not in seen:
            yield f"{spec_file} bgp.peers {peer.name} ({address}) is in no CiliumBGPClusterConfig"


def _pool_blocks(doc: Sourced) -> list[str]:
    blocks = []
    for block in _spec_of(doc).get("blocks") or []:
        if block.get("cidr"):
            blocks.append(str(ipaddress.ip_network(block["cidr"], strict=False)))
        elif block.get("start"):
            blocks.append(f"{block['start']}-{block.get('stop', block['start'])}")
    return blocks


def pools(arch: Architecture, docs: Sequence[Sourced], spec_file: str) -> Iterator[str]:
    found = {d.name: d for d in docs if d.kind == "CiliumLoadBalancerIPPool"}
    if not found:
        return
    declared = {pool.name: pool for pool in arch.lb_ipam.pools}
    for name, doc in found.items():
        pool = declared.get(name)
        if pool is None:
            yield f"{doc}: a pool {spec_file} does not declare (lb_ipam.pools)"
            continue
        if _pool_blocks(doc) != [str(pool.cidr)]:
            yield (
                f"{doc}: blocks {', '.join(_pool_blocks(doc))}, {spec_file} lb_ipam.pools "
                f"{name} cidr {pool.cidr}"
            )
        selector = (_spec_of(doc).get("serviceSelector") or {}).get("matchLabels")
        if (selector or None) != (dict(pool.service_selector or {}) or None):
            yield (
                f"{doc}: serviceSelector.matchLabels {selector}, {spec_file} lb_ipam.pools "
                f"{name} service_selector {dict(pool.service_selector or {})}"
            )
    for name in declared:
        if name not in found:
            yield f"{spec_file} lb_ipam.pools {name} is in no CiliumLoadBalancerIPPool of the files"


def dns(arch: Architecture, corefile: str, origin: str, spec_file: str) -> Iterator[str]:
    forwards = forwarding(corefile)
    for zone in arch.dns.zones:
        want = tuple(str(a) for a in zone.forward_to)
        got = forwards.get(zone.name)
        if got is None:
            yield f"{origin}: no server block for {zone.name}, which {spec_file} dns.zones declares"
        elif set(got) != set(want):
            yield (
                f"{origin}: {zone.name} forwards to {', '.join(got) or 'nothing'}, {spec_file} "
                f"dns.zones {zone.name} forward_to {', '.join(want)}"
            )
    declared = {zone.name for zone in arch.dns.zones} | {".", arch.dns.cluster_domain}
    for zone, targets in forwards.items():
        if zone not in declared and targets:
            yield (
                f"{origin}: {zone} forwards to {', '.join(targets)}: a zone {spec_file} does "
                "not declare"
            )
    upstream = tuple(str(a) for a in arch.dns.upstream)
    root = forwards.get(".", ())
    if upstream and set(root) != set(upstream):
        yield (
            f"{origin}: the root zone forwards to {', '.join(root) or 'nothing'}, {spec_file} "
            f"dns.upstream is {', '.join(upstream)}"
        )


def _selected(selector: dict[str, Any] | None) -> dict[str, str]:
    """Labels that make an object match a selector: its matchLabels, the first value of each
    In expression, and for Exists an empty value."""
    selector = selector or {}
    labels = {str(k): str(v) for k, v in (selector.get("matchLabels") or {}).items()}
    for expression in selector.get("matchExpressions") or []:
        if expression.get("operator") == "In" and expression.get("values"):
            labels[str(expression["key"])] = str(expression["values"][0])
        elif expression.get("operator") == "Exists":
            labels[str(expression["key"])] = ""
    return labels


def node_labels(docs: Sequence[Sourced]) -> dict[str, str]:
    """What the kind nodes must carry for the user's BGP and L2 policies to select them."""
    labels: dict[str, str] = {}
    for doc in docs:
        if doc.kind in ("CiliumBGPClusterConfig", "CiliumL2AnnouncementPolicy"):
            labels.update(_selected(_spec_of(doc).get("nodeSelector")))
    return labels


def advertised_service_labels(docs: Sequence[Sourced]) -> dict[str, str]:
    """What a LoadBalancer Service must carry for the user's BGP advertisements to announce it."""
    labels: dict[str, str] = {}
    for doc in docs:
        if doc.kind != "CiliumBGPAdvertisement":
            continue
        for advertisement in _spec_of(doc).get("advertisements") or []:
            if advertisement.get("advertisementType") == "Service":
                labels.update(_selected(advertisement.get("selector")))
    return labels
