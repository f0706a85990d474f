"""The pod-exec transport and the agent in a real pod of a real (local) kind cluster.

No CNI runs yet, so the probe pod uses the host network: the kubelet runs such
pods on a NotReady node. The probe image is the node's Debian root filesystem
(it has python3), imported here: no registry is involved.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from netconform import cluster
from netconform.exec import ExecTimeout
from netconform.kube import Kube
from netconform.offline import engine, images
from netconform.podexec import PodExec
from netconform.workloads import AGENT_ARGV, AGENT_FILE

ROOT = Path(__file__).resolve().parents[2]
NAME = "nclocal-exec"
PROBE_IMAGE = "netconform/probe:local"
NAMESPACE = "netconform-exec"


def netconform(spec: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "netconform.cli", "--spec", str(spec), "cluster", *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=False)


def probe_image() -> None:
    """python3 on Debian, from the root filesystem the node base is made of."""
    rootfs = images.base_rootfs()
    if images.image_label(PROBE_IMAGE, images.SOURCE_LABEL) != rootfs.name:
        tar = subprocess.run(
            ["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],
            capture_output=True,
            check=True,
        )
        images.run(
            [
                "docker",
                "import",
                "--change",
                f"LABEL {images.SOURCE_LABEL}={rootfs.name}",
                "-",
                PROBE_IMAGE,
            ],
            stdin=tar.stdout,
        )


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    if not cluster.LOCAL_NODE_IMAGE.exists():
        pytest.skip("local images not built: run make local-images")
    engine.up()
    data = yaml.safe_load((ROOT / "architecture.yaml").read_text())
    data["cluster"].update(name=NAME, workers=0)
    spec = tmp_path_factory.mktemp("spec") / "architecture.yaml"
    spec.write_text(yaml.safe_dump(data))
    try:
        up = netconform(spec, "up", "--images=local")
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        probe_image()
        kind = cluster.tool("kind", cluster.version(cluster.load_versions(), "kind"))
        images.run([kind, "load", "docker-image", PROBE_IMAGE, f"--name={NAME}"])
        yield Kube.from_kubeconfig(cluster.workdir_for_name(NAME) / "kubeconfig")
    finally:
        netconform(spec, "down")


@pytest.fixture(scope="module")
def agent_pod(kube: Kube) -> PodExec:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "agent", "namespace": NAMESPACE},
        "spec": {
            "nodeName": f"{NAME}-control-plane",
            "hostNetwork": True,
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "agent",
                    "image": PROBE_IMAGE,
                    "imagePullPolicy": "Never",
                    "command": [*AGENT_ARGV, "serve", "--bind", "127.0.0.1", "--tcp", "18080"],
                    "env": [
                        {
                            "name": "POD_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        }
                    ],
                    "volumeMounts": [{"name": "agent", "mountPath": "/agent"}],
                }
            ],
            "volumes": [{"name": "agent", "configMap": {"name": "agent"}}],
        },
    }
    kube.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "agent", "namespace": NAMESPACE},
                "data": {"agent.py": AGENT_FILE.read_text()},
            },
            pod,
        ]
    )
    kube.wait_condition("v1", "Pod", "agent", NAMESPACE, "Ready", timeout=120)
    return PodExec(kube.core(), NAMESPACE, "agent")


def test_a_probe_batch_goes_in_on_stdin_and_verdicts_come_back(agent_pod: PodExec) -> None:
    batch = {
        "probes": [
            {"id": "open", "tcp": "127.0.0.1:18080", "read": True},
            {"id": "closed", "tcp": "127.0.0.1:18081"},
        ]
    }
    done = agent_pod.run([*AGENT_ARGV, "probe"], json.dumps(batch), timeout=30)
    results = {r["id"]: r for r in json.loads(done.stdout)["results"]}
    assert results["open"]["verdict"] == "connected"
    assert results["open"]["response"]["pod"] == "agent"
    assert results["closed"]["verdict"] == "refused"


def test_exit_code_and_stderr_come_back(agent_pod: PodExec) -> None:
    done = agent_pod.run([*AGENT_ARGV, "probe"], "not json", timeout=30)
    assert done.rc == 2 and "error" in json.loads(done.stdout)


def test_a_hanging_command_times_out(agent_pod: PodExec) -> None:
    with pytest.raises(ExecTimeout, match="still running after 2s"):
        agent_pod.run(["sleep", "30"], timeout=2)


def test_the_reproduce_line_is_a_kubectl_command(agent_pod: PodExec) -> None:
    line = agent_pod.command_line([*AGENT_ARGV, "probe"], '{"tcp": "127.0.0.1:18080"}')
    command = f"kubectl -n {NAMESPACE} exec -i agent -- python3 /agent/agent.py probe"
    assert line == command + ' <<< \'{"tcp": "127.0.0.1:18080"}\''
