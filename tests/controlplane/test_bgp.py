"""The BGP control plane: the operator turns the rendered cluster config into one node config
per node, judged by the suite's BGP node-config checker.

No agents run here, so the test creates the Node and CiliumNode objects the
agents would normally create.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netconform.checks.bgp_nodes import check_bgp_node_configs
from netconform.convergence import Convergence, converge
from netconform.kube import Kube
from netconform.manifest import MANAGED_BY
from netconform.manifests import bgp
from netconform.spec import load
from netconform.verdict import Verdict

ROOT = Path(__file__).resolve().parents[2]
ARCH = load(ROOT / "architecture.yaml")
NODES = ["netconform-control-plane", "netconform-worker", "netconform-worker2"]
NODE_CONFIG = ("cilium.io/v2", "CiliumBGPNodeConfig")


def node_objects(index: int, name: str) -> list[dict]:
    labels = {**MANAGED_BY, "kubernetes.io/hostname": name}
    return [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}},
        {
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNode",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "addresses": [{"type": "InternalIP", "ip": f"198.18.0.{11 + index}"}],
                "ipam": {"podCIDRs": [f"198.19.{index}.0/24"]},
            },
        },
    ]


@pytest.fixture
def nodes(kube: Kube) -> Iterator[list[str]]:
    kube.apply([obj for i, name in enumerate(NODES) for obj in node_objects(i, name)])
    yield NODES
    for name in NODES:
        kube.delete("cilium.io/v2", "CiliumNode", name)
        kube.delete("v1", "Node", name)


def observed(kube: Kube, want_nodes: list[str], arch_bgp) -> Verdict:
    def observe() -> Verdict:
        return check_bgp_node_configs(want_nodes, kube.list(*NODE_CONFIG), arch_bgp)

    return converge(
        observe, lambda v: v.ok, Convergence(timeout=30, consistent_rounds=2, interval=0.5)
    ).history[-1]


def test_operator_derives_a_node_config_per_node(kube: Kube, nodes: list[str]) -> None:
    assert ARCH.bgp is not None
    rendered = bgp(ARCH)
    kube.apply(rendered)
    try:
        verdict = observed(kube, nodes, ARCH.bgp)
        assert verdict.ok, str(verdict)
        assert verdict.evidence.count("AS64512 -> 198.18.0.1 AS64513") == len(nodes)
    finally:
        for manifest in rendered:
            kube.delete(manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"])


def test_the_check_names_a_node_without_config_and_a_wrong_peer(
    kube: Kube, nodes: list[str]
) -> None:
    assert ARCH.bgp is not None
    rendered = bgp(ARCH)
    kube.apply(rendered)
    try:
        assert observed(kube, nodes, ARCH.bgp).ok
        wrong_peer = ARCH.bgp.model_copy(
            update={"peers": [ARCH.bgp.peers[0].model_copy(update={"peer_asn": 65000})]}
        )
        verdict = check_bgp_node_configs([*nodes, "ghost"], kube.list(*NODE_CONFIG), wrong_peer)
        assert not verdict.ok
        assert "ghost: no CiliumBGPNodeConfig" in verdict.summary
        assert "netconform-control-plane: no peer 198.18.0.1 AS65000" in verdict.summary
    finally:
        for manifest in rendered:
            kube.delete(manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"])
