"""The pins: cluster/versions.yaml, the one place Renovate bumps a version, read here only;
and where the pinned tools are found."""

from __future__ import annotations

import importlib.resources
import shutil
from collections.abc import Mapping
from pathlib import Path

import yaml

from netconform.offline import cache

PINS_FILE = Path(str(importlib.resources.files("netconform.cluster_files"))) / "versions.yaml"
# `make tools` puts the pinned kind, kubectl and helm in the checkout's .bin/.
TOOLS_DIR = Path(__file__).resolve().parents[1] / ".bin"


def load_versions(path: Path = PINS_FILE) -> dict[str, dict[str, str]]:
    return {
        key: {k: str(v) for k, v in entry.items()}
        for key, entry in yaml.safe_load(path.read_text()).items()
    }


def version(versions: Mapping[str, Mapping[str, str]], key: str) -> str:
    return versions[key]["version"]


def with_version(
    versions: Mapping[str, Mapping[str, str]], key: str, value: str
) -> dict[str, dict[str, str]]:
    """The pins with one version changed: a candidate tried before versions.yaml is."""
    changed = {k: dict(v) for k, v in versions.items()}
    changed[key]["version"] = value
    return changed


def probe_image(versions: Mapping[str, Mapping[str, str]]) -> str:
    """The stock image the probe pods and outside containers run netprobe on."""
    return f"python:{version(versions, 'probe_image')}"


def router_image(versions: Mapping[str, Mapping[str, str]]) -> str:
    """The FRR image the router next to kind runs."""
    return f"quay.io/frrouting/frr:{version(versions, 'frr_image')}"


def dns_server_image(versions: Mapping[str, Mapping[str, str]]) -> str:
    """The CoreDNS image the DNS servers next to kind run."""
    return f"registry.k8s.io/coredns/coredns:{version(versions, 'dns_server_image')}"


def tool(name: str, pinned_version: str | None = None) -> str:
    """The pinned copy `make tools` put in .bin/, else the one `make local-images` built,
    else PATH."""
    candidates = [TOOLS_DIR / name]
    if pinned_version:
        candidates.append(cache.BIN_DIR / f"{name}-{pinned_version}")
    found = next((c for c in candidates if c.exists()), None)
    return str(found) if found else (shutil.which(name) or name)
