"""Clients outside the cluster that a flow comes from (a laptop, a NAS on the LAN): one
container each at the client's address beside kind, with a route to every node's pods via
that node, as a LAN whose router learns the pod CIDRs from the nodes reaches them. The probes
of a client's cells run netprobe there, so the destination sees the client's own address."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from netconform.docker_cli import docker
from netconform.exec import DockerExec
from netconform.external_targets import address_of, placed, remove, run_labels
from netconform.kube import Kube
from netconform.lan import Lan, probe_address
from netconform.manifest import Manifest
from netconform.matrix import outside_sources
from netconform.probe_client import NETPROBE_ARGV, NETPROBE_FILE, ProbeSite, mounted
from netconform.spec import Architecture


@dataclass(frozen=True)
class Client:
    name: str
    container: str
    address: str

    @property
    def site(self) -> ProbeSite:
        return ProbeSite(DockerExec(self.container), NETPROBE_ARGV)


def container_name(run: str, client: str) -> str:
    return f"netconform-{run}-client-{client}"


def pod_routes(nodes: list[Manifest], next_hops: Mapping[str, str]) -> dict[str, str]:
    """Each node's pod CIDRs (from its CiliumNode) via that node's address: on the client's
    own network where the node has one (`next_hops`), else its InternalIP."""
    routes = {}
    for node in nodes:
        name = node["metadata"]["name"]
        spec = node.get("spec") or {}
        internal = next(
            (a["ip"] for a in spec.get("addresses") or [] if a.get("type") == "InternalIP"), None
        )
        hop = next_hops.get(name) or internal
        for cidr in (spec.get("ipam") or {}).get("podCIDRs") or []:
            if hop and ipaddress.ip_network(cidr).version == ipaddress.ip_address(hop).version:
                routes[cidr] = hop
    return routes


def start(
    arch: Architecture,
    run: str,
    image: str,
    tool_image: str,
    kube: Kube,
    lan: Lan | None = None,
    running: Collection[str] = (),
    netprobe: Path = NETPROBE_FILE,
) -> dict[str, Client]:
    """A container per client a flow comes from (but those `running` already), routed to the
    pods; `tool_image` brings `ip` (the router's FRR image)."""
    started: dict[str, Client] = {}
    wanted = [s for s in outside_sources(arch) if s.kind == "client" and s.name not in running]
    nodes = kube.list("cilium.io/v2", "CiliumNode") if wanted else []
    try:
        for source in wanted:
            declared = probe_address(arch.clients[source.name])
            container = container_name(run, source.name)
            docker(
                *("run", "-d", "--rm", "--name", container, *placed(lan, declared)),
                *run_labels(run),
                *mounted(netprobe),
                *(image, "sleep", "infinity"),
            )
            address = address_of(container, lan, declared)
            started[source.name] = Client(source.name, container, address)
            hops = lan.node_addresses(address) if lan is not None else {}
            for cidr, hop in pod_routes(nodes, hops).items():
                route(container, cidr, hop, tool_image, run)
    except RuntimeError:
        stop(started.values())
        raise
    return started


def route(container: str, cidr: str, hop: str, tool_image: str, run: str) -> None:
    """The client sends to `cidr` through `hop`; `tool_image` brings `ip`, run once in the
    client's network namespace."""
    docker(
        *("run", "--rm", "--network", f"container:{container}"),
        *("--cap-add", "NET_ADMIN", "--entrypoint", "ip", *run_labels(run)),
        *(tool_image, "route", "replace", cidr, "via", hop),
    )


def stop(clients: Iterable[Client]) -> None:
    remove(*(c.container for c in clients))
