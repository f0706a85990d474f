"""Mutual authentication as the architecture requires it: Cilium offers it (its config says
so), and SPIRE has attested every node, so each node's agent can fetch identities.

Pure: takes cilium-config's data, the SPIRE server's `agent list` and `entry show` JSON, the
cluster's node names and what each Cilium agent says of its SPIRE delegate stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from netconform.verdict import Verdict

OFFERED = {"mesh-auth-enabled": "true", "mesh-auth-mutual-enabled": "true"}
NODE_SELECTOR = "agent_node_name:"


def check_auth_offered(config: Mapping[str, str], required_for: Sequence[str]) -> Verdict:
    """What a pre-upgrade run must catch: an architecture that requires mutual authentication
    on a Cilium that does not offer it (every such flow would drop, or pass unauthenticated)."""
    off = {
        key: config.get(key, "unset") for key, want in OFFERED.items() if config.get(key) != want
    }
    if off:
        said = ", ".join(f"{key} is {value!r}" for key, value in off.items())
        return Verdict(
            False,
            f"the architecture requires mutual authentication for {', '.join(required_for)}, "
            f"but the running Cilium does not offer it: cilium-config {said}",
        )
    server = config.get("mesh-auth-spire-server-address", "unset")
    return Verdict(True, f"Cilium offers mutual authentication (SPIRE server {server})")


def attested_nodes(agent_list_json: str) -> dict[str, str]:
    """Node name -> SPIFFE ID of each attested, unbanned SPIRE agent."""
    nodes = {}
    for agent in json.loads(agent_list_json or "{}").get("agents") or []:
        if agent.get("banned"):
            continue
        spiffe_id = "spiffe://{trust_domain}{path}".format(**agent["id"])
        for selector in agent.get("selectors") or []:
            value = str(selector.get("value", ""))
            if selector.get("type") == "k8s_psat" and value.startswith(NODE_SELECTOR):
                nodes[value.removeprefix(NODE_SELECTOR)] = spiffe_id
    return nodes


DELEGATE_FAILURE = "Error in delegate stream"


def entry_ids(entry_show_json: str) -> frozenset[str]:
    """The SPIFFE IDs of the server's registration entries (`entry show -output json`)."""
    entries = json.loads(entry_show_json or "{}").get("entries") or []
    return frozenset(
        "spiffe://{trust_domain}{path}".format(**entry["spiffe_id"])
        for entry in entries
        if entry.get("spiffe_id")
    )


def stream_error(status: Mapping[str, str], recent_log: str) -> str:
    """Why a Cilium agent's SPIRE delegate stream does not hold, "" when it does: its
    certificate provider's status (`cilium-dbg status`), then the stream errors of its recent
    log (a stream opens before SPIRE refuses it, so the status alone can say Ok)."""
    if status.get("state") != "Ok":
        return status.get("msg") or f"certificate provider {status.get('state') or 'unknown'}"
    failures = [line for line in recent_log.splitlines() if DELEGATE_FAILURE in line]
    if failures:
        error = failures[-1].partition("error=")[2].strip().strip('"')
        return f"{len(failures)} stream failure(s) just now, the last: {error or failures[-1]}"
    return ""


@dataclass(frozen=True)
class SpireState:
    """What mutual authentication needs, as seen on the cluster."""

    trust_domain: str
    namespace: str  # the SPIRE install's
    server: str  # why the server does not serve; "" when it does
    server_restarts: int  # of its container, since the chart's entry-making container started
    entries: frozenset[str]
    attested: Mapping[str, str]
    nodes: tuple[str, ...]
    delegates: Mapping[str, str]  # Cilium agent -> why its delegate stream fails ("" holds)
    identities: Mapping[str, str] = field(default_factory=dict)  # numeric id -> its pods

    def chart_entries(self) -> dict[str, str]:
        """The entries Cilium's chart makes, by what each is for."""
        domain = self.trust_domain
        return {
            "the SPIRE agents' node alias": (
                f"spiffe://{domain}/ns/{self.namespace}/sa/spire-agent"
            ),
            "the Cilium agents (their delegate identity)": f"spiffe://{domain}/cilium-agent",
            "the Cilium operator (it makes the identities' entries)": (
                f"spiffe://{domain}/cilium-operator"
            ),
        }

    def lost_entries(self) -> bool:
        """A server that restarted and serves without the chart's entries: nothing in the
        chart will make them again."""
        missing = set(self.chart_entries().values()) - self.entries
        return not self.server and self.server_restarts > 0 and bool(missing)


def check_ready(state: SpireState) -> Verdict:
    """Mutual authentication can work: the server serves with the chart's entries, every node
    is attested, every Cilium agent holds its delegate stream, and every identity named has
    its entry (the operator makes one per Cilium identity)."""
    missing = []
    if state.server:
        missing.append(f"SPIRE server: {state.server}")
    elif state.lost_entries():
        missing.append(
            f"SPIRE server: restarted {state.server_restarts} time(s) after the chart's "
            "entry-making container attached to it; its entries are gone and nothing makes them"
        )
    if not state.server:
        missing += [
            f"no registration entry for {what} ({spiffe_id})"
            for what, spiffe_id in state.chart_entries().items()
            if spiffe_id not in state.entries
        ]
        missing += [
            f"node {node}: its SPIRE agent is not attested" for node in state.nodes
            if node not in state.attested
        ]  # fmt: skip
        missing += [
            f"no registration entry for identity {identity} ({pods})"
            for identity, pods in sorted(state.identities.items())
            if f"spiffe://{state.trust_domain}/identity/{identity}" not in state.entries
        ]
    missing += [
        f"Cilium agent {agent}: SPIRE delegate stream not established: {error}"
        for agent, error in sorted(state.delegates.items())
        if error
    ]
    if missing:
        return Verdict(
            False,
            f"mutual authentication not ready: {len(missing)} missing, first: {missing[0]}",
            "\n".join(f"! {line}" for line in missing),
        )
    return Verdict(
        True,
        f"mutual authentication ready: {len(state.entries)} entries, {len(state.nodes)} nodes "
        f"attested, {len(state.delegates)} Cilium agents hold their delegate stream, "
        f"{len(state.identities)} identities registered",
    )
