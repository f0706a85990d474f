"""cert-manager's controller, webhook and cainjector for the local-images path, built here under
the names its chart renders, each static binary where upstream's Containerfile puts it
(/app/cmd/<part>/<part>, run as uid 1000) on an image holding CA certificates.

The release is `cert_manager_local` of versions.yaml, not the user path's `cert_manager`: the
newest whose commands are packages of its main module, the only ones the module proxy serves.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from netconform.cluster import local_cert_manager_chart
from netconform.offline import gobuild
from netconform.offline.images import CA_BUNDLE, import_files
from netconform.versions import version

VERSION_KEY = "cert_manager_local"
PARTS = ("controller", "webhook", "cainjector")
REPOSITORY = "quay.io/jetstack/cert-manager-"
UID = 1000
# Set by upstream's release tool in the chart source's Chart.template.yaml.
CHART_PLACEHOLDERS = {"v0.1.0": "{version}", "{{IS_PRERELEASE}}": "false"}


def image_names(versions: Mapping[str, Mapping[str, str]]) -> list[str]:
    tag = version(versions, VERSION_KEY)
    return [f"{REPOSITORY}{part}:{tag}" for part in PARTS]


def build(
    versions: Mapping[str, Mapping[str, str]], log: Callable[[str], None] = print
) -> list[str]:
    binaries = gobuild.ensure([f"cert-manager-{part}" for part in PARTS], log=log)
    names = image_names(versions)
    for part, ref in zip(PARTS, names, strict=True):
        inside = f"/app/cmd/{part}/{part}"
        files = {inside: binaries[f"cert-manager-{part}"], str(CA_BUNDLE): CA_BUNDLE}
        import_files(ref, files, [inside], ("/tmp",), UID, [f"USER {UID}:{UID}"])
    return names


def chart(versions: Mapping[str, Mapping[str, str]]) -> Path:
    """The chart source the module carries, made installable as upstream's release tool makes
    it: a Chart.yaml with the version, and the CRDs among the templates."""
    target = local_cert_manager_chart(versions)
    if (target / "Chart.yaml").is_file():
        return target
    deploy = gobuild.module_source(VERSION_KEY) / "deploy"
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(deploy / "charts" / "cert-manager", partial, copy_function=shutil.copyfile)
    for path in [partial, *partial.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    text = (partial / "Chart.template.yaml").read_text()
    for placeholder, value in CHART_PLACEHOLDERS.items():
        text = text.replace(placeholder, value.format(version=version(versions, VERSION_KEY)))
    (partial / "Chart.yaml").write_text(text)
    crds = sorted((deploy / "crds").glob("crd-*.yaml"))
    (partial / "templates" / "crds.yaml").write_text("\n---\n".join(p.read_text() for p in crds))
    partial.rename(target)
    return target
