"""The kube adapter against a real kube-apiserver and controller manager."""

from __future__ import annotations

import uuid

import pytest

from netconform.kube import Kube, KubeError
from netconform.manifest import MANAGED_BY, documents

CRD_AND_OBJECT = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: probes.netconform.test}
spec:
  group: netconform.test
  scope: Namespaced
  names: {plural: probes, singular: probe, kind: Probe}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              port: {type: integer, minimum: 1, maximum: 65535}
            x-kubernetes-validations:
            - rule: "self.port != 9"
              message: "port 9 is discard"
---
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: netconform.test/v1
kind: Probe
metadata: {name: p1, namespace: NS}
spec: {port: 8080}
"""


@pytest.fixture
def namespace(kube: Kube):
    name = f"nc-{uuid.uuid4().hex[:6]}"
    yield name
    kube.delete_namespace(name, wait=False)


def test_crd_and_its_objects_apply_in_one_go(kube: Kube, namespace: str) -> None:
    applied = kube.apply(documents(CRD_AND_OBJECT.replace("NS", namespace)))
    assert [m["kind"] for m in applied] == ["CustomResourceDefinition", "Namespace", "Probe"]
    probe = kube.get("netconform.test/v1", "Probe", "p1", namespace)
    assert probe is not None and probe["spec"]["port"] == 8080


def test_reapply_is_idempotent(kube: Kube, namespace: str) -> None:
    docs = documents(CRD_AND_OBJECT.replace("NS", namespace))
    first = kube.apply(docs)[-1]["metadata"]
    again = kube.apply(docs)[-1]["metadata"]
    assert (again["uid"], again["generation"]) == (first["uid"], first["generation"])


@pytest.mark.parametrize(
    ("port", "message"),
    [(70000, "should be less than or equal to 65535"), (9, "port 9 is discard")],
    ids=["schema", "cel-rule"],
)
def test_a_broken_manifest_is_rejected_with_the_servers_message(
    kube: Kube, namespace: str, port: int, message: str
) -> None:
    kube.apply(documents(CRD_AND_OBJECT.replace("NS", namespace)))
    bad = {
        "apiVersion": "netconform.test/v1",
        "kind": "Probe",
        "metadata": {"name": "bad", "namespace": namespace},
        "spec": {"port": port},
    }
    with pytest.raises(KubeError) as raised:
        kube.apply([bad])
    assert f"Probe {namespace}/bad rejected:" in str(raised.value)
    assert message in str(raised.value)


def test_dry_run_validates_without_creating(kube: Kube, namespace: str) -> None:
    kube.apply(documents(CRD_AND_OBJECT.replace("NS", namespace)))
    probe = {
        "apiVersion": "netconform.test/v1",
        "kind": "Probe",
        "metadata": {"name": "dry", "namespace": namespace},
        "spec": {"port": 80},
    }
    assert kube.apply([probe], dry_run=True)[0]["metadata"]["name"] == "dry"
    assert kube.get("netconform.test/v1", "Probe", "dry", namespace) is None


def test_unknown_kind_says_so(kube: Kube) -> None:
    with pytest.raises(
        KubeError, match=r"does not serve Widget in example\.com/v1: is its CRD installed"
    ):
        kube.apply([{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}])


def test_wait_condition_timeout_names_what_it_waited_for(kube: Kube) -> None:
    with pytest.raises(
        KubeError,
        match=r"timed out after 1s waiting for Namespace default condition Ready=True; "
        r"last status: .*Active",
    ):
        kube.wait_condition("v1", "Namespace", "default", None, "Ready", timeout=1)


def test_delete_by_label_takes_only_labelled_objects(kube: Kube, namespace: str) -> None:
    labels = {**MANAGED_BY, "netconform.io/run": namespace}

    def config_map(name: str, labelled: bool) -> dict:
        meta = {"name": name, "namespace": namespace, **({"labels": labels} if labelled else {})}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}

    kube.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            config_map("ours", True),
            config_map("theirs", False),
        ]
    )
    deleted = kube.delete_by_label(
        [("v1", "ConfigMap")], f"netconform.io/run={namespace}", namespace
    )
    assert deleted == [f"ConfigMap {namespace}/ours"]
    assert kube.get("v1", "ConfigMap", "theirs", namespace) is not None


def test_namespace_deletion_waits_until_it_is_really_gone(kube: Kube, namespace: str) -> None:
    kube.apply(documents(CRD_AND_OBJECT.replace("NS", namespace)))
    kube.delete_namespace(namespace, timeout=60)
    assert kube.get("v1", "Namespace", namespace) is None
    assert kube.get("netconform.test/v1", "Probe", "p1", namespace) is None
