"""The user's own configuration, read from their repository as the spec's `sources` name it:
which documents a run applies unchanged, which it never touches, and their Cilium install.

Only the kinds the suites check are applied; every other document (Deployments, Flux
objects, Secrets) is listed once as not applied, so nothing the user wrote is silently
dropped or silently deployed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from netconform.sources import agreement
from netconform.sources.helm import CiliumInstall, from_helm_release, from_values_files
from netconform.sources.issuers import Replaced, without_acme
from netconform.sources.tree import Sourced, SourceError, Tree, kubectl_kustomize
from netconform.spec import Architecture
from netconform.versions import load_versions, tool, version

POLICY_KINDS = frozenset({"CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy", "NetworkPolicy"})
LB_KINDS = frozenset({"CiliumLoadBalancerIPPool", "CiliumL2AnnouncementPolicy"})
BGP_KINDS = frozenset(
    {
        "CiliumBGPClusterConfig",
        "CiliumBGPPeerConfig",
        "CiliumBGPAdvertisement",
        "CiliumBGPNodeConfigOverride",
    }
)
GATEWAY_KINDS = frozenset(
    {"Gateway", "HTTPRoute", "TLSRoute", "TCPRoute", "GRPCRoute", "ReferenceGrant"}
)
CERT_MANAGER_KINDS = frozenset({"Issuer", "ClusterIssuer", "Certificate"})
APPLIED_KINDS = (
    POLICY_KINDS | LB_KINDS | BGP_KINDS | GATEWAY_KINDS | CERT_MANAGER_KINDS | {"Namespace"}
)
__all__ = ["SourceError", "Sourced", "UserConfig", "load"]


@dataclass(frozen=True)
class UserConfig:
    """What the user's files say, by the part of a run that uses it."""

    documents: tuple[Sourced, ...]
    cilium: CiliumInstall | None
    corefile: tuple[str, str] | None  # (Corefile, where it was read)

    @cached_property
    def applied(self) -> tuple[Sourced, ...]:
        return tuple(d for d in self.documents if d.kind in APPLIED_KINDS)

    @cached_property
    def not_applied(self) -> tuple[str, ...]:
        """Each other document once, as a person would look it up."""
        return tuple(
            dict.fromkeys(
                f"not applied: {d}, not the suite's business"
                for d in self.documents
                if d.kind not in APPLIED_KINDS
            )
        )

    def of_kinds(self, kinds: frozenset[str]) -> list[Sourced]:
        return [d for d in self.applied if d.kind in kinds]

    def manifests(self, kinds: frozenset[str]) -> list[dict[str, Any]]:
        """Copies of the applied objects of these kinds, to hand to the API server as written."""
        return [copy.deepcopy(d.manifest) for d in self.of_kinds(kinds)]

    def gateway_manifests(self, ca_secret: str) -> tuple[list[dict[str, Any]], list[Replaced]]:
        """The user's Gateway, routes and cert-manager objects as a run applies them: every ACME
        issuer signing from the Secret `ca_secret` instead (issuers.without_acme)."""
        return without_acme(self.manifests(GATEWAY_KINDS | CERT_MANAGER_KINDS), ca_secret)

    @cached_property
    def replaced_issuers(self) -> tuple[str, ...]:
        """What a run changes of the user's issuers, each as a line for the report."""
        return tuple(str(r) for r in self.gateway_manifests("-")[1])

    def namespaces(self) -> dict[str, Sourced]:
        return {d.name: d for d in self.of_kinds(frozenset({"Namespace"}))}

    def namespace_labels(self) -> dict[str, dict[str, str]]:
        """The labels of the user's Namespace manifests, by namespace: a run creates the
        environments' namespaces with them."""
        return {
            name: dict((doc.manifest.get("metadata") or {}).get("labels") or {})
            for name, doc in self.namespaces().items()
        }

    def origin_of(self, kind: str, name: str, namespace: str | None = None) -> str:
        """The file an applied object came from ("" if none of the user's did)."""
        return next(
            (
                d.origin
                for d in self.applied
                if (d.kind, d.name) == (kind, name) and d.namespace in (None, namespace)
            ),
            "",
        )


def _corefile(documents: list[Sourced]) -> tuple[str, str] | None:
    """The cluster's Corefile: the coredns ConfigMap's, or a CoreDNS chart's `servers:`."""
    from netconform.sources.corefile import from_helm_servers

    for doc in documents:
        if doc.kind == "ConfigMap" and doc.name == "coredns":
            corefile = (doc.manifest.get("data") or {}).get("Corefile")
            if corefile:
                return str(corefile), doc.origin
    for doc in documents:
        if doc.kind == "HelmRelease" and ((doc.manifest.get("spec") or {}).get("values") or {}).get(
            "servers"
        ):
            return from_helm_servers(doc.manifest["spec"]["values"]["servers"]), doc.origin
    names = ", ".join(str(d) for d in documents) or "no documents"
    raise SourceError(
        f"sources.coredns: no coredns ConfigMap with a Corefile and no HelmRelease with "
        f"CoreDNS servers in {names}"
    )


def load(arch: Architecture, kustomize: Callable[[Path], str] | None = None) -> UserConfig:
    """Read everything `sources` names (kustomizations rendered by the pinned kubectl)."""
    sources = arch.sources
    if kustomize is None:
        kustomize = kubectl_kustomize(tool("kubectl", version(load_versions(), "kubernetes")))
    tree = Tree(arch.source_path(sources.root), kustomize)
    documents = [d for p in sources.manifests for d in tree.read(arch.source_path(p))]
    cilium = None
    if sources.cilium and sources.cilium.values:
        paths = [arch.source_path(p) for p in sources.cilium.values]
        cilium = from_values_files(paths, tree.origin)
    elif sources.cilium and sources.cilium.helm_release:
        release = tree.read(arch.source_path(sources.cilium.helm_release))
        cilium = from_helm_release([*release, *documents], sources.cilium.release)
        documents += [d for d in release if d not in documents]
    # Read apart: a Flux Kustomization among the manifests may apply the same file.
    apart = Tree(tree.root, kustomize)
    coredns = [d for p in sources.coredns for d in apart.read(arch.source_path(p))]
    user = UserConfig(tuple(documents), cilium, _corefile(coredns) if coredns else None)
    disagreements = [
        *agreement.bgp(arch, user.applied, arch.file),
        *agreement.pools(arch, user.applied, arch.file),
        *(agreement.dns(arch, *user.corefile, arch.file) if user.corefile else ()),
    ]
    if disagreements:
        raise SourceError("\n".join(disagreements))
    return user
