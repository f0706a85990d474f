"""The pod-exec transport and netprobe in a real pod of the local kind cluster with Cilium
(the suites' cluster, reused when it runs), on the preloaded probe image."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from netconform.exec import ChannelClosed, ExecTimeout
from netconform.kube import Kube
from netconform.manifest import MANAGED_BY
from netconform.podexec import PodExec
from netconform.policy_run import Target
from netconform.probe_client import NETPROBE_ARGV, NETPROBE_DIR, NETPROBE_FILE
from netconform.versions import load_versions, probe_image

NAMESPACE = "netconform-exec"


@pytest.fixture(scope="module")
def kube(target: Target) -> Iterator[Kube]:
    yield target.kube
    target.kube.delete_namespace(NAMESPACE, wait=False)


@pytest.fixture(scope="module")
def netprobe_pod(kube: Kube) -> PodExec:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "netprobe", "namespace": NAMESPACE},
        "spec": {
            "containers": [
                {
                    "name": "netprobe",
                    "image": probe_image(load_versions()),
                    "command": [*NETPROBE_ARGV, "serve", "--bind", "127.0.0.1", "--tcp", "18080"],
                    "env": [
                        {
                            "name": "POD_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        }
                    ],
                    "volumeMounts": [{"name": "netprobe", "mountPath": NETPROBE_DIR}],
                }
            ],
            "volumes": [{"name": "netprobe", "configMap": {"name": "netprobe"}}],
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
                "metadata": {"name": "netprobe", "namespace": NAMESPACE},
                "data": {NETPROBE_FILE.name: NETPROBE_FILE.read_text()},
            },
            pod,
        ]
    )
    kube.wait_condition("v1", "Pod", "netprobe", NAMESPACE, "Ready", timeout=120)
    return PodExec(kube.core(), NAMESPACE, "netprobe")


def test_a_probe_batch_goes_in_on_stdin_and_verdicts_come_back(netprobe_pod: PodExec) -> None:
    batch = {
        "probes": [
            {"id": "open", "tcp": "127.0.0.1:18080", "read": True},
            {"id": "closed", "tcp": "127.0.0.1:18081"},
        ]
    }
    done = netprobe_pod.run([*NETPROBE_ARGV, "probe"], json.dumps(batch), timeout=30)
    results = {r["id"]: r for r in json.loads(done.stdout)["results"]}
    assert results["open"]["verdict"] == "connected"
    assert results["open"]["response"]["pod"] == "netprobe"
    assert results["closed"]["verdict"] == "refused"


def test_exit_code_and_stderr_come_back(netprobe_pod: PodExec) -> None:
    done = netprobe_pod.run([*NETPROBE_ARGV, "probe"], "not json", timeout=30)
    assert done.rc == 2 and "error" in json.loads(done.stdout)


def test_a_hanging_command_times_out(netprobe_pod: PodExec) -> None:
    with pytest.raises(ExecTimeout, match="still running after 2s"):
        netprobe_pod.run(["sleep", "30"], timeout=2)


def test_a_channel_carries_batch_after_batch_to_one_netprobe(netprobe_pod: PodExec) -> None:
    channel = netprobe_pod.open([*NETPROBE_ARGV, "session"])
    try:
        for port, verdict in ((18080, "connected"), (18081, "refused"), (18080, "connected")):
            batch = {"probes": [{"tcp": f"127.0.0.1:{port}"}]}
            [result] = json.loads(channel.ask(json.dumps(batch), timeout=30))["results"]
            assert result["verdict"] == verdict
        assert "error" in json.loads(channel.ask("not json", timeout=30))
    finally:
        channel.close()


def test_a_channel_whose_command_ended_says_so(netprobe_pod: PodExec) -> None:
    channel = netprobe_pod.open(["sh", "-c", 'read line; echo "$line"'])
    try:
        assert channel.ask("first", timeout=30) == "first"
        with pytest.raises(ChannelClosed, match=f"exec in {NAMESPACE}/netprobe"):
            channel.ask("second", timeout=30)
    finally:
        channel.close()


def test_a_silent_channel_times_out(netprobe_pod: PodExec) -> None:
    channel = netprobe_pod.open(["sleep", "30"])
    try:
        with pytest.raises(ExecTimeout, match="no answer within 2s"):
            channel.ask("anything", timeout=2)
    finally:
        channel.close()


def test_the_reproduce_line_is_a_kubectl_command(netprobe_pod: PodExec) -> None:
    line = netprobe_pod.command_line([*NETPROBE_ARGV, "probe"], '{"tcp": "127.0.0.1:18080"}')
    command = f"kubectl -n {NAMESPACE} exec -i netprobe -- python3 /netprobe/netprobe.py probe"
    assert line == command + ' <<< \'{"tcp": "127.0.0.1:18080"}\''
