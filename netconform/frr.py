"""The external router's FRR configuration, rendered from the spec's BGP section.

One renderer for every place an FRR router stands in for the spec's BGP peer:
the lab's namespace today, the router container next to kind for users. The
router is passive about policy (`no bgp ebgp-requires-policy`, as cilium-cli's
BGP test runs it) so that what it learns is exactly what the nodes announce.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netconform.spec import Bgp, Peer

PEER_GROUP = "nodes"


BLACKHOLE = "blackhole"
# Daemons the router container runs: zebra installs what bgpd learns into the kernel, so
# traffic from behind the router follows the announced routes; staticd holds the
# blackholes. The option lines are the packaged defaults.
DAEMONS = """bgpd=yes
vtysh_enable=yes
zebra_options="  -A 127.0.0.1 -s 90000000"
bgpd_options="   -A 127.0.0.1"
"""


def render_frr_conf(
    bgp: Bgp,
    router: Peer,
    neighbors: Sequence[str],
    connect_retry: int | None = None,
    static_routes: Mapping[str, str] | None = None,
) -> str:
    """frr.conf for `router` (one of the spec's peers), peering with every node address in
    `neighbors` as the cluster's ASN. `connect_retry` shortens FRR's 120 s default.
    `static_routes` (prefix -> interface or BLACKHOLE) keeps traffic for a prefix that no
    node announces from following the router's default route off the lab."""
    lines = [
        "frr defaults traditional",
        f"hostname {router.name}",
        "log stdout",
        *(f"ip route {prefix} {via}" for prefix, via in (static_routes or {}).items()),
        f"router bgp {router.peer_asn}",
        f" bgp router-id {router.address}",
        " no bgp ebgp-requires-policy",
        " no bgp network import-check",
        f" neighbor {PEER_GROUP} peer-group",
        f" neighbor {PEER_GROUP} remote-as {bgp.local_asn}",
    ]
    if connect_retry is not None:
        lines.append(f" neighbor {PEER_GROUP} timers connect {connect_retry}")
    if bgp.timers:
        lines.append(f" neighbor {PEER_GROUP} timers {bgp.timers.keepalive} {bgp.timers.hold}")
    lines += [f" neighbor {address} peer-group {PEER_GROUP}" for address in neighbors]
    lines += [
        " address-family ipv4 unicast",
        f"  neighbor {PEER_GROUP} activate",
        " exit-address-family",
        "",
    ]
    return "\n".join(lines)
