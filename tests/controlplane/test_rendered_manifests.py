"""Every manifest the suite renders for the default architecture, against the real API server.

A server-side dry run runs the real CRD schemas and their CEL rules (the CRDs
are the ones the operator registered itself); a deliberately broken manifest
must be rejected with the server's own message.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from netconform.kube import Kube, KubeError
from netconform.manifests import render_all
from netconform.spec import load

ROOT = Path(__file__).resolve().parents[2]
RENDERED = render_all(load(ROOT / "architecture.yaml"))


@pytest.mark.parametrize(
    "manifest", RENDERED, ids=[f"{m['kind']}/{m['metadata']['name']}" for m in RENDERED]
)
def test_rendered_manifest_passes_a_server_side_dry_run(kube: Kube, manifest: dict) -> None:
    applied = kube.apply([manifest], dry_run=True)
    assert applied[0]["metadata"]["name"] == manifest["metadata"]["name"]
    assert kube.get(manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"]) is None


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
