"""Offline validation of what the suite renders against the upstream schemas.

A manifest the API server would reject, or silently prune, should fail in seconds and
without a cluster: CRD kinds against the openAPIV3Schema of the served version in the
upstream CRDs, core kinds against the Kubernetes OpenAPI schemas that kubernetes-validate
bundles (strict, for the Kubernetes version pinned in cluster/versions.yaml), and the
Cilium Helm values against the chart's values.schema.json.

JSON Schema is looser than Kubernetes in one way that matters: an object without
`additionalProperties` accepts any key, while the API server drops (or, under strict field
validation, rejects) a field its structural schema does not name. A misspelt
`endpointSelectr` would pass here and vanish on the cluster, so every object node that
lists its properties is closed first (see `structural`). CEL rules
(`x-kubernetes-validations`) are not evaluated; the server-side dry run in
tests/controlplane runs those.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from netconform.manifest import Manifest
from netconform.versions import load_versions, version

ROOT = Path(__file__).resolve().parents[2]
HELM_SCHEMA = Path("cilium-helm") / "values.schema.json"
# Some messages quote the whole offending value; the path already says where it is.
MESSAGE_LIMIT = 300

# The user_properties the tests record counts under, summed in the terminal summary.
MANIFESTS, HELM_VALUES = "validated_manifests", "validated_helm_values"

FORMATS = FormatChecker()


@FORMATS.checks("cidr", raises=ValueError)
def _cidr(value: object) -> bool:
    """The API server checks `format: cidr` (Cilium's pool blocks use it); jsonschema does not
    know the format. Go's ParseCIDR, like this, wants the prefix length."""
    return not isinstance(value, str) or ("/" in value and bool(ipaddress.ip_network(value, False)))


def crd_dir() -> Path:
    """$NETCONFORM_CRDS, else shared/crds beside the repository (where CI lays it out)."""
    return Path(os.environ.get("NETCONFORM_CRDS") or ROOT.parent / "shared" / "crds")


def structural(node: Any) -> Any:
    """A copy of a schema as the API server applies it to structural CRDs: an object that names
    its properties accepts no others (unless it preserves unknown fields), and
    `x-kubernetes-int-or-string` takes an integer or a string even without the `anyOf`
    controller-gen adds. Only the structural skeleton (properties, items,
    additionalProperties) is closed: anyOf/oneOf branches are value checks that name a
    subset of the fields, so closing them would reject valid objects."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    if "properties" in out:
        out["properties"] = {name: structural(value) for name, value in out["properties"].items()}
        if "additionalProperties" not in out and not out.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            out["additionalProperties"] = False
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = structural(out[key])
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


def _path(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def _problem(error: ValidationError) -> str:
    message = error.message
    if error.validator in ("anyOf", "oneOf") and error.context:
        # The default message quotes the whole object; what each alternative wanted says more.
        wanted = sorted({branch.message for branch in error.context})
        message = f"matches none of its {error.validator} alternatives: {'; '.join(wanted)}"
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 3] + "..."
    return f"{_path(error.absolute_path)}: {message}"


def _problems(validator: Validator, instance: object) -> list[str]:
    return sorted(_problem(error) for error in validator.iter_errors(instance))


@dataclass(frozen=True)
class Crd:
    """One served version of a CRD, its schema closed and compiled."""

    namespaced: bool
    validator: Validator
    source: Path


def load_crds(directory: Path) -> dict[tuple[str, str], Crd]:
    """Every served version of every CRD one folder below `directory`, by (apiVersion, kind).

    Deeper folders are skipped: gateway-api/experimental/ holds second copies of
    standard kinds, and a kind defined twice would make the answer depend on file order,
    so that is an error."""
    crds: dict[tuple[str, str], Crd] = {}
    for path in sorted(directory.glob("*/*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for served in (v for v in spec["versions"] if v.get("served")):
                key = (f"{spec['group']}/{served['name']}", spec["names"]["kind"])
                if key in crds:
                    raise ValueError(f"{path}: {key} is already defined in {crds[key].source}")
                schema = structural(served["schema"]["openAPIV3Schema"])
                crds[key] = Crd(
                    spec["scope"] == "Namespaced",
                    Draft202012Validator(schema, format_checker=FORMATS),
                    path,
                )
    return crds


@dataclass(frozen=True)
class Schemas:
    """The upstream schemas, loaded once: a manifest or a set of Helm values in, the problems
    out, each `path: reason` (an empty list is valid)."""

    crds: Mapping[tuple[str, str], Crd]
    helm: Validator
    kubernetes: str

    @classmethod
    def load(cls, directory: Path) -> Schemas:
        schema = json.loads((directory / HELM_SCHEMA).read_text())
        # Helm accepts keys the chart does not know and the chart ignores them, so a misspelt
        # key silently leaves a feature off: the chart's schema names every key its
        # values.yaml has, so it is closed like a CRD's.
        helm = validator_for(schema)(structural(schema), format_checker=FORMATS)
        return cls(load_crds(directory), helm, version(load_versions(), "kubernetes"))

    def problems(self, manifest: Manifest) -> list[str]:
        crd = self.crds.get((manifest.get("apiVersion", ""), manifest.get("kind", "")))
        if crd is None:
            return self._core_problems(manifest)
        # The CRD schemas leave metadata open; the API server checks it, loosely, here.
        meta = manifest.get("metadata") or {}
        found = [] if meta.get("name") else ["metadata.name: missing"]
        if crd.namespaced != bool(meta.get("namespace")):
            scope = "namespaced" if crd.namespaced else "cluster-scoped"
            found.append(f"metadata.namespace: {manifest['kind']} is {scope}")
        return found + _problems(crd.validator, manifest)

    def _core_problems(self, manifest: Manifest) -> list[str]:
        """kubernetes-validate stops at the first error; it is enough to fail on."""
        try:
            kubernetes_validate.validate(manifest, self.kubernetes, strict=True)
        except kubernetes_validate.ValidationError as error:
            return [_problem(error)]
        except kubernetes_validate.SchemaNotFoundError as error:
            return [f"(top level): no upstream schema: {error.message}"]
        return []

    def helm_problems(self, values: Mapping[str, Any]) -> list[str]:
        return _problems(self.helm, values)
