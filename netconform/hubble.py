"""Hubble's view of a wrong cell: what the datapath did with those packets, and why.

Asked through the `hubble` CLI in the Cilium agent on the source pod's node
(the agent's own flow buffer), so no port-forward to the relay is needed. A
drop reason such as POLICY_DENIED or AUTH_REQUIRED tells a policy mistake
from a broken datapath; no flow at all is evidence too.
"""

from __future__ import annotations

from collections.abc import Sequence

from netconform.kube import Kube
from netconform.matrix import Cell
from netconform.podexec import PodExec
from netconform.probing import MatrixProber

MAX_FLOWS = 5


def observe_argv(namespace: str, pod: str, destination: str, port: int) -> list[str]:
    return [
        "hubble", "observe", "--from-pod", f"{namespace}/{pod}", "--to-ip", destination,
        "--to-port", str(port), "--last", "50", "--output", "compact",
    ]  # fmt: skip


def summarize(output: str) -> list[str]:
    """The newest flows, verdicts first-class; an empty buffer is said as such."""
    flows = [line.strip() for line in output.splitlines() if line.strip()]
    if not flows:
        return ["hubble: no flow for this pair in the agent's buffer"]
    return [f"hubble: {line}" for line in flows[-MAX_FLOWS:]]


class HubbleEvidence:
    """Callable per wrong cell; only where Hubble relay is installed (Hubble is enabled)."""

    def __init__(self, kube: Kube, prober: MatrixProber, context: str | None = None) -> None:
        self.kube, self.prober, self.context = kube, prober, context

    def available(self) -> bool:
        return self.kube.get("apps/v1", "Deployment", "hubble-relay", "kube-system") is not None

    def __call__(self, cell: Cell) -> Sequence[str]:
        source = self.prober.sites[cell.source].exec
        if not isinstance(source, PodExec):
            return []
        pod = self.kube.get("v1", "Pod", source.pod, source.namespace) or {}
        node = pod.get("spec", {}).get("nodeName")
        agents = [
            p["metadata"]["name"]
            for p in self.kube.list("v1", "Pod", "kube-system", "k8s-app=cilium")
            if p.get("spec", {}).get("nodeName") == node
        ]
        if not agents:
            return [f"hubble: no Cilium agent found on node {node}"]
        agent = PodExec(self.kube.core(), "kube-system", agents[0], "cilium-agent", self.context)
        argv = observe_argv(source.namespace, source.pod, self.prober.address(cell), cell.port.port)
        done = agent.run(argv, timeout=20)
        if done.rc:
            return [f"hubble: observe failed ({done.stderr.strip()[:200]})"]
        return summarize(done.stdout)
