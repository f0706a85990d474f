"""The command line: actionable messages and exit codes, never a traceback."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from netconform import cluster, preflight
from netconform.cli import main
from netconform.versions import load_versions

ROOT = Path(__file__).resolve().parents[2]


def fake_tools(answers: dict[str, tuple[int, str]]):
    def run(argv):
        name = Path(argv[0]).name.split("-v")[0]  # kind, or kind-v0.32.0 that local images built
        return answers.get(name, (127, "not found"))

    return run


def test_preflight_names_every_problem_and_how_to_fix_it() -> None:
    run = fake_tools(
        {
            "docker": (1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock"),
            "kind": (0, "kind v0.20.0 go1.20 linux/amd64"),
            "kubectl": (0, "Client Version: v1.36.1"),
        }
    )
    found = preflight.problems(run=run)
    assert found[0].startswith(
        "docker (runs the kind nodes) does not work: Cannot connect to the Docker daemon at "
        "unix:///var/run/docker.sock; install Docker Engine"
    )
    assert found[0].endswith("without registry access: make docker-up, then make test IMAGES=local")
    assert found[1:] == [
        "kind 0.20 is too old, need 0.27+: make tools",
        "helm (installs Cilium) is missing: make tools",
    ]
    assert "3 problem(s)" in preflight.report(found)


def test_preflight_refuses_a_kubectl_more_than_one_minor_from_the_pinned_kubernetes() -> None:
    run = fake_tools(
        {
            "docker": (0, "28.2.2"),
            "kind": (0, "kind v0.32.0 go1.26 linux/amd64"),
            "helm": (0, "v3.19.2+g8766e71"),
            "kubectl": (0, "Client Version: v1.32.4"),
        }
    )
    assert preflight.problems(run=run) == [
        "kubectl 1.32 is more than one minor away from the pinned kubernetes 1.36 "
        "(kubectl supports one minor of skew): make tools"
    ]


def test_preflight_passes_with_recent_tools() -> None:
    run = fake_tools(
        {
            "docker": (0, "28.2.2"),
            "kind": (0, "kind v0.32.0 go1.26 linux/amd64"),
            "helm": (0, "v3.19.2+g8766e71"),
            "kubectl": (0, "Client Version: v1.36.1\nKustomize Version: v5.7.1"),
        }
    )
    assert preflight.problems(run=run) == []


def test_make_style_preflight_without_tools_exits_non_zero_quickly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "netconform.cli", "preflight"],
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path)},
        cwd=ROOT,
        timeout=20,
    )
    assert done.returncode == 2
    assert "docker (runs the kind nodes) is missing" in done.stderr
    assert "Traceback" not in done.stderr


def test_validate_accepts_the_default_and_reports_a_bad_file(tmp_path: Path, capsys) -> None:
    assert main(["--spec", str(ROOT / "architecture.yaml"), "validate"]) == 0
    assert "ok (7 workloads, 8 flows)" in capsys.readouterr().out
    bad = tmp_path / "arch.yaml"
    bad.write_text("version: 1\ncluster: {name: x, nodes: 3}\n")
    assert main(["--spec", str(bad), "validate"]) == 2
    assert f"{bad}: cluster.nodes: unknown key" in capsys.readouterr().err


def test_cluster_up_dry_run_prints_config_commands_and_values(capsys) -> None:
    assert main(["--spec", str(ROOT / "architecture.yaml"), "cluster", "up", "--dry-run"]) == 0
    out = capsys.readouterr().out
    kind_create = r"\S*kind(-v[\d.]+)? create cluster --name=netconform --image=kindest/node:v"
    assert re.search(kind_create, out), out
    kind_config = yaml.safe_load(out.split("kind-config.yaml <<'EOF'\n")[1].split("\nEOF")[0])
    assert kind_config["networking"] == {
        "disableDefaultCNI": True,
        "kubeProxyMode": "none",
        "podSubnet": "10.244.0.0/16",
        "serviceSubnet": "10.96.0.0/16",
    }
    assert [n["role"] for n in kind_config["nodes"]] == ["control-plane", "worker", "worker"]
    values = yaml.safe_load(out.split("cilium-values.yaml <<'EOF'\n")[1].split("\nEOF")[0])
    assert (
        values["kubeProxyReplacement"] is True
        and values["k8sServiceHost"] == "netconform-control-plane"
    )
    assert values["encryption"] == {"enabled": True, "type": "wireguard"}
    assert "upgrade --install cilium cilium --repo" in out
    assert "rollout status daemonset/cilium" in out


def test_render_prints_every_manifest(capsys) -> None:
    assert main(["--spec", str(ROOT / "architecture.yaml"), "render"]) == 0
    kinds = [doc["kind"] for doc in yaml.safe_load_all(capsys.readouterr().out)]
    assert kinds.count("CiliumLoadBalancerIPPool") == 2 and "CiliumBGPClusterConfig" in kinds
    assert kinds.count("Deployment") == 7 and kinds.count("CiliumNetworkPolicy") == 7
    assert kinds.count("CiliumClusterwideNetworkPolicy") == 1


def test_local_images_add_what_this_machine_needs(capsys, monkeypatch, tmp_path: Path) -> None:
    missing = tmp_path / "node-image"
    monkeypatch.setattr(cluster, "LOCAL_NODE_IMAGE", missing)
    spec = str(ROOT / "architecture.yaml")
    assert main(["--spec", spec, "cluster", "up", "--images=local", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"--image={cluster.NODE_IMAGE_NOT_BUILT}" in out
    assert "local images are not built yet; make local-images would build: kind" in out
    assert main(["--spec", spec, "cluster", "up", "--images=local"]) == 2
    assert "local images not built: run make docker-up local-images" in capsys.readouterr().err
    missing.write_text("netconform/kind-node:v1.36.1-abc\n")
    assert main(["--spec", spec, "cluster", "up", "--images=local", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "--image=netconform/kind-node:v1.36.1-abc" in out
    assert "upgrade --install cilium " + str(cluster.local_chart(load_versions())) in out
    values = yaml.safe_load(out.split("cilium-values.yaml <<'EOF'\n")[1].split("\nEOF")[0])
    assert values["image"] == {"useDigest": False, "pullPolicy": "Never"}
    assert values["envoy"] == {"enabled": False} and "encryption" not in values
    assert "SYS_RESOURCE" not in values["securityContext"]["capabilities"]["ciliumAgent"]
    assert f"apply --server-side -f {cluster.crds_dir() / 'gateway-api'}" in out
    # The cert-manager built here, from the chart its module carries, pulling nothing.
    chart = cluster.local_cert_manager_chart(load_versions())
    assert "install cert-manager v1.11.5 with Helm" in out
    assert f"upgrade --install cert-manager {chart} " in out
    assert "--set cainjector.image.pullPolicy=Never" in out and "--repo" not in out
    kind_config = yaml.safe_load(out.split("kind-config.yaml <<'EOF'\n")[1].split("\nEOF")[0])
    assert kind_config["networking"]["podSubnet"].startswith("198.18.")
    assert "failCgroupV1: false" in kind_config["kubeadmConfigPatches"][0]


def test_local_path_refuses_a_missing_or_different_chart_file(
    capsys, monkeypatch, tmp_path: Path
) -> None:
    node_image = tmp_path / "node-image"
    node_image.write_text("netconform/kind-node:v1.36.1-abc\n")
    monkeypatch.setattr(cluster, "LOCAL_NODE_IMAGE", node_image)
    monkeypatch.setenv("NETCONFORM_CHARTS", str(tmp_path))
    spec = str(ROOT / "architecture.yaml")
    assert main(["--spec", spec, "cluster", "up", "--images=local", "--dry-run"]) == 2
    assert "no chart file for the pinned Cilium 1.20.0" in capsys.readouterr().err
    (tmp_path / "cilium-1.20.0.tgz").write_bytes(b"not the released chart")
    assert main(["--spec", spec, "cluster", "up", "--images=local", "--dry-run"]) == 2
    assert "cilium-1.20.0.tgz has sha256" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", str(ROOT / "architecture.yaml")],
        ["validate", "--spec", str(ROOT / "architecture.yaml")],
        ["--spec", str(ROOT / "architecture.yaml"), "validate"],
    ],
    ids=["positional", "spec-after", "spec-before"],
)
def test_validate_takes_the_spec_in_every_documented_form(capsys, argv: list[str]) -> None:
    assert main(argv) == 0
    assert capsys.readouterr().out.endswith(": ok (7 workloads, 8 flows)\n")


def test_the_dry_run_prints_plain_yaml_without_anchors(capsys) -> None:
    assert main(["--spec", str(ROOT / "architecture.yaml"), "cluster", "up", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "&id" not in out and "*id" not in out


def test_render_shows_the_agent_once_as_a_summary(capsys) -> None:
    assert main(["--spec", str(ROOT / "architecture.yaml"), "render"]) == 0
    out = capsys.readouterr().out
    assert "def run_batch" not in out
    # One netprobe ConfigMap per environment's namespace, and one for the capture pods.
    assert out.count("(the probe, netprobe.py: ") == 4


def test_validate_does_not_import_the_kubernetes_client() -> None:
    probe = (
        "import sys; from netconform.cli import main; main(['validate', sys.argv[1]]); "
        "print('kubernetes' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(ROOT / "architecture.yaml")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip().endswith("False")


def test_analyze_passes_the_reference_policies_and_names_a_broken_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--spec", str(ROOT / "architecture.yaml"), "analyze"]) == 0
    assert "analyzer: the policies give the spec's matrix" in capsys.readouterr().out
    from netconform import policies
    from netconform.manifests import REFERENCE_RUN
    from netconform.spec import load
    from netconform.workloads import RunNamespaces

    arch = load(ROOT / "architecture.yaml")
    flows = [f for f in arch.policy.flows if f.name != "backend-to-db"]
    broken = arch.model_copy(update={"policy": arch.policy.model_copy(update={"flows": flows})})
    path = tmp_path / "broken.yaml"
    layout = RunNamespaces.declared_by(arch, REFERENCE_RUN)
    path.write_text(yaml.safe_dump_all(policies.render(broken, layout)))
    assert main(["--spec", str(ROOT / "architecture.yaml"), "analyze", str(path)]) == 1
    out = capsys.readouterr().out
    assert "analyzer: 2 of 196 cells wrong" in out
    assert "! wrong: prod/backend -> prod/db 5432/TCP expected connected, got dropped" in out
    assert main(["analyze", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: No such file or directory" in capsys.readouterr().err


def test_analyze_resolves_named_ports_on_the_containers_the_spec_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rule on a named port decides where the spec names the destination's container ports
    (the probe pods carry those names); where it names none, the name resolves to no port."""
    from netconform import policies
    from netconform.manifests import REFERENCE_RUN
    from netconform.spec import load
    from netconform.workloads import RunNamespaces, render

    data = yaml.safe_load((ROOT / "architecture.yaml").read_text())
    data["groups"]["db"]["port_names"] = {"postgres": "5432/TCP"}
    named_spec = tmp_path / "architecture.yaml"
    named_spec.write_text(yaml.safe_dump(data))
    del data["groups"]["db"]["port_names"]
    unnamed_spec = tmp_path / "unnamed.yaml"
    unnamed_spec.write_text(yaml.safe_dump(data))
    arch = load(named_spec)
    layout = RunNamespaces.declared_by(arch, REFERENCE_RUN)
    db = next(m for m in render(arch, layout, "probe") if m["metadata"]["name"] == "db")
    ports = db["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert {"containerPort": 5432, "protocol": "TCP", "name": "postgres"} in ports
    by_name = yaml.safe_dump_all(policies.render(arch, layout)).replace(
        "port: '5432'", "port: postgres"
    )
    path = tmp_path / "named.yaml"
    path.write_text(by_name)
    assert main(["--spec", str(named_spec), "analyze", str(path)]) == 0
    assert "analyzer: the policies give the spec's matrix" in capsys.readouterr().out
    assert main(["--spec", str(unnamed_spec), "analyze", str(path)]) == 1
    out = capsys.readouterr().out
    assert "! wrong: prod/backend -> prod/db 5432/TCP expected connected, got dropped" in out
    assert "cells wrong, 0 undecided" in out


def test_upgrade_check_dry_run_shows_both_paths(capsys) -> None:
    spec = ["--spec", str(ROOT / "architecture.yaml")]
    assert main([*spec, "upgrade-check", "--to", "v1.20.2", "--dry-run"]) == 0
    registry = capsys.readouterr().out
    assert "upgrade cilium cilium --repo https://helm.cilium.io --version 1.20.2" in registry
    assert "--reuse-values" in registry and "rollout status daemonset/cilium" in registry
    assert main([*spec, "upgrade-check", "--to", "v1.20.2", "--images", "local", "--dry-run"]) == 0
    local = capsys.readouterr().out
    assert "local_images --cilium v1.20.2" in local
    assert "load docker-image quay.io/cilium/cilium:v1.20.2" in local
    assert "cilium-1.20.0.tgz --set image.tag=v1.20.2 --set operator.image.tag=v1.20.2" in local


def test_upgrade_check_without_a_cluster_says_how_to_make_one(capsys, monkeypatch) -> None:
    monkeypatch.setattr(cluster, "kind_clusters", lambda *_: [])
    spec = ["--spec", str(ROOT / "architecture.yaml")]
    assert main([*spec, "upgrade-check", "--to", "v1.20.2", "--images", "local"]) == 2
    assert "no kind cluster netconform: run `netconform cluster up --images=local` first" in (
        capsys.readouterr().err
    )


def test_analyze_reports_a_required_flow_its_policies_allow_without_authentication(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from netconform import policies
    from netconform.manifests import REFERENCE_RUN
    from netconform.spec import MutualAuth, load
    from netconform.workloads import RunNamespaces

    arch = load(ROOT / "architecture.yaml")
    assert arch.mutual_auth.required_for == ["backend-to-db"]
    unauthenticated = arch.model_copy(update={"mutual_auth": MutualAuth()})
    path = tmp_path / "no-auth.yaml"
    rendered = policies.render(unauthenticated, RunNamespaces.declared_by(arch, REFERENCE_RUN))
    path.write_text(yaml.safe_dump_all(rendered))
    assert main(["--spec", str(ROOT / "architecture.yaml"), "analyze", str(path)]) == 1
    out = capsys.readouterr().out
    assert "analyzer: the policies give the spec's matrix" in out
    assert (
        "! prod/backend -> prod/db 5432/TCP: flow backend-to-db requires mutual authentication, "
        "but egress allowed by" in out
    )
    assert out.count("requires mutual authentication") == 2  # prod and staging


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["upgrade-check", "--to", "not-a-version"], "'not-a-version' is not a version"),
        (["upgrade-check", "--to", "v1.20.2", "--max-gap", "-5"], "-5 seconds: give more than 0"),
    ],
)
def test_upgrade_check_refuses_a_bad_version_or_gap(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and said in capsys.readouterr().err


def test_diff_of_a_file_that_is_not_json_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "results.json"
    path.write_text("<html>")
    assert main(["diff", str(path), str(path)]) == 2
    assert "not a results file (results.json of a run): not JSON" in capsys.readouterr().err


def test_cilium_version_is_the_users_helm_release_pin_else_netconforms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a pull request's workflow compares with its base branch's, to measure an upgrade."""
    home = tmp_path / "homelab"
    shutil.copytree(ROOT / "examples" / "homelab", home)
    oci = home / "infrastructure" / "cilium" / "ocirepository.yaml"
    oci.write_text(oci.read_text().replace("tag: 1.20.0", "tag: 1.20.2"))
    assert main(["--spec", str(home / "architecture.yaml"), "cilium-version"]) == 0
    assert capsys.readouterr().out == "v1.20.2\n"
    assert main(["--spec", str(ROOT / "architecture.yaml"), "cilium-version"]) == 0
    assert capsys.readouterr().out == f"{load_versions()['cilium']['version']}\n"
    oci.write_text(oci.read_text().replace("tag: 1.20.2", "tag: latest"))
    assert main(["--spec", str(home / "architecture.yaml"), "cilium-version"]) == 2
    assert "Traceback" not in capsys.readouterr().err
