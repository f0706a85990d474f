"""ACME issuers cannot issue to a test cluster: Let's Encrypt reaches neither its DNS-01
records nor its HTTP-01 paths. Each is replaced by a CA issuer of the same kind and name,
signing with the run's CA, so the Certificates and Gateways that name it stay as written
and what is tested is the rest of the user's chain (issuer reference, Certificate, Secret,
listener)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from netconform.manifest import Manifest

ISSUER_KINDS = ("Issuer", "ClusterIssuer")
# Where cert-manager reads a ClusterIssuer's Secrets unless its chart says otherwise.
CLUSTER_RESOURCE_NAMESPACE = "cert-manager"


@dataclass(frozen=True)
class Replaced:
    """One ACME issuer and what stands in for it; `secret_namespace` is where the run's CA
    Secret must be for the stand-in to sign."""

    kind: str
    name: str
    challenge: str
    secret_namespace: str

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.name}: ACME ({self.challenge}) replaced by a CA issuer of the "
            "run's CA of the same kind and name: Let's Encrypt cannot reach a test cluster"
        )


def _challenges(acme: Any) -> str:
    solvers = acme.get("solvers") if isinstance(acme, dict) else None
    found = {
        key
        for solver in solvers or []
        if isinstance(solver, dict)
        for key in ("dns01", "http01")
        if key in solver
    }
    return ", ".join(sorted(found)) or "no solver"


def without_acme(
    manifests: list[Manifest],
    ca_secret: str,
    cluster_resource_namespace: str = CLUSTER_RESOURCE_NAMESPACE,
) -> tuple[list[Manifest], list[Replaced]]:
    """Copies of the manifests with every ACME Issuer and ClusterIssuer signing from the
    Secret `ca_secret` instead; every other document as it was."""
    out: list[Manifest] = []
    replaced: list[Replaced] = []
    for manifest in manifests:
        spec = manifest.get("spec")
        if manifest.get("kind") not in ISSUER_KINDS or not isinstance(spec, dict):
            out.append(copy.deepcopy(manifest))
            continue
        if "acme" not in spec:
            out.append(copy.deepcopy(manifest))
            continue
        meta = manifest.get("metadata") or {}
        namespaced = manifest["kind"] == "Issuer"
        namespace = meta.get("namespace") if namespaced else cluster_resource_namespace
        replaced.append(
            Replaced(
                manifest["kind"],
                str(meta.get("name")),
                _challenges(spec["acme"]),
                str(namespace or "default"),
            )
        )
        out.append({**copy.deepcopy(manifest), "spec": {"ca": {"secretName": ca_secret}}})
    return out, replaced
