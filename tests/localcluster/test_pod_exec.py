"""The pod-exec transport and the agent in a real pod of the local kind cluster with Cilium
(the suites' cluster, reused when it runs), on the preloaded probe image."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from netconform.exec import ExecTimeout
from netconform.kube import Kube
from netconform.manifest import MANAGED_BY
from netconform.podexec import PodExec
from netconform.policy_run import Target
from netconform.probe_client import AGENT_ARGV, AGENT_FILE
from netconform.versions import load_versions, probe_image

NAMESPACE = "netconform-exec"


@pytest.fixture(scope="module")
def kube(target: Target) -> Iterator[Kube]:
    yield target.kube
    target.kube.delete_namespace(NAMESPACE, wait=False)


@pytest.fixture(scope="module")
def agent_pod(kube: Kube) -> PodExec:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "agent", "namespace": NAMESPACE},
        "spec": {
            "containers": [
                {
                    "name": "agent",
                    "image": probe_image(load_versions()),
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
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": NAMESPACE, "labels": MANAGED_BY},
            },
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
