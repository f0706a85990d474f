"""The policy suites' setup phase against the real API server: workloads deployed, policies
applied and accepted, safety rules kept, everything of a run removed. (Probing needs a
datapath: that phase is proven in the lab.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from netconform import manifests
from netconform.kube import Kube
from netconform.policy_run import CLUSTER_SCOPED_POLICY, PolicyRun, Target, remove_leftovers
from netconform.spec import load
from netconform.workloads import RUN_LABEL, RunNamespaces

ROOT = Path(__file__).resolve().parents[2]
ARCH = load(ROOT / "architecture.yaml")
CNP = ("cilium.io/v2", "CiliumNetworkPolicy")


def policy_run(kube: Kube, allow_cluster_changes: bool, arch=ARCH) -> PolicyRun:
    target = Target(kube, None, allow_cluster_changes)
    return PolicyRun(
        target,
        arch,
        RunNamespaces(uuid.uuid4().hex[:6]),
        "python:3.13-slim",
        {"partner-api": "198.18.200.10"},
    )


@pytest.fixture
def kind_run(kube: Kube) -> Iterator[PolicyRun]:
    run = policy_run(kube, allow_cluster_changes=True)
    yield run
    run.cleanup()


@pytest.fixture
def existing_run(kube: Kube) -> Iterator[PolicyRun]:
    run = policy_run(kube, allow_cluster_changes=False)
    yield run
    run.cleanup()


def owned(kube: Kube, run: PolicyRun, api_version: str, kind: str) -> list[str]:
    found = kube.list(api_version, kind, label_selector=f"{RUN_LABEL}={run.layout.run}")
    return sorted(f"{m['metadata'].get('namespace', '-')}/{m['metadata']['name']}" for m in found)


def test_workloads_land_in_run_namespaces_with_labels(kube: Kube, kind_run: PolicyRun) -> None:
    kind_run.deploy()
    namespaces = owned(kube, kind_run, "v1", "Namespace")
    assert namespaces == sorted(
        f"-/netconform-{kind_run.layout.run}-{e}" for e in ARCH.environments
    )
    deployments = owned(kube, kind_run, "apps/v1", "Deployment")
    assert (
        len(deployments) == 7 and f"netconform-{kind_run.layout.run}-prod/frontend" in deployments
    )
    deployment = kube.get("apps/v1", "Deployment", "db", kind_run.layout.namespace("prod"))
    pod = deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"] == ["serve", "--tcp", "5432,9090", "--http", "8080"]
    assert pod["volumes"][0]["configMap"]["name"] == "netconform-netprobe"


def test_reference_policies_are_accepted_and_removed(kube: Kube, kind_run: PolicyRun) -> None:
    kind_run.deploy()
    kind_run.apply_policies()
    assert owned(kube, kind_run, *CLUSTER_SCOPED_POLICY) == [
        f"-/netconform-{kind_run.layout.run}-default-deny"
    ]
    assert len(owned(kube, kind_run, *CNP)) == 7
    kind_run.remove_policies()
    assert owned(kube, kind_run, *CNP) == [] and owned(kube, kind_run, *CLUSTER_SCOPED_POLICY) == []


def test_a_policy_recreated_under_a_deleted_name_reaches_a_new_generation(
    kube: Kube, kind_run: PolicyRun
) -> None:
    """Cilium v1.20's agents skip a policy of the generation they hold: one deleted and given
    again with other rules must not come back as generation 1."""
    kind_run.deploy()
    kind_run.apply_policies()
    kind_run.remove_policies()
    kind_run.apply_policies(kind_run.policy_manifests(authentication="test-always-fail"))
    namespace = kind_run.layout.namespace("prod")
    db = kube.get(*CNP, "allow-db", namespace)
    assert db is not None and db["metadata"]["generation"] == 2
    assert "netconform.io/placeholder" not in str(db["spec"])
    assert {"mode": "test-always-fail"} in [r.get("authentication") for r in db["spec"]["ingress"]]
    kind_run.apply_policies()
    assert kube.get(*CNP, "allow-db", namespace)["metadata"]["generation"] == 3
    frontend = kube.get(*CNP, "allow-frontend", namespace)
    assert frontend is not None and frontend["metadata"]["generation"] == 2


def test_existing_cluster_without_the_flag_gets_no_cluster_scoped_object(
    kube: Kube, existing_run: PolicyRun
) -> None:
    existing_run.deploy()
    existing_run.apply_policies()
    assert owned(kube, existing_run, *CLUSTER_SCOPED_POLICY) == []
    names = owned(kube, existing_run, *CNP)
    assert sum(name.endswith("/default-deny") for name in names) == len(ARCH.environments)


def test_users_own_cluster_scoped_policy_needs_the_flag(kube: Kube, tmp_path: Path) -> None:
    own = tmp_path / "policies.yaml"
    own.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "cilium.io/v2",
                "kind": "CiliumClusterwideNetworkPolicy",
                "metadata": {"name": "mine"},
                "spec": {"endpointSelector": {}, "ingress": [{}]},
            }
        )
    )
    arch = ARCH.model_copy(update={"policy": ARCH.policy.model_copy(update={"paths": [str(own)]})})
    run = policy_run(kube, allow_cluster_changes=False, arch=arch)
    with pytest.raises(
        PermissionError, match=r"cluster-scoped policies \(mine\) need --allow-cluster-changes"
    ):
        run.apply_policies()
    assert kube.get(*CLUSTER_SCOPED_POLICY, "mine") is None


def test_cleanup_removes_everything_of_the_run_and_nothing_else(
    kube: Kube, kind_run: PolicyRun
) -> None:
    other = policy_run(kube, allow_cluster_changes=True)
    other.deploy()
    try:
        kind_run.deploy()
        kind_run.apply_policies()
        removed = kind_run.cleanup()
        assert (
            f"CiliumClusterwideNetworkPolicy netconform-{kind_run.layout.run}-default-deny"
            in removed
        )
        for env in ARCH.environments:
            kube.delete_namespace(kind_run.layout.namespace(env), timeout=90)
        assert owned(kube, kind_run, "v1", "Namespace") == []
        assert len(owned(kube, other, "v1", "Namespace")) == len(ARCH.environments)
    finally:
        other.cleanup()


def test_failure_evidence_includes_warning_events(kube: Kube, kind_run: PolicyRun) -> None:
    kind_run.deploy()
    namespace = kind_run.layout.namespace("prod")
    kube.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "probe-failed", "namespace": namespace},
                "type": "Warning",
                "reason": "FailedScheduling",
                "message": "0/3 nodes are available",
                "involvedObject": {"kind": "Pod", "name": "frontend-abc", "namespace": namespace},
            }
        ]
    )
    assert (
        f"{namespace}: Warning FailedScheduling Pod/frontend-abc: 0/3 nodes are available"
        in kind_run.events()
    )


def test_make_clean_removes_leftovers_of_any_run_but_nothing_unlabelled(kube: Kube) -> None:
    interrupted = policy_run(kube, allow_cluster_changes=True)
    interrupted.deploy()
    interrupted.apply_policies()
    kube.apply([*manifests.lb_pools(ARCH), *manifests.bgp(ARCH)])
    theirs = f"theirs-{uuid.uuid4().hex[:6]}"
    their_pool = {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumLoadBalancerIPPool",
        "metadata": {"name": theirs},
        "spec": {"blocks": [{"cidr": "198.18.241.0/29"}]},
    }
    kube.apply(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": theirs}}, their_pool]
    )
    try:
        removed = remove_leftovers(kube)
        assert f"Namespace netconform-{interrupted.layout.run}-prod" in removed
        assert (
            f"CiliumClusterwideNetworkPolicy netconform-{interrupted.layout.run}-default-deny"
            in removed
        )
        assert {"CiliumLoadBalancerIPPool default", "CiliumBGPClusterConfig netconform"} <= set(
            removed
        )
        assert kube.get("v1", "Namespace", theirs) is not None
        assert kube.get("cilium.io/v2", "CiliumLoadBalancerIPPool", theirs) is not None
    finally:
        kube.delete_namespace(theirs, wait=False)
        kube.delete("cilium.io/v2", "CiliumLoadBalancerIPPool", theirs)
