"""Mutual authentication checks: offered by Cilium's config, every node attested by SPIRE."""

from __future__ import annotations

import json

from netconform.checks.drop_reasons import check_drop_reasons
from netconform.checks.mutual_auth import attested_nodes, check_attested, check_auth_offered
from netconform.matrix import AUTH_DROP, DENIED, POLICY_DROP, Cell, Endpoint, ExpectedMatrix
from netconform.spec import PortSpec

OFFERING = {
    "mesh-auth-enabled": "true",
    "mesh-auth-mutual-enabled": "true",
    "mesh-auth-spire-server-address": "spire-server.cilium-spire.svc:8081",
}


def test_a_cilium_that_offers_mutual_auth_passes() -> None:
    verdict = check_auth_offered(OFFERING, ["backend-to-db"])
    assert verdict.ok
    assert "SPIRE server spire-server.cilium-spire.svc:8081" in verdict.summary


def test_a_cilium_without_mutual_auth_fails_naming_the_flows_and_the_config() -> None:
    verdict = check_auth_offered({"mesh-auth-enabled": "true"}, ["backend-to-db"])
    assert not verdict.ok
    assert verdict.summary == (
        "the architecture requires mutual authentication for backend-to-db, but the running "
        "Cilium does not offer it: cilium-config mesh-auth-mutual-enabled is 'unset'"
    )


def agent(node: str, uid: str, banned: bool = False) -> dict:
    return {
        "id": {"trust_domain": "spiffe.cilium", "path": f"/spire/agent/k8s_psat/default/{uid}"},
        "attestation_type": "k8s_psat",
        "selectors": [
            {"type": "k8s_psat", "value": "cluster:default"},
            {"type": "k8s_psat", "value": f"agent_node_name:{node}"},
        ],
        "banned": banned,
    }


def test_every_node_attested_passes_and_a_missing_or_banned_one_is_named() -> None:
    listed = json.dumps(
        {"agents": [agent("kind-worker", "u1"), agent("kind-worker2", "u2", banned=True)]}
    )
    attested = attested_nodes(listed)
    assert attested == {"kind-worker": "spiffe://spiffe.cilium/spire/agent/k8s_psat/default/u1"}
    assert check_attested(attested, ["kind-worker"]).ok
    verdict = check_attested(attested, ["kind-worker", "kind-worker2"])
    assert not verdict.ok and verdict.summary == "SPIRE: 1 of 2 nodes not attested"
    assert "! kind-worker2: not attested" in verdict.evidence
    assert not check_attested(attested_nodes(""), ["kind-worker"]).ok


CELL = Cell(
    Endpoint("prod/backend", "workload", "backend", "prod"),
    Endpoint("prod/db", "workload", "db", "prod"),
    PortSpec(5432, "TCP"),
)


def test_a_named_drop_reason_must_be_hubbles_newest() -> None:
    auth = ExpectedMatrix({CELL: AUTH_DROP})
    assert check_drop_reasons(auth, {CELL: ["POLICY_DENIED", "AUTH_REQUIRED"]}).ok
    wrong = check_drop_reasons(auth, {CELL: ["AUTH_REQUIRED", "POLICY_DENIED"]})
    assert not wrong.ok
    assert "expected a AUTH_REQUIRED drop; Hubble's newest drop: POLICY_DENIED" in wrong.evidence
    assert not check_drop_reasons(ExpectedMatrix({CELL: POLICY_DROP}), {}).ok
    assert check_drop_reasons(ExpectedMatrix({CELL: DENIED}), {}).ok  # no reason named
