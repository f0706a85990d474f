"""A client beside kind reaches each node's pods through that node: on its own network where
the node has an address there, else the node's InternalIP; an address family the next hop
does not have is left out."""

from netconform.clients import pod_routes


def node(name: str, internal: str, *cidrs: str) -> dict:
    addresses = [{"type": "InternalIP", "ip": internal}, {"type": "CiliumInternalIP", "ip": "x"}]
    return {
        "metadata": {"name": name},
        "spec": {"addresses": addresses, "ipam": {"podCIDRs": list(cidrs)}},
    }


def test_each_pod_cidr_goes_via_its_own_node() -> None:
    nodes = [
        node("home-worker", "198.18.192.3", "10.244.1.0/24", "fd00:10:244:1::/64"),
        node("home-worker2", "198.18.192.4", "10.244.2.0/24"),
        {"metadata": {"name": "no-spec-yet"}},
    ]
    assert pod_routes(nodes, {}) == {
        "10.244.1.0/24": "198.18.192.3",
        "10.244.2.0/24": "198.18.192.4",
    }
    on_the_lan = pod_routes(nodes, {"home-worker": "198.18.10.253"})
    assert on_the_lan == {"10.244.1.0/24": "198.18.10.253", "10.244.2.0/24": "198.18.192.4"}
