"""Manifests rendered from the spec: LB IP pools and the BGP control plane here, and all of
them together (with the probe workloads and reference policies) for `render_all`.

Rendered as plain dicts so they can be applied, dry-run against a real API
server and validated against the upstream CRD schemas without a template
language in between.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml

from netconform import gateway, policies, workloads
from netconform.cluster import kind_node_names
from netconform.manifest import MANAGED_BY, Manifest
from netconform.spec import Architecture
from netconform.workloads import RunNamespaces

CILIUM = "cilium.io/v2"
ADVERTISE_LABEL = {"netconform.io/advertise": "bgp"}
# Cilium's documented way to select every Service: a NotIn on a key nobody sets.
ALL_SERVICES = {
    "matchExpressions": [{"key": "netconform.io/no-bgp", "operator": "NotIn", "values": ["true"]}]
}


def _object(kind: str, name: str, spec: Manifest, labels: dict[str, str] | None = None) -> Manifest:
    return {
        "apiVersion": CILIUM,
        "kind": kind,
        "metadata": {"name": name, "labels": {**MANAGED_BY, **(labels or {})}},
        "spec": spec,
    }


def lb_pools(arch: Architecture) -> list[Manifest]:
    rendered = []
    for pool in arch.lb_ipam.pools:
        spec: Manifest = {"blocks": [{"cidr": str(pool.cidr)}]}
        if pool.service_selector:
            spec["serviceSelector"] = {"matchLabels": dict(pool.service_selector)}
        rendered.append(_object("CiliumLoadBalancerIPPool", pool.name, spec))
    return rendered


def l2_announcements(arch: Architecture) -> list[Manifest]:
    """Announce LB IPs on the nodes' links (ARP/NDP) when the spec says L2, not BGP."""
    if arch.lb_ipam.announce != "l2":
        return []
    spec = {"loadBalancerIPs": True, "interfaces": ["^eth[0-9]+"]}
    announcement = _object("CiliumL2AnnouncementPolicy", "netconform", spec)
    return [{**announcement, "apiVersion": "cilium.io/v2alpha1"}]


def bgp(arch: Architecture, addresses: Mapping[str, str] | None = None) -> list[Manifest]:
    """Every node peers with every declared router and announces what the spec says.
    `addresses` maps a peer's name to the address really peered with (a router container
    on kind), defaulting to the spec's."""
    if arch.bgp is None:
        return []
    addresses = addresses or {}
    peers = [
        {
            "name": peer.name,
            "peerASN": peer.peer_asn,
            "peerAddress": addresses.get(peer.name, str(peer.address)),
            "peerConfigRef": {"name": "netconform"},
        }
        for peer in arch.bgp.peers
    ]
    families = sorted({peer.address.version for peer in arch.bgp.peers})
    cluster = _object(
        "CiliumBGPClusterConfig",
        "netconform",
        {
            "bgpInstances": [
                {
                    "name": f"asn-{arch.bgp.local_asn}",
                    "localASN": arch.bgp.local_asn,
                    "peers": peers,
                }
            ]
        },
    )
    peer_spec: Manifest = {
        "families": [
            {
                "afi": f"ipv{version}",
                "safi": "unicast",
                "advertisements": {"matchLabels": ADVERTISE_LABEL},
            }
            for version in families
        ]
    }
    if arch.bgp.timers:
        peer_spec["timers"] = {
            "holdTimeSeconds": arch.bgp.timers.hold,
            "keepAliveTimeSeconds": arch.bgp.timers.keepalive,
        }
    peer_config = _object("CiliumBGPPeerConfig", "netconform", peer_spec)
    advertisements: list[Manifest] = []
    if "pod-cidr" in arch.bgp.advertise:
        advertisements.append({"advertisementType": "PodCIDR"})
    if "lb-ips" in arch.bgp.advertise:
        advertisements.append(
            {
                "advertisementType": "Service",
                "service": {"addresses": ["LoadBalancerIP"]},
                "selector": ALL_SERVICES,
            }
        )
    advertisement = _object(
        "CiliumBGPAdvertisement", "netconform", {"advertisements": advertisements}, ADVERTISE_LABEL
    )
    return [cluster, peer_config, advertisement]


def render_all(
    arch: Architecture, layout: RunNamespaces | None = None, image: str = "python:3"
) -> list[Manifest]:
    """Every manifest the suite renders for this architecture: probe workloads (and the
    headless Service the DNS suite asks, the capture pods of the encryption suite),
    reference policies, LB pools, BGP, and the Gateway with its routes and certificates."""
    layout = layout or RunNamespaces.declared_by(arch, "render")
    return [
        *workloads.render(arch, layout, image),
        workloads.headless_service(arch, layout),
        *workloads.capture_pods(layout, kind_node_names(arch), image),
        *policies.render(arch, layout),
        *lb_pools(arch),
        *l2_announcements(arch),
        *bgp(arch),
        *gateway.render(arch, layout),
    ]


# The run the reference manifests are labelled with; they live in the declared namespaces, so a
# user can adopt them as written.
REFERENCE_RUN = "reference"
GENERATED = "# Generated by `make manifests` from architecture.yaml: do not edit, re-run it.\n"


def reference_files(arch: Architecture) -> dict[str, str]:
    """The reference manifests as reviewable files, one per capability (file name -> YAML), so
    a pull request that changes the spec or a pinned version shows what it changes."""
    layout = RunNamespaces.declared_by(arch, REFERENCE_RUN)
    groups = {
        "policies.yaml": policies.render(arch, layout),
        "lb-ipam.yaml": lb_pools(arch),
        "l2-announcements.yaml": l2_announcements(arch),
        "bgp.yaml": bgp(arch),
        "gateway.yaml": gateway.render(arch, layout),
    }
    return {
        name: GENERATED + yaml.safe_dump_all(docs, sort_keys=False)
        for name, docs in groups.items()
        if docs
    }
