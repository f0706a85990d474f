"""The user's repository read as a cluster would get it: Flux Kustomizations followed into
their paths with targetNamespace and postBuild substitution, kustomizations rendered, the
Cilium HelmRelease's values and version, the kinds applied and those only listed, and the
spec held to agree with the files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from netconform.fixtures.prerequisites import on_ci

from netconform import gateway, sources
from netconform.sources.helm import from_helm_release
from netconform.sources.tree import Sourced, SourceError, Tree
from netconform.spec import load
from netconform.versions import load_versions, tool, version
from netconform.workloads import RunNamespaces

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "homelab"


def fake_kustomize(directory: Path) -> str:
    """kustomize's `resources` and `namespace`, enough for trees written for these tests."""
    config = yaml.safe_load((directory / "kustomization.yaml").read_text())
    docs = []
    for resource in config.get("resources") or []:
        docs += [d for d in yaml.safe_load_all((directory / resource).read_text()) if d]
    for doc in docs:
        if config.get("namespace") and doc["kind"] != "Namespace":
            doc["metadata"]["namespace"] = config["namespace"]
    return yaml.safe_dump_all(docs)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


POLICY = """
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: db}
spec:
  endpointSelector: {matchLabels: {app: db}}
  egress:
    - toCIDR: ["${PARTNER}/32"]
"""
FLUX = """
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  path: ./apps/prod
  targetNamespace: prod
  postBuild:
    substitute: {PARTNER: 198.18.200.10}
"""


def test_a_flux_kustomization_is_followed_with_its_namespace_and_variables(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "clusters/home/apps.yaml": FLUX,
            "apps/prod/policy.yaml": POLICY,
            "apps/prod/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}",
        },
    )
    docs = Tree(tmp_path, fake_kustomize).read(tmp_path / "clusters/home")
    policy = next(d for d in docs if d.kind == "CiliumNetworkPolicy")
    assert policy.namespace == "prod" and policy.origin == "apps/prod/policy.yaml"
    assert policy.manifest["spec"]["egress"][0]["toCIDR"] == ["198.18.200.10/32"]
    assert {d.kind for d in docs} == {"Kustomization", "CiliumNetworkPolicy", "Deployment"}


def test_a_kustomization_renders_its_files_each_named_after_its_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "apps/kustomization.yaml": "namespace: staging\nresources: [policy.yaml]\n",
            "apps/policy.yaml": POLICY,
        },
    )
    docs = Tree(tmp_path, fake_kustomize).read(tmp_path / "apps")
    assert [(d.kind, d.namespace, d.origin) for d in docs] == [
        ("CiliumNetworkPolicy", "staging", "apps/policy.yaml")
    ]


def test_a_broken_file_is_named_with_its_line(tmp_path: Path) -> None:
    write(tmp_path, {"bad.yaml": "kind: Namespace\nmetadata: {name: [\n"})
    with pytest.raises(SourceError, match=r"^bad.yaml: line \d+: not valid YAML"):
        Tree(tmp_path, fake_kustomize).read(tmp_path / "bad.yaml")
    write(tmp_path, {"list.yaml": "- a\n- b\n"})
    with pytest.raises(SourceError, match=r"list\.yaml: document 1 is not a Kubernetes object"):
        Tree(tmp_path, fake_kustomize).read(tmp_path / "list.yaml")


def release(spec: str) -> Sourced:
    manifest = {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                "metadata": {"name": "cilium"}, "spec": yaml.safe_load(spec)}  # fmt: skip
    return Sourced(manifest, "helmrelease.yaml")


def test_a_helm_release_merges_values_from_then_its_own_values() -> None:
    values_map = Sourced(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cilium-values"},
            "data": {"values.yaml": "operator: {replicas: 1, prometheus: {enabled: true}}\n"},
        },
        "values.yaml",
    )
    spec = """
chart: {spec: {chart: cilium, version: 1.20.0}}
valuesFrom: [{kind: ConfigMap, name: cilium-values}]
values: {operator: {replicas: 2}}
"""
    install = from_helm_release([release(spec), values_map])
    assert install.values == {"operator": {"replicas": 2, "prometheus": {"enabled": True}}}
    assert install.version == "v1.20.0"
    assert install.origins == ("helmrelease.yaml", "values.yaml")


def test_a_helm_release_without_an_exact_version_or_its_values_is_refused() -> None:
    with pytest.raises(SourceError, match=r"'>=1.19.0' is not an exact version"):
        from_helm_release([release("chart: {spec: {chart: cilium, version: '>=1.19.0'}}")])
    missing = "chart: {spec: {version: 1.20.0}}\nvaluesFrom: [{kind: Secret, name: gone}]"
    with pytest.raises(SourceError, match="valuesFrom Secret gone: not found"):
        from_helm_release([release(missing)])
    optional = (
        "chart: {spec: {version: 1.20.0}}\nvaluesFrom: [{kind: Secret, name: gone, optional: true}]"
    )
    assert from_helm_release([release(optional)]).values == {}


