"""The policy analyzer held against real Cilium: for the reference policies and a set of
deliberately tricky ones, the matrix it predicts is the matrix the probes observe, cell by
cell, same-node and cross-node.

Runs on the suites' own cluster and probe workloads:
`pytest tests/localcluster/test_analyzer_against_cilium.py --images=local`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from netconform.analyze import predicted_matrix, predictions
from netconform.checks.policy_analyzer import UNDECIDED
from netconform.convergence import Convergence
from netconform.engine import ReachabilityEngine
from netconform.manifest import Manifest
from netconform.policy_run import PolicyRun
from tests.localcluster.random_policies import clusterwide

CILIUM = "cilium.io/v2"
NAMESPACE_NAME = "kubernetes.io/metadata.name"
GHOST = {"app": "ghost"}
# A wrong prediction shows at once; the default convergence would wait out its whole timeout.
BROKEN = Convergence(timeout=20, consistent_rounds=2)


def ccnp(run: PolicyRun, name: str, spec: Manifest) -> Manifest:
    return clusterwide(name, spec, run.layout)


def cnp(run: PolicyRun, env: str, name: str, spec: Manifest) -> Manifest:
    meta = {"name": name, "namespace": run.layout.namespace(env), "labels": run.layout.labels()}
    return {"apiVersion": CILIUM, "kind": "CiliumNetworkPolicy", "metadata": meta, "spec": spec}


def netpol(run: PolicyRun, env: str, spec: Manifest) -> Manifest:
    meta = {"name": "np", "namespace": run.layout.namespace(env), "labels": run.layout.labels()}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta,
        "spec": spec,
    }


def _carved(run: PolicyRun) -> list[Manifest]:
    partner = run.externals["partner-api"]
    around = ipaddress.ip_network(f"{partner}/24", strict=False)
    rule = {"toCIDRSet": [{"cidr": str(around), "except": [f"{partner}/32"]}]}
    return [ccnp(run, "carved", {"endpointSelector": {}, "egress": [rule]})]


SCENARIOS: dict[str, Callable[[PolicyRun], list[Manifest]]] = {
    "reference policies": lambda run: run.policy_manifests(),
    "matchExpressions In": lambda run: [
        ccnp(run, "in", {
            "endpointSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{
                "fromEndpoints": [{"matchExpressions": [
                    {"key": "app", "operator": "In", "values": ["backend", "monitoring"]}]}],
                "toPorts": [{"ports": [{"port": "5432", "protocol": "TCP"}]}],
            }],
        })
    ],
    "matchExpressions NotIn": lambda run: [
        ccnp(run, "notin", {
            "endpointSelector": {},
            "egress": [{"toEndpoints": [{"matchExpressions": [
                {"key": "app", "operator": "NotIn", "values": ["db"]}]}]}],
        })
    ],
    "CIDR set with except": _carved,
    "world entity": lambda run: [
        ccnp(run, "world", {"endpointSelector": {}, "egress": [{"toEntities": ["world"]}]})
    ],
    "cluster entity": lambda run: [
        ccnp(run, "cluster", {"endpointSelector": {}, "egress": [{"toEntities": ["cluster"]}]})
    ],
    "deny over allow": lambda run: [
        ccnp(run, "allow-all", {"endpointSelector": {}, "ingress": [{"fromEntities": ["all"]}]}),
        cnp(run, "prod", "deny-frontend", {
            "endpointSelector": {},
            "ingressDeny": [{"fromEndpoints": [{"matchLabels": {
                "app": "frontend", **run.layout.peer_namespace("prod")}}]}],
        }),
    ],
    "a policy that selects nothing": lambda run: [
        cnp(run, "prod", "ghost", {"endpointSelector": {"matchLabels": GHOST}, "ingress": [{}]})
    ],
    "namespace-scoped peer": lambda run: [
        cnp(run, "prod", "db-from-backend", {
            "endpointSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "backend"}}]}],
        })
    ],
    "ports without peers": lambda run: [
        cnp(run, "staging", "web-port", {
            "endpointSelector": {},
            "ingress": [{"toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}],
        })
    ],
    "Kubernetes NetworkPolicy": lambda run: [
        netpol(run, "ops", {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                NAMESPACE_NAME: run.layout.namespace("prod")}}}]}],
        })
    ],
    "an ipBlock over every address, pods included": lambda run: [
        netpol(run, "ops", {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}],
        })
    ],
    # The spec names db's 5432/TCP `postgres`; no container names a port `metrics`.
    "named ports": lambda run: [
        ccnp(run, "named", {
            "endpointSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{
                "fromEndpoints": [{}],
                "toPorts": [{"ports": [{"port": "postgres"}, {"port": "metrics"}]}],
            }],
        }),
        netpol(run, "ops", {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"port": "postgres"}]}],
        }),
    ],
    "deny without default deny": lambda run: [
        cnp(run, "prod", "only-deny", {
            "endpointSelector": {},
            "enableDefaultDeny": {"ingress": False, "egress": False},
            "ingressDeny": [{"fromEndpoints": [{"matchLabels": run.layout.peer_namespace(
                "staging")}]}],
        })
    ],
}  # fmt: skip


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_prediction_is_what_cilium_does(
    scenario: str, policy_run: PolicyRun, reachability
) -> None:  # type: ignore[no-untyped-def]
    manifests = SCENARIOS[scenario](policy_run)
    predicted = predictions(
        policy_run.arch, manifests, policy_run.layout, policy_run.probed_addresses
    )
    undecided = [f"{c}: {p.why}" for c, p in predicted.items() if p.verdict == UNDECIDED]
    assert not undecided, f"these policies should be decidable: {undecided[:3]}"
    policy_run.remove_policies()
    policy_run.apply_policies(manifests)
    try:
        verdict = reachability.engine.check(reachability.probed(predicted_matrix(predicted)))
    finally:
        policy_run.remove_policies()
    assert verdict.ok, (
        f"the analyzer's prediction for {scenario!r} is not what Cilium does:\n{verdict}"
    )


def test_a_prediction_that_misses_a_deny_is_caught(policy_run: PolicyRun, reachability) -> None:  # type: ignore[no-untyped-def]
    """The comparison bites: predicted without the deny, applied with it, the cells the deny
    drops are named."""
    applied = SCENARIOS["deny over allow"](policy_run)
    predicted = predictions(
        policy_run.arch, applied[:1], policy_run.layout, policy_run.probed_addresses
    )
    policy_run.remove_policies()
    policy_run.apply_policies(applied)
    engine = reachability.engine
    try:
        verdict = ReachabilityEngine(engine.prober, BROKEN, engine.evidence).check(
            reachability.probed(predicted_matrix(predicted))
        )
    finally:
        policy_run.remove_policies()
    wrong = [line for line in verdict.evidence.splitlines() if line.startswith("! wrong:")]
    assert not verdict.ok and wrong
    assert all(line.startswith("! wrong: prod/frontend -> prod/") for line in wrong), wrong
    assert all("got dropped" in line for line in wrong), wrong
