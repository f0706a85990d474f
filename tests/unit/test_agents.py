"""Which operator pod leads, from the election's Lease: on the host network an operator's
hostname is its node's, so the holder's identity names the node and a random suffix."""

import pytest

from netconform.agents import leading_pod, operator_leader, pod_ready


class _Kube:
    def __init__(self, holder: str | None, pods: list[dict]) -> None:
        self.holder, self.pods = holder, pods

    def get(self, api_version, kind, name, namespace=None):
        return None if self.holder is None else {"spec": {"holderIdentity": self.holder}}

    def list(self, api_version, kind, namespace=None, label_selector=None):
        return self.pods


def _pod(name: str, node: str, ready: str = "True", deleting: bool = False) -> dict:
    meta = {"name": name, **({"deletionTimestamp": "2026-12-04T01:00:00Z"} if deleting else {})}
    status = {"conditions": [{"type": "Ready", "status": ready}]}
    return {"metadata": meta, "spec": {"nodeName": node}, "status": status}


PODS = [
    _pod("cilium-operator-6d9f-abcde", "netconform-worker"),
    _pod("cilium-operator-6d9f-fghij", "netconform-worker2"),
]


def test_the_leader_is_the_operator_on_the_node_its_identity_names():
    kube = _Kube("netconform-worker2-x7k2p9q4zr", PODS)
    assert operator_leader(kube) == "netconform-worker2-x7k2p9q4zr"
    assert leading_pod(kube, operator_leader(kube))["metadata"]["name"].endswith("fghij")


def test_an_operator_off_the_host_network_is_found_by_its_own_name():
    kube = _Kube("cilium-operator-6d9f-abcde-0123456789", PODS)
    assert leading_pod(kube, operator_leader(kube)) is PODS[0]


def test_no_lease_is_no_leader_and_a_stranger_is_named():
    assert operator_leader(_Kube(None, PODS)) == ""
    with pytest.raises(AssertionError, match="no operator pod is the leader 'elsewhere-1'"):
        leading_pod(_Kube("elsewhere-1", PODS), "elsewhere-1")


def test_a_pod_on_its_way_out_is_not_ready():
    assert pod_ready(PODS[0])
    assert not pod_ready(_pod("a", "n", deleting=True))
    assert not pod_ready(_pod("b", "n", ready="False"))
