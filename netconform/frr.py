"""The external router's FRR configuration, rendered from the spec's BGP section.

One renderer for every place an FRR router stands in for the spec's BGP peer:
the lab's namespace today, the router container next to kind for users. The
router is passive about policy (`no bgp ebgp-requires-policy`, as cilium-cli's
BGP test runs it) so that what it learns is exactly what the nodes announce.
"""

from __future__ import annotations

from collections.abc import Sequence

from netconform.spec import Bgp, Peer

PEER_GROUP = "nodes"


def render_frr_conf(
    bgp: Bgp, router: Peer, neighbors: Sequence[str], connect_retry: int | None = None
) -> str:
    """frr.conf for `router` (one of the spec's peers), peering with every node address in
    `neighbors` as the cluster's ASN. `connect_retry` shortens FRR's 120 s default."""
    lines = [
        "frr defaults traditional",
        f"hostname {router.name}",
        "log stdout",
        f"router bgp {router.peer_asn}",
        f" bgp router-id {router.address}",
        " no bgp ebgp-requires-policy",
        " no bgp network import-check",
        f" neighbor {PEER_GROUP} peer-group",
        f" neighbor {PEER_GROUP} remote-as {bgp.local_asn}",
    ]
    if connect_retry is not None:
        lines.append(f" neighbor {PEER_GROUP} timers connect {connect_retry}")
    lines += [f" neighbor {address} peer-group {PEER_GROUP}" for address in neighbors]
    lines += [
        " address-family ipv4 unicast",
        f"  neighbor {PEER_GROUP} activate",
        " exit-address-family",
        "",
    ]
    return "\n".join(lines)
