"""A kind cluster from locally built images, through the provisioning users take
(`netconform cluster up --images=local`): the control plane comes up, every node
registers and turns Ready with Cilium from the released chart, and `cluster down`
leaves no container, network or volume behind."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from netconform import cluster
from netconform.offline import engine
from netconform.versions import load_versions, tool, version

ROOT = Path(__file__).resolve().parents[2]
NAME = "nclocal-test"


def docker_lines(*args: str) -> set[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def netconform(spec: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "netconform.cli", "--spec", str(spec), "cluster", *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=False)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not cluster.LOCAL_NODE_IMAGE.exists():
        pytest.skip("local images not built: run make local-images")
    engine.up()
    data = yaml.safe_load((ROOT / "architecture.yaml").read_text())
    data["cluster"]["name"] = NAME
    path = tmp_path_factory.mktemp("spec") / "architecture.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def created(spec: Path) -> Iterator[dict[str, object]]:
    before = {
        "volumes": docker_lines("volume", "ls", "-q"),
        "networks": docker_lines("network", "ls", "--format", "{{.Name}}"),
    }
    start = time.monotonic()
    up = netconform(spec, "up", "--images=local")
    seconds = time.monotonic() - start
    try:
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        print(f"kind cluster {NAME} created from local images in {seconds:.1f}s")
        yield {**before, "seconds": seconds}
    finally:
        netconform(spec, "down")


def kubectl(*args: str) -> str:
    versions = load_versions()
    kubeconfig = cluster.workdir_for_name(NAME) / "kubeconfig"
    binary = tool("kubectl", version(versions, "kubernetes"))
    return subprocess.run(
        [binary, f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True, check=True
    ).stdout


def test_the_api_server_is_ready(created: dict) -> None:
    assert kubectl("get", "--raw", "/readyz") == "ok"


def test_every_static_pod_runs(created: dict) -> None:
    pods = json.loads(
        kubectl("-n", "kube-system", "get", "pods", "-l", "tier=control-plane", "-o", "json")
    )["items"]
    names = sorted(p["metadata"]["labels"]["component"] for p in pods)
    assert names == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    assert all(p["status"]["phase"] == "Running" for p in pods)


def test_every_node_registers(created: dict) -> None:
    nodes = json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == [
        f"{NAME}-control-plane",
        f"{NAME}-worker",
        f"{NAME}-worker2",
    ]
    assert {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes} == {
        version(load_versions(), "kubernetes")
    }


def test_cilium_from_the_released_chart_makes_every_node_ready(created: dict) -> None:
    nodes = json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
    ready = {
        n["metadata"]["name"]: {c["type"]: c["status"] for c in n["status"]["conditions"]}["Ready"]
        for n in nodes
    }
    assert set(ready.values()) == {"True"}, ready
    agents = json.loads(
        kubectl("-n", "kube-system", "get", "pods", "-l", "k8s-app=cilium", "-o", "json")
    )["items"]
    images = {c["image"] for p in agents for c in p["spec"]["containers"]}
    chart_version = version(load_versions(), "cilium")
    assert images == {f"quay.io/cilium/cilium:{chart_version}"}
    assert len(agents) == len(nodes)


def test_down_leaves_nothing(spec: Path, created: dict) -> None:
    down = netconform(spec, "down")
    assert down.returncode == 0, down.stderr
    assert docker_lines("ps", "-aq", "--filter", f"label=io.x-k8s.kind.cluster={NAME}") == set()
    assert docker_lines("volume", "ls", "-q") <= created["volumes"]
    assert docker_lines("network", "ls", "--format", "{{.Name}}") <= created["networks"]
    status = netconform(spec, "status")
    assert status.returncode == 1 and "absent" in status.stdout
