"""The LAN beside kind that the user's addresses live on: the BGP router, the DNS servers and
the egress targets stand at the addresses the user's files name, so those files apply as
written.

Where the spec declares `cluster.node_network`, the bring-up makes a Docker network of that
subnet and attaches every node to it (a second NIC, as a homelab node has on its LAN), plus
one network for each declared address outside it (an egress target on the internet, a
resolver elsewhere). Every node gets an address on each, from the top of the subnet, so the
low addresses a homelab gives its router and servers stay free; Docker's own gateway takes
the highest free one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from netconform.docker_cli import docker
from netconform.spec import Architecture, Client, External

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# The size of a network made around a declared address outside the node network.
AROUND = 24


class LanError(RuntimeError):
    """The LAN cannot be laid out or made; the message names the addresses."""


def probe_address(external: External | Client) -> str:
    """Where an external or a client stands: its one address, or the first host of its range."""
    network = external.cidr
    return str(next(iter(network.hosts()), network[0]))


def claimed(arch: Architecture) -> dict[str, str]:
    """Every address the spec places something at, and what."""
    found: dict[str, str] = {}
    for peer in arch.bgp.peers if arch.bgp else []:
        found[str(peer.address)] = f"BGP peer {peer.name}"
    for zone in arch.dns.zones:
        for address in zone.forward_to:
            found.setdefault(str(address), f"DNS server of {zone.name}")
    for address in arch.dns.upstream:
        found.setdefault(str(address), "the external resolver")
    for name, external in arch.externals.items():
        found.setdefault(probe_address(external), f"external {name}")
    for name, client in arch.clients.items():
        found.setdefault(probe_address(client), f"client {name}")
    return found


@dataclass(frozen=True)
class Segment:
    name: str
    subnet: Network
    gateway: str
    nodes: dict[str, str] = field(default_factory=dict)  # node -> its address here
    purpose: str = "the nodes' network (cluster.node_network)"

    def holds(self, address: str) -> bool:
        return ipaddress.ip_address(address) in self.subnet


@dataclass(frozen=True)
class Lan:
    segments: tuple[Segment, ...] = ()

    def segment_of(self, address: str) -> Segment | None:
        return next((s for s in self.segments if s.holds(address)), None)

    def placed(self, address: str) -> list[str]:
        """`docker run` flags that put a container at `address`."""
        segment = self.segment_of(address)
        if segment is None:
            raise LanError(f"{address} is on no network beside kind")
        return ["--network", segment.name, "--ip", address]

    def node_addresses(self, address: str) -> dict[str, str]:
        """Each node's own address on the network of `address` (where it peers from)."""
        segment = self.segment_of(address)
        return dict(segment.nodes) if segment else {}

    def describe(self) -> str:
        return "; ".join(
            f"{s.name} {s.subnet} (nodes {', '.join(s.nodes.values())})" for s in self.segments
        )


def _around(address: Address) -> Network:
    return ipaddress.ip_network(f"{address}/{min(AROUND, address.max_prefixlen)}", strict=False)


def plan(arch: Architecture, nodes: Sequence[str]) -> Lan:
    """The networks and every node's address on each; empty without `cluster.node_network`."""
    base = arch.cluster.node_network
    if base is None:
        return Lan()
    taken = claimed(arch)
    subnets: dict[Network, str] = {base: "the nodes' network (cluster.node_network)"}
    for address, what in taken.items():
        ip = ipaddress.ip_address(address)
        if not any(ip in s for s in subnets):
            around = _around(ip)
            clash = next((s for s in subnets if s.overlaps(around)), None)
            if clash is not None:
                raise LanError(f"{address} ({what}): {around} would overlap {clash}")
            subnets[around] = f"{what} ({address})"
    prefix = f"netconform-{arch.cluster.name}-lan"
    return Lan(
        tuple(
            _segment(f"{prefix}{i or ''}", subnet, nodes, taken, purpose)
            for i, (subnet, purpose) in enumerate(subnets.items())
        )
    )


def _segment(
    name: str, subnet: Network, nodes: Sequence[str], taken: Iterable[str], purpose: str
) -> Segment:
    used = set(taken)
    free = (str(h) for h in reversed(list(subnet.hosts())) if str(h) not in used)
    picked = [next(free, None) for _ in range(len(nodes) + 1)]
    if None in picked:
        raise LanError(f"{subnet} has too few free addresses for {len(nodes)} nodes")
    gateway, *addresses = picked
    placed = dict(zip(nodes, map(str, addresses), strict=True))
    return Segment(name, subnet, str(gateway), placed, purpose)


def create(lan: Lan) -> None:
    """Make each network and attach the nodes; a network made before (a reused cluster) is
    kept, and only nodes not yet on it are attached."""
    for segment in lan.segments:
        try:
            attached = docker("network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{end}}",
                              segment.name).split()  # fmt: skip
        except RuntimeError:
            try:
                docker(
                    "network", "create", "--driver", "bridge", "--subnet", str(segment.subnet),
                    "--gateway", segment.gateway, "--label",
                    "app.kubernetes.io/managed-by=netconform", segment.name,
                )  # fmt: skip
            except RuntimeError as error:
                raise LanError(
                    f"cannot make {segment.subnet} beside kind for {segment.purpose}: "
                    f"{str(error).rsplit(': ', 1)[-1]}; Docker's networks hold "
                    f"{', '.join(_docker_subnets()) or 'nothing'}: choose addresses outside them"
                ) from None
            attached = []
        for node, address in segment.nodes.items():
            if node not in attached:
                docker("network", "connect", "--ip", address, segment.name, node)


def _docker_subnets() -> list[str]:
    names = docker("network", "ls", "--format", "{{.Name}}").split()
    return [
        subnet
        for name in names
        for subnet in docker(
            "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", name
        ).split()
        if ":" not in subnet
    ]


def remove_network(name: str) -> None:
    try:
        docker("network", "rm", name)
    except RuntimeError as error:
        if "not found" not in str(error) and "No such network" not in str(error):
            raise LanError(f"docker network rm {name}: {error}") from None


def remove(lan: Lan) -> None:
    for segment in lan.segments:
        remove_network(segment.name)