@pytest.fixture(scope="module")
def kubectl() -> str:

    found = tool("kubectl", version(load_versions(), "kubernetes"))
    if not shutil.which(found):
        reason = f"no kubectl ({found}) to render kustomizations: make check builds it"
        if on_ci():
            pytest.fail(f"CI must render kustomizations, but {reason}")
        pytest.skip(reason)
    return found


def test_the_example_reads_as_flux_would_apply_it(kubectl: str) -> None:
    arch = load(EXAMPLE / "architecture.yaml")
    user = sources.load(arch)
    assert user.cilium is not None and user.cilium.version == "v1.20.0"
    assert user.cilium.values["operator"]["replicas"] == 2
    assert user.cilium.values["routingMode"] == "native"
    policies = {(d.kind, d.namespace, d.name) for d in user.of_kinds(sources.POLICY_KINDS)}
    assert ("CiliumNetworkPolicy", "ops", "monitoring") in policies  # Flux's targetNamespace
    assert ("CiliumNetworkPolicy", "staging", "backend-to-db-ingress") in policies  # kustomize
    assert ("CiliumClusterwideNetworkPolicy", None, "default-deny") in policies
    assert "not applied: Deployment prod/frontend (apps/base/frontend/deployment.yaml), not " \
        "the suite's business" in user.not_applied  # fmt: skip
    assert user.namespace_labels()["prod"]["environment"] == "prod"
    assert user.corefile is not None and "home.arpa:53" in user.corefile[0]


def test_the_examples_gateway_is_served_with_its_acme_issuer_signing_from_the_run_ca(
    kubectl: str,
) -> None:
    user = sources.load(load(EXAMPLE / "architecture.yaml"))
    objects, replaced = user.gateway_manifests("run-ca")
    issuer = next(m for m in objects if m["kind"] == "ClusterIssuer")
    assert (issuer["metadata"]["name"], issuer["spec"]) == (
        "letsencrypt",
        {"ca": {"secretName": "run-ca"}},
    )
    assert [(r.kind, r.name, r.challenge, r.secret_namespace) for r in replaced] == [
        ("ClusterIssuer", "letsencrypt", "dns01", "cert-manager")
    ]
    assert user.replaced_issuers == (str(replaced[0]),)
    served = gateway.served(objects, "cilium")
    assert (served.name, served.namespace, served.service) == (
        "home",
        "gateway",
        "cilium-gateway-home",
    )
    # No Certificate among the files: cert-manager makes one for the annotated Gateway, named
    # after the listener's Secret.
    assert served.secrets == served.certificates == {"https": "secure-home-arpa-tls"}


def test_the_project_gateway_is_served_from_its_rendered_objects() -> None:
    arch = load(ROOT / "architecture.yaml")
    layout = RunNamespaces("abc123")
    served = gateway.served(gateway.render(arch, layout), arch.gateway.class_)
    assert (served.name, served.namespace) == (gateway.GATEWAY_NAME, gateway.namespace(layout))
    assert served.secrets == {"https": "https-tls"} and served.certificates == {"https": "https"}
    with pytest.raises(ValueError, match="no Gateway of class 'other'"):
        gateway.served(gateway.render(arch, layout), "other")


def test_a_spec_that_disagrees_with_the_files_names_both(kubectl: str, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "homelab")
    spec = tmp_path / "homelab" / "architecture.yaml"
    text = spec.read_text().replace("address: 198.18.10.1}", "address: 198.18.10.2}")
    spec.write_text(text.replace("forward_to: [198.18.10.53]", "forward_to: [198.18.10.55]"))
    with pytest.raises(SourceError) as raised:
        sources.load(load(spec))
    lines = str(raised.value).splitlines()
    assert any(
        "peerAddress 198.18.10.1 is a peer" in line and "does not declare" in line for line in lines
    ), lines
    assert any(
        "home.arpa forwards to 198.18.10.53" in line and "forward_to 198.18.10.55" in line
        for line in lines
    ), lines


def test_kubectl_kustomize_errors_name_the_directory(kubectl: str, tmp_path: Path) -> None:
    write(tmp_path, {"k/kustomization.yaml": "resources: [missing.yaml]\n"})
    with pytest.raises(SourceError, match="kustomize failed"):
        sources.tree.kubectl_kustomize(kubectl)(tmp_path / "k")
    assert subprocess.run([kubectl, "version", "--client"], capture_output=True).returncode == 0
