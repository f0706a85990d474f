"""The ways into a group's Service from outside the cluster, as the spec declares them: every
node's address on each node port, the LoadBalancer address sent through each node, and a node
port no Service holds, which stays closed everywhere. Each way in is asked several times, since
the backend is picked per connection; the lab and the cluster probe them alike."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netconform.checks.services import EntryPoint
from netconform.probe_client import NetprobeUnanswered, ProbeSite
from netconform.probing import host_port
from netconform.spec import GroupService

# Tries per way in: with two pods behind it, one of them never picked happens once in 2**7.
TRIES = 8


@dataclass(frozen=True)
class Exposed:
    """One group's NodePort or LoadBalancer Service in one environment, as the cluster made it,
    and what a flow lets the client reach of it."""

    name: str
    declared: GroupService
    node_ports: Mapping[int, int]  # its TCP port -> the node port Kubernetes gave it
    allowed: frozenset[int]  # its ports a flow lets the client reach
    http: frozenset[int] = frozenset()  # its ports that serve HTTP
    addresses: Sequence[str] = field(default_factory=list)  # LoadBalancer addresses

    def _pods(
        self, node: str, pods_by_node: Mapping[str, Collection[str]], port: int
    ) -> frozenset[str]:
        """Who may answer at `node` on `port`: with externalTrafficPolicy Local the node's own
        pods, with Cluster any; nobody where no flow allows it."""
        if port not in self.allowed:
            return frozenset()
        if self.declared.external_traffic_policy == "Local":
            return frozenset(pods_by_node.get(node, ()))
        return frozenset(pod for pods in pods_by_node.values() for pod in pods)

    def through_nodes(
        self, nodes: Mapping[str, str], pods_by_node: Mapping[str, Collection[str]]
    ) -> list[EntryPoint]:
        """Every node's address on every node port."""
        return [
            self._entry(node, host_port(address, node_port), port, pods_by_node)
            for node, address in sorted(nodes.items())
            for port, node_port in sorted(self.node_ports.items())
        ]

    def through_balancer(
        self, node: str, pods_by_node: Mapping[str, Collection[str]]
    ) -> list[EntryPoint]:
        """Each LoadBalancer address on each port, sent through `node`."""
        return [
            self._entry(node, host_port(address, port), port, pods_by_node)
            for address in self.addresses
            for port in sorted(self.node_ports)
        ]

    def _entry(
        self, node: str, address: str, port: int, pods_by_node: Mapping[str, Collection[str]]
    ) -> EntryPoint:
        local = self.declared.external_traffic_policy == "Local"
        pods = self._pods(node, pods_by_node, port)
        return EntryPoint(self.name, node, address, pods, local, port in self.http)


def closed(nodes: Mapping[str, str], node_port: int) -> list[EntryPoint]:
    """A node port no Service holds, on every node: nothing may connect."""
    return [
        EntryPoint("no Service", node, host_port(address, node_port))
        for node, address in sorted(nodes.items())
    ]


def probe_entries(
    site: ProbeSite, entries: Sequence[EntryPoint], timeout: float, slack: float
) -> tuple[dict[EntryPoint, list[dict[str, Any]]], dict[EntryPoint, str]]:
    """Every way in asked TRIES times in one batch from `site`: the results by way in, and
    the command that asks one again."""
    probes = [
        {"id": f"{entry}#{n}", **_asked(entry), "timeout": timeout}
        for entry in entries
        for n in range(TRIES)
    ]
    try:
        results = site.probe(probes, timeout + slack)
    except NetprobeUnanswered as error:
        results = [{"verdict": "no-answer", "detail": str(error)}] * len(probes)
    tries: dict[EntryPoint, list[dict[str, Any]]] = {entry: [] for entry in entries}
    for index, result in enumerate(results):
        tries[entries[index // TRIES]].append(result)
    return tries, {entry: site.command_line(probes[i * TRIES]) for i, entry in enumerate(entries)}


def _asked(entry: EntryPoint) -> dict[str, Any]:
    if entry.http:
        return {"http": f"http://{entry.address}/"}
    return {"tcp": entry.address, "read": True}
