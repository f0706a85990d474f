"""A user's GitOps tree as the cluster would receive it: files, directories, kustomizations
(rendered by the pinned kubectl's kustomize) and the Flux Kustomizations that point at them.

A homelab's namespaced files often carry no namespace: kustomize's `namespace:` or a Flux
Kustomization's `targetNamespace` puts them there, and Flux's `postBuild.substitute` fills
`${VARS}`. The documents come out as the cluster would get them, each with the file it came
from, so a failure can name the file a person edits.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from netconform.manifest import Manifest

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
FLUX_KUSTOMIZATION = "kustomize.toolkit.fluxcd.io"
YAML_SUFFIXES = (".yaml", ".yml")
# Flux's variable forms: ${VAR} and ${VAR:=default}; `$${VAR}` escapes one.
_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::=([^}]*))?\}")


class SourceError(ValueError):
    """The user's files cannot be read as a cluster would; the message names the file."""


@dataclass(frozen=True)
class Sourced:
    """One document of the user's tree and the file (or kustomization) it came from."""

    manifest: Manifest
    origin: str

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.manifest.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str | None:
        return (self.manifest.get("metadata") or {}).get("namespace")

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} ({self.origin})"


@dataclass
class Tree:
    """Reads paths below `root` (the repository root, which Flux paths are relative to)."""

    root: Path
    kustomize: Callable[[Path], str]
    seen: set[Path] = field(default_factory=set)

    def origin(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def read(
        self,
        path: Path,
        namespace: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> list[Sourced]:
        """Every document under `path`, the Flux Kustomizations among them followed;
        `variables` (a Flux postBuild.substitute) filled in where given."""
        if not path.exists():
            raise SourceError(f"{self.origin(path)}: no such file or directory")
        found = self._documents(path)
        out: list[Sourced] = []
        for doc in found:
            if variables is not None:
                doc = _substituted(doc, variables)
            if namespace and _namespaced(doc.manifest):
                doc.manifest.setdefault("metadata", {})["namespace"] = namespace  # it overrides
            out.append(doc)
            if _is_flux_kustomization(doc.manifest):
                out += self._follow(doc)
        return out

    def _documents(self, path: Path) -> list[Sourced]:
        resolved = path.resolve()
        if resolved in self.seen:
            return []
        self.seen.add(resolved)
        if path.is_file():
            return _parse(path.read_text(encoding="utf-8"), self.origin(path))
        marker = next((path / n for n in KUSTOMIZATION_FILES if (path / n).is_file()), None)
        if marker is not None:
            files = self._resource_files(marker)
            return [
                Sourced(d.manifest, files.get((d.kind, d.name), d.origin))
                for d in _parse(self.kustomize(path), self.origin(marker))
            ]
        return [
            doc
            for child in sorted(path.rglob("*"))
            if child.suffix in YAML_SUFFIXES
            and child.is_file()
            and not any(part.startswith(".") for part in child.relative_to(path).parts)
            and not self._inside_a_kustomization(child, path)
            for doc in self._documents(child)
        ] + [
            doc
            for child in sorted(p.parent for p in path.rglob("kustomization.y*ml"))
            if child != path
            and not any(part.startswith(".") for part in child.relative_to(path).parts)
            for doc in self._documents(child)
        ]

    def _resource_files(self, marker: Path) -> dict[tuple[str, str], str]:
        """(kind, name) -> the file under a kustomization that holds it, its bases followed:
        a failure can name the file a person edits, not only the kustomization."""
        try:
            config = yaml.safe_load(marker.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            return {}
        found: dict[tuple[str, str], str] = {}
        for resource in [*(config.get("resources") or []), *(config.get("bases") or [])]:
            path = marker.parent / str(resource)
            inner = next((path / n for n in KUSTOMIZATION_FILES if (path / n).is_file()), None)
            if inner is not None:
                found.update(self._resource_files(inner))
            elif path.is_file():
                try:
                    docs = _parse(path.read_text(encoding="utf-8"), self.origin(path))
                except SourceError:
                    continue
                found.update({(d.kind, d.name): d.origin for d in docs})
        return found

    def _inside_a_kustomization(self, file: Path, top: Path) -> bool:
        """Files a kustomization below `top` renders itself (Flux builds those as a unit)."""
        return any(
            (parent / name).is_file()
            for parent in file.parents
            if parent != top and top in parent.parents
            for name in KUSTOMIZATION_FILES
        )

    def _follow(self, flux: Sourced) -> list[Sourced]:
        """What a Flux Kustomization applies: its path, in its targetNamespace, substituted."""
        spec = flux.manifest.get("spec") or {}
        if not spec.get("path"):
            return []
        post = spec.get("postBuild") or {}
        variables = (
            {str(k): str(v) for k, v in (post.get("substitute") or {}).items()} if post else None
        )
        return self.read(self.root / spec["path"], spec.get("targetNamespace"), variables)


def _parse(text: str, origin: str) -> list[Sourced]:
    try:
        loaded = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        reason = getattr(error, "problem", None) or str(error)
        raise SourceError(f"{origin}: {where}not valid YAML: {reason}") from None
    out = []
    for number, doc in enumerate(loaded, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict) or "kind" not in doc:
            raise SourceError(f"{origin}: document {number} is not a Kubernetes object")
        for item in doc.get("items") or [] if doc["kind"] == "List" else [doc]:
            if not _namespaced(item):
                # kustomize's namespace lands on kinds it does not know are cluster-scoped;
                # the API server, and Flux, ignore it there.
                (item.get("metadata") or {}).pop("namespace", None)
            out.append(Sourced(item, origin))
    return out


def _is_flux_kustomization(manifest: Manifest) -> bool:
    api = str(manifest.get("apiVersion", ""))
    return manifest.get("kind") == "Kustomization" and api.startswith(FLUX_KUSTOMIZATION)


CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "CiliumClusterwideNetworkPolicy",
        "CiliumLoadBalancerIPPool",
        "CiliumBGPClusterConfig",
        "CiliumBGPPeerConfig",
        "CiliumBGPAdvertisement",
        "CiliumBGPNodeConfigOverride",
        "CiliumL2AnnouncementPolicy",
        "ClusterIssuer",
        "GatewayClass",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "StorageClass",
        "PriorityClass",
    }
)


def _namespaced(manifest: Manifest) -> bool:
    return manifest.get("kind") not in CLUSTER_SCOPED


def _substituted(doc: Sourced, variables: Mapping[str, str]) -> Sourced:
    """Flux's postBuild substitution: ${VAR} from the Kustomization, ${VAR:=default}, and, as
    Flux does unless told to be strict, nothing for a variable it has no value for."""
    text = yaml.safe_dump(doc.manifest, sort_keys=False)
    if "${" not in text:
        return doc

    def value(match: re.Match[str]) -> str:
        return variables.get(match.group(1), match.group(2) or "")

    return Sourced(yaml.safe_load(_VARIABLE.sub(value, text)), doc.origin)


def kubectl_kustomize(kubectl: str) -> Callable[[Path], str]:
    """`kubectl kustomize DIR`, with its error as the user would see it."""

    def render(directory: Path) -> str:
        done = subprocess.run(
            [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise SourceError(f"{directory}: kustomize failed: {done.stderr.strip()[-500:]}")
        return done.stdout

    return render


def read_all(paths: Iterable[Path], root: Path, kustomize: Callable[[Path], str]) -> list[Sourced]:
    tree = Tree(root, kustomize)
    return [doc for path in paths for doc in tree.read(path)]
