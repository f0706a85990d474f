"""Every manifest the suite renders for the default architecture, against the real API server.

A server-side dry run runs the real CRD schemas and their CEL rules (the CRDs
are the ones the operator registered itself); a deliberately broken manifest
must be rejected with the server's own message.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest

from netconform.kube import Kube, KubeError
from netconform.manifests import render_all
from netconform.spec import load
from netconform.workloads import RunNamespaces

ROOT = Path(__file__).resolve().parents[2]
RENDERED = render_all(load(ROOT / "architecture.yaml"), RunNamespaces("dryrun"))
NAMESPACES = [m for m in RENDERED if m["kind"] == "Namespace"]
REST = [m for m in RENDERED if m["kind"] != "Namespace"]


@pytest.fixture(scope="module")
def namespaces(kube: Kube) -> Iterator[None]:
    """A dry run of a namespaced object needs its namespace to exist for real."""
    kube.apply(NAMESPACES)
    yield
    for namespace in NAMESPACES:
        kube.delete_namespace(namespace["metadata"]["name"], wait=False)


def _id(manifest: dict) -> str:
    meta = manifest["metadata"]
    return f"{manifest['kind']}/{meta.get('namespace', '-')}/{meta['name']}"


def test_every_kind_is_covered() -> None:
    kinds = {m["kind"] for m in RENDERED}
    print(f"{len(RENDERED)} rendered manifests of {len(kinds)} kinds")
    assert {"Deployment", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"} <= kinds
    assert {"CiliumLoadBalancerIPPool", "CiliumBGPClusterConfig"} <= kinds


@pytest.mark.parametrize("manifest", REST, ids=[_id(m) for m in REST])
def test_rendered_manifest_passes_a_server_side_dry_run(
    kube: Kube, namespaces: None, manifest: dict
) -> None:
    meta = manifest["metadata"]
    applied = kube.apply([manifest], dry_run=True)
    assert applied[0]["metadata"]["name"] == meta["name"]
    found = kube.get(manifest["apiVersion"], manifest["kind"], meta["name"], meta.get("namespace"))
    assert found is None


def _broken(kind: str, edit) -> dict:
    manifest = copy.deepcopy(next(m for m in RENDERED if m["kind"] == kind))
    edit(manifest["spec"])
    return manifest


@pytest.mark.parametrize(
    ("manifest", "words"),
    [
        (
            _broken("CiliumBGPClusterConfig", lambda s: s["bgpInstances"][0].update(localASN=-1)),
            "localASN",
        ),
        (_broken("CiliumBGPPeerConfig", lambda s: s["families"][0].update(afi="ipv5")), "afi"),
        (
            _broken(
                "CiliumBGPAdvertisement",
                lambda s: s["advertisements"][0].update(advertisementType="Everything"),
            ),
            "advertisementType",
        ),
        (_broken("CiliumLoadBalancerIPPool", lambda s: s.update(blokcs=s.pop("blocks"))), "blokcs"),
    ],
    ids=["asn", "afi", "advertisement-type", "misspelt-field"],
)
def test_a_broken_manifest_is_rejected_with_the_servers_message(
    kube: Kube, manifest: dict, words: str
) -> None:
    with pytest.raises(KubeError) as raised:
        kube.apply([manifest], dry_run=True)
    assert f"{manifest['kind']} {manifest['metadata']['name']} rejected:" in str(raised.value)
    assert words in str(raised.value)
