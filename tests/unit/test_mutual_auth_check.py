"""Mutual authentication checks: offered by Cilium's config, and SPIRE able to authenticate."""

from __future__ import annotations

import json

from netconform.checks.drop_reasons import check_drop_reasons
from netconform.checks.mutual_auth import (
    SpireState,
    attested_nodes,
    check_auth_offered,
    check_ready,
    entry_ids,
    stream_error,
)
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


def test_attested_nodes_leave_out_banned_agents() -> None:
    listed = json.dumps(
        {"agents": [agent("kind-worker", "u1"), agent("kind-worker2", "u2", banned=True)]}
    )
    assert attested_nodes(listed) == {
        "kind-worker": "spiffe://spiffe.cilium/spire/agent/k8s_psat/default/u1"
    }
    assert attested_nodes("") == {}


def entry(path: str) -> dict:
    return {"id": path, "spiffe_id": {"trust_domain": "spiffe.cilium", "path": path}}


CHART_ENTRIES = ["/ns/cilium-spire/sa/spire-agent", "/cilium-agent", "/cilium-operator"]
ATTESTED = {"kind-worker": "spiffe://spiffe.cilium/spire/agent/k8s_psat/default/u1"}


def state(
    paths: list[str] = CHART_ENTRIES,
    server: str = "",
    restarts: int = 0,
    delegates: dict[str, str] | None = None,
    identities: dict[str, str] | None = None,
) -> SpireState:
    return SpireState(
        trust_domain="spiffe.cilium",
        namespace="cilium-spire",
        server=server,
        server_restarts=restarts,
        entries=entry_ids(json.dumps({"entries": [entry(p) for p in paths]})),
        attested=ATTESTED,
        nodes=("kind-worker",),
        delegates={"cilium-a on kind-worker": ""} if delegates is None else delegates,
        identities=identities or {},
    )


def test_ready_when_the_entries_the_nodes_the_streams_and_the_identities_are_there() -> None:
    verdict = check_ready(state([*CHART_ENTRIES, "/identity/4242"], identities={"4242": "p/db"}))
    assert verdict.ok, verdict
    assert verdict.summary == (
        "mutual authentication ready: 4 entries, 1 nodes attested, 1 Cilium agents hold their "
        "delegate stream, 1 identities registered"
    )


def test_a_server_restarted_without_its_entries_is_named_with_each_missing_entry() -> None:
    lost = state([], restarts=1, delegates={"cilium-a on kind-worker": "no identity issued"})
    assert lost.lost_entries()
    verdict = check_ready(lost)
    assert not verdict.ok
    assert "restarted 1 time(s) after the chart's entry-making container" in verdict.summary
    for line in (
        "! no registration entry for the Cilium agents (their delegate identity) "
        "(spiffe://spiffe.cilium/cilium-agent)",
        "! no registration entry for the SPIRE agents' node alias "
        "(spiffe://spiffe.cilium/ns/cilium-spire/sa/spire-agent)",
        "! Cilium agent cilium-a on kind-worker: SPIRE delegate stream not established: "
        "no identity issued",
    ):
        assert line in verdict.evidence.splitlines()


def test_a_fresh_server_without_entries_yet_is_not_a_lost_one() -> None:
    assert not state([]).lost_entries()
    assert not state([], server="container spire-server is not ready", restarts=2).lost_entries()


def test_a_missing_identity_entry_names_the_identity_and_its_pods() -> None:
    verdict = check_ready(state(identities={"4242": "prod/db-1, prod/db-2"}))
    assert verdict.evidence == ("! no registration entry for identity 4242 (prod/db-1, prod/db-2)")


def test_a_server_not_serving_is_said_once_without_guessing_its_entries() -> None:
    verdict = check_ready(state([], server="pod cilium-spire/spire-server-0 does not exist"))
    assert verdict.evidence == "! SPIRE server: pod cilium-spire/spire-server-0 does not exist"


LOG = (
    'time=1 level=info msg="Connecting to SPIRE Delegate API Client"\n'
    'time=2 level=error msg="Error in delegate stream, restarting" '
    'error="rpc error: code = PermissionDenied desc = no identity issued"\n'
)


def test_a_delegate_stream_holds_only_with_an_ok_status_and_no_recent_failure() -> None:
    assert stream_error({"state": "Ok"}, 'time=1 msg="Connecting"') == ""
    assert stream_error({"state": "Ok"}, LOG) == (
        "1 stream failure(s) just now, the last: rpc error: code = PermissionDenied "
        "desc = no identity issued"
    )
    assert stream_error({"state": "Failure", "msg": "Not connected"}, "") == "Not connected"
    assert stream_error({}, "") == "certificate provider unknown"


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
