"""The ways into a group's Service from outside the cluster, as the spec declares them: every
node's address on the node port (a LoadBalancer has one too), and a port no Service exposes,
which stays closed. Each way in is asked several times, since the backend is picked per
connection; the lab and the cluster probe them alike."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from netconform.checks.services import EntryPoint
from netconform.probe_client import NetprobeUnanswered, ProbeSite
from netconform.probing import host_port
from netconform.spec import GroupService

# Tries per way in: with two pods behind it, one of them never picked happens once in 2**7.
TRIES = 8


def entry_points(
    service: str,
    declared: GroupService,
    allowed: bool,
    pods_by_node: Mapping[str, Collection[str]],
    nodes: Mapping[str, str],
    node_port: int,
    closed_port: int,
) -> list[EntryPoint]:
    """`allowed`: a flow lets the client reach the group. With externalTrafficPolicy Local
    only a node's own pods answer there, seeing the client's address; with Cluster every node
    answers from any pod. `closed_port` is a node port no Service holds."""
    local = declared.external_traffic_policy == "Local"
    everywhere = frozenset(pod for pods in pods_by_node.values() for pod in pods)
    entries = []
    for node, address in sorted(nodes.items()):
        pods = frozenset(pods_by_node.get(node, ())) if local else everywhere
        entries += [
            EntryPoint(
                service,
                node,
                host_port(address, node_port),
                pods if allowed else frozenset(),
                local,
            ),
            EntryPoint(service, node, host_port(address, closed_port)),
        ]
    return entries


def probe_entries(
    site: ProbeSite, entries: Sequence[EntryPoint], timeout: float, slack: float
) -> tuple[dict[EntryPoint, list[dict[str, Any]]], dict[EntryPoint, str]]:
    """Every way in asked TRIES times in one batch from `site`: the results by way in, and
    the command that asks one again."""
    probes = [
        {"id": f"{entry}#{n}", "tcp": entry.address, "read": True, "timeout": timeout}
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
