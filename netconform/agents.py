"""A node's Cilium agent: found by its DaemonSet's label, restarted by deleting its pod (the
DaemonSet makes another, which rebuilds its state while the datapath keeps forwarding)."""

from __future__ import annotations

from netconform.kube import Kube, conditions
from netconform.manifest import Manifest

AGENTS = "k8s-app=cilium"
NAMESPACE = "kube-system"


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

    def ready(pod: Manifest | None) -> bool:
        return bool(pod) and conditions(pod).get("Ready", {}).get("status") == "True"

    made = kube.wait_for(f"a new Cilium agent Ready on {node}", replacement, ready, timeout, 1)
    assert made is not None
    return str(made["metadata"]["name"])
