"""Mutual authentication as the architecture requires it: Cilium offers it (its config says
so), and SPIRE has attested every node, so each node's agent can fetch identities.

Pure: takes cilium-config's data, the SPIRE server's `agent list -output json` and the
cluster's node names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

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


def check_attested(attested: Mapping[str, str], nodes: Iterable[str]) -> Verdict:
    wanted = sorted(nodes)
    missing = [node for node in wanted if node not in attested]
    evidence = "\n".join(
        f"{'  ' if node in attested else '! '}{node}: {attested.get(node, 'not attested')}"
        for node in wanted
    )
    if missing:
        return Verdict(
            False, f"SPIRE: {len(missing)} of {len(wanted)} nodes not attested", evidence
        )
    return Verdict(True, f"SPIRE: all {len(wanted)} nodes attested", evidence)
