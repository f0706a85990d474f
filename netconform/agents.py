"""Cilium's own pods under disruption: a node's agent, found by its DaemonSet's label and
restarted by deleting its pod (the DaemonSet makes another, which rebuilds its state while the
datapath keeps forwarding); the operators' leader, found by their election's Lease."""

from __future__ import annotations

from netconform.kube import Kube, conditions
from netconform.manifest import Manifest

AGENTS = "k8s-app=cilium"
NAMESPACE = "kube-system"


def pod_ready(pod: Manifest) -> bool:
    """Ready, and not on its way out."""
    deleting = pod["metadata"].get("deletionTimestamp")
    return not deleting and conditions(pod).get("Ready", {}).get("status") == "True"


def _on(kube: Kube, node: str) -> list[Manifest]:
    return [
        p for p in kube.list("v1", "Pod", NAMESPACE, AGENTS) if p["spec"].get("nodeName") == node
    ]


def agent_pod(kube: Kube, node: str) -> str:
    found = _on(kube, node)
    if not found:
        raise AssertionError(f"no Cilium agent pod on {node}")
    return str(found[0]["metadata"]["name"])


def restart_agent(kube: Kube, node: str, timeout: float) -> str:
    """The node's agent pod deleted and its replacement Ready (bounded); the new pod's name."""
    old = agent_pod(kube, node)
    kube.core().delete_namespaced_pod(old, NAMESPACE)

    def replacement() -> Manifest | None:
        return next((p for p in _on(kube, node) if p["metadata"]["name"] != old), None)

    made = kube.wait_for(
        f"a new Cilium agent Ready on {node}",
        replacement,
        lambda pod: pod is not None and pod_ready(pod),
        timeout,
        1,
    )
    assert made is not None
    return str(made["metadata"]["name"])


OPERATORS = "io.cilium/app=operator"
LEADER_LEASE = ("coordination.k8s.io/v1", "Lease", "cilium-operator-resource-lock", NAMESPACE)


def operator_leader(kube: Kube) -> str:
    """The Lease holder's identity: the operator's hostname and a random suffix ("" when none)."""
    lease = kube.get(*LEADER_LEASE)
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def operator_pods(kube: Kube) -> list[Manifest]:
    return kube.list("v1", "Pod", NAMESPACE, OPERATORS)


def leading_pod(kube: Kube, leader: str) -> Manifest:
    """The operator pod whose hostname (its node's, on the host network; else its own name)
    the leader's identity starts with."""
    host = leader.rsplit("-", 1)[0]
    for pod in operator_pods(kube):
        if host in (pod["spec"].get("nodeName"), pod["metadata"]["name"]):
            return pod
    raise AssertionError(f"no operator pod is the leader {leader!r}")
