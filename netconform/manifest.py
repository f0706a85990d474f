"""Kubernetes objects as plain data, and the YAML they come in: what commands that never talk
to a cluster (validate, analyze, render) need, without importing the Kubernetes client."""

from __future__ import annotations

from typing import Any

import yaml

MANAGED_BY = {"app.kubernetes.io/managed-by": "netconform"}
MANAGED_BY_SELECTOR = "app.kubernetes.io/managed-by=netconform"

Manifest = dict[str, Any]
# libyaml's loader where PyYAML was built with it: the pure-Python one is many times slower.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def documents(text: str) -> list[Manifest]:
    """Multi-document YAML, without the empty documents `---` leaves behind."""
    return [doc for doc in yaml.load_all(text, Loader=SafeLoader) if doc]


def describe(obj: Manifest) -> str:
    meta = obj.get("metadata", {})
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {where}{meta.get('name', '?')}"
