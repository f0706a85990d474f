"""The user's Cilium install as written: Helm values files, or a Flux HelmRelease with its
`valuesFrom` ConfigMaps and Secrets and the chart version it pins (`spec.chart.spec.version`,
or the tag of the OCIRepository its `chartRef` names).

That version is what gets installed, so the Renovate PR that bumps it in the user's
repository is what a pre-upgrade run checks.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netconform.sources.tree import Sourced, SourceError

HELM_RELEASE = "helm.toolkit.fluxcd.io"
OCI_REPOSITORY = "source.toolkit.fluxcd.io"
DEFAULT_VALUES_KEY = "values.yaml"
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class CiliumInstall:
    """Values as the user's tooling hands them to Helm, the version it pins (None: the
    project's pin), and where they were read."""

    values: dict[str, Any]
    version: str | None
    origins: tuple[str, ...]


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of values: maps merge key by key, anything else is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def from_values_files(paths: Sequence[Path], origin: Callable[[Path], str]) -> CiliumInstall:
    values: dict[str, Any] = {}
    for path in paths:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise SourceError(f"{origin(path)}: not valid YAML: {error}") from None
        if not isinstance(loaded, dict):
            raise SourceError(f"{origin(path)}: Helm values must be a mapping")
        values = merge(values, loaded)
    return CiliumInstall(values, None, tuple(origin(p) for p in paths))


def _is_cilium_release(doc: Sourced, name: str) -> bool:
    api = str(doc.manifest.get("apiVersion", ""))
    return doc.kind == "HelmRelease" and api.startswith(HELM_RELEASE) and doc.name == name


def from_helm_release(documents: Sequence[Sourced], name: str = "cilium") -> CiliumInstall:
    """The HelmRelease named `name` among the documents, its values resolved as Flux does:
    each valuesFrom in order, then spec.values on top."""
    releases = [doc for doc in documents if _is_cilium_release(doc, name)]
    if len(releases) != 1:
        found = ", ".join(str(d) for d in documents if d.kind == "HelmRelease") or "none"
        raise SourceError(
            f"sources.cilium: want exactly one HelmRelease named {name!r}, found "
            f"{len(releases)} (HelmReleases read: {found})"
        )
    release = releases[0]
    spec = release.manifest.get("spec") or {}
    values: dict[str, Any] = {}
    origins = [release.origin]
    for reference in spec.get("valuesFrom") or []:
        found_values, origin = _values_from(documents, release, reference)
        values = merge(values, found_values)
        origins += [origin] if origin else []
    values = merge(values, spec.get("values") or {})
    return CiliumInstall(values, _version(documents, release), tuple(dict.fromkeys(origins)))


def _values_from(
    documents: Sequence[Sourced], release: Sourced, reference: Mapping[str, Any]
) -> tuple[dict[str, Any], str]:
    kind, name = reference.get("kind"), reference.get("name")
    namespace = release.namespace
    source = next(
        (
            d
            for d in documents
            if d.kind == kind and d.name == name and d.namespace in (None, namespace)
        ),
        None,
    )
    if source is None:
        if reference.get("optional"):
            return {}, ""
        raise SourceError(
            f"{release.origin}: HelmRelease {release.name} valuesFrom {kind} {name}: not found "
            "in the files given (add the file or kustomization that makes it to sources)"
        )
    key = reference.get("valuesKey") or DEFAULT_VALUES_KEY
    text = _data(source).get(key)
    if text is None:
        raise SourceError(f"{source.origin}: {kind} {name} has no key {key!r}")
    target = reference.get("targetPath")
    if target:
        return _at_path(str(target), yaml.safe_load(text)), source.origin
    loaded = yaml.safe_load(text) or {}
    if not isinstance(loaded, dict):
        raise SourceError(f"{source.origin}: {kind} {name} {key}: Helm values must be a mapping")
    return loaded, source.origin


def _data(source: Sourced) -> dict[str, str]:
    manifest = source.manifest
    data = {str(k): str(v) for k, v in (manifest.get("data") or {}).items()}
    if source.kind == "Secret":
        data = {k: base64.b64decode(v).decode() for k, v in data.items()}
        data.update({str(k): str(v) for k, v in (manifest.get("stringData") or {}).items()})
    return data


def _at_path(path: str, value: Any) -> dict[str, Any]:
    """A valuesFrom targetPath (a.b.c) as nested values."""
    nested: Any = value
    for part in reversed(path.split(".")):
        nested = {part: nested}
    return nested


def _version(documents: Sequence[Sourced], release: Sourced) -> str:
    """The exact chart version the release pins; a range cannot be installed reproducibly."""
    spec = release.manifest.get("spec") or {}
    chart = (spec.get("chart") or {}).get("spec") or {}
    version, where = chart.get("version"), f"{release.origin}: spec.chart.spec.version"
    if "chartRef" in spec:
        reference = spec["chartRef"]
        repository = next(
            (d for d in documents if d.kind == reference.get("kind") and d.name == reference.get(
                "name") and str(d.manifest.get("apiVersion", "")).startswith(OCI_REPOSITORY)),
            None,
        )  # fmt: skip
        if repository is None:
            raise SourceError(
                f"{release.origin}: chartRef {reference.get('kind')} {reference.get('name')} "
                "not found in the files given"
            )
        ref = (repository.manifest.get("spec") or {}).get("ref") or {}
        version, where = ref.get("tag") or ref.get("semver"), f"{repository.origin}: spec.ref"
    if not version or not _EXACT_VERSION.match(str(version)):
        raise SourceError(
            f"{where}: {version!r} is not an exact version (such as 1.20.0): a range would "
            "install whatever is newest on the day"
        )
    return "v" + str(version).removeprefix("v")
