"""The cluster's CoreDNS: its Corefile read, replaced and restored, and its pods.

kubeadm (and so kind) keeps the Corefile in ConfigMap kube-system/coredns. A
new Corefile is rolled out by restarting the Deployment (the `reload` plugin
would take up to two minutes); the caller then waits until the new
configuration answers, not for a fixed time.
"""

from __future__ import annotations

import datetime

from kubernetes.client import AppsV1Api

from netconform.kube import Kube
from netconform.manifest import MANAGED_BY, Manifest

NAMESPACE = "kube-system"
CONFIG_MAP = "coredns"
DEPLOYMENT = "coredns"
SELECTOR = "k8s-app=kube-dns"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# The cluster's own Corefile while a run has replaced it: `netconform clean` puts it back
# after an interrupted run.
SAVED = "netconform-coredns-original"


class ClusterDns:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def corefile(self) -> str:
        config = self.kube.get("v1", "ConfigMap", CONFIG_MAP, NAMESPACE)
        if not config or "Corefile" not in (config.get("data") or {}):
            raise RuntimeError(f"no Corefile in ConfigMap {NAMESPACE}/{CONFIG_MAP}: not CoreDNS?")
        return str(config["data"]["Corefile"])

    def deployment(self) -> Manifest:
        found = self.kube.get("apps/v1", "Deployment", DEPLOYMENT, NAMESPACE)
        if not found:
            raise RuntimeError(f"no Deployment {NAMESPACE}/{DEPLOYMENT}")
        return found

    def save(self) -> str:
        """Keep the cluster's own Corefile aside (once) and return it."""
        saved = self.kube.get("v1", "ConfigMap", SAVED, NAMESPACE)
        if saved:
            return str(saved["data"]["Corefile"])
        original = self.corefile()
        metadata = {"name": SAVED, "namespace": NAMESPACE, "labels": MANAGED_BY}
        self.kube.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata,
                          "data": {"Corefile": original}}])  # fmt: skip
        return original

    def restore(self, timeout: float) -> bool:
        """Put the saved Corefile back, if a run left one aside; True if it did."""
        saved = self.kube.get("v1", "ConfigMap", SAVED, NAMESPACE)
        if not saved:
            return False
        if self.corefile() != saved["data"]["Corefile"]:
            self.replace(saved["data"]["Corefile"], timeout)
        self.kube.delete("v1", "ConfigMap", SAVED, NAMESPACE)
        return True

    def replace(self, corefile: str, timeout: float) -> None:
        """Install `corefile` and restart CoreDNS with it; returns once the rollout is done."""
        core = self.kube.core()
        core.patch_namespaced_config_map(CONFIG_MAP, NAMESPACE, {"data": {"Corefile": corefile}})
        stamp = datetime.datetime.now(datetime.UTC).isoformat()
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        AppsV1Api(self.kube.api).patch_namespaced_deployment(DEPLOYMENT, NAMESPACE, patch)
        self.kube.wait_for(
            f"Deployment {NAMESPACE}/{DEPLOYMENT} to roll out",
            self.deployment,
            rolled_out,
            timeout,
        )

    def pods(self) -> list[Manifest]:
        return self.kube.list("v1", "Pod", NAMESPACE, SELECTOR)


def rolled_out(deployment: Manifest | None) -> bool:
    """Every replica updated and available, and no old pod left."""
    if not deployment:
        return False
    status, wanted = deployment.get("status") or {}, deployment["spec"].get("replicas", 1)
    return (
        status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
        and status.get("updatedReplicas") == wanted
        and status.get("availableReplicas") == wanted
        and status.get("replicas") == wanted
    )
