"""Hubble's view of a wrong cell: what the datapath did with those packets, and why.

Asked through the relay, which sees every node (an ingress drop happens on the
destination's node, not the source's), with the `hubble` CLI of a Cilium
agent, so no port-forward is needed. A drop reason
such as POLICY_DENIED or AUTH_REQUIRED tells a policy mistake from a broken
datapath; no flow at all is evidence too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property

from netconform.kube import Kube
from netconform.matrix import Cell
from netconform.podexec import PodExec
from netconform.probing import MatrixProber
from netconform.timeouts import DEFAULT as DEFAULT_TIMEOUTS

MAX_FLOWS = 5


def observe_argv(relay: str, namespace: str, pod: str, destination: str, port: int) -> list[str]:
    return [
        "hubble", "observe", "--server", relay, "--from-pod", f"{namespace}/{pod}",
        "--to-ip", destination, "--to-port", str(port), "--last", "50",
    ]  # fmt: skip


def drop_reasons(output: str) -> list[str]:
    """The drop reason of every dropped flow in `hubble observe -o json` output, oldest first."""
    reasons = []
    for line in output.splitlines():
        try:
            flow = json.loads(line).get("flow") or {}
        except ValueError:
            continue
        if flow.get("verdict") == "DROPPED":
            reasons.append(str(flow.get("drop_reason_desc", "UNKNOWN")))
    return reasons


def summarize(output: str) -> list[str]:
    """The newest flows, verdicts first-class; an empty buffer is said as such."""
    flows = [line.strip() for line in output.splitlines() if line.strip()]
    if not flows:
        return ["hubble: no flow for this pair in the relay's buffers"]
    return [f"hubble: {line}" for line in flows[-MAX_FLOWS:]]


class HubbleEvidence:
    """Callable per wrong cell; only where Hubble relay is installed (Hubble is enabled)."""

    def __init__(
        self,
        kube: Kube,
        prober: MatrixProber,
        context: str | None = None,
        timeout: float = DEFAULT_TIMEOUTS.hubble,
    ) -> None:
        self.kube, self.prober, self.context, self.timeout = kube, prober, context, timeout

    @cached_property
    def relay(self) -> str | None:
        """The relay's Service address, where Hubble relay is installed (looked up once)."""
        service = self.kube.get("v1", "Service", "hubble-relay", "kube-system")
        if not service:
            return None
        port = service["spec"]["ports"][0]["port"]
        return f"{service['spec']['clusterIP']}:{port}"

    def available(self) -> bool:
        return self.relay is not None

    def __call__(self, cell: Cell) -> Sequence[str]:
        done = self._observe(cell, "compact")
        return done if isinstance(done, list) else summarize(done)

    def drop_reasons(self, cell: Cell) -> list[str]:
        """Hubble's reason for each recent drop of this cell's flows; empty when none dropped,
        or a single line saying why Hubble could not be asked."""
        done = self._observe(cell, "json")
        return done if isinstance(done, list) else drop_reasons(done)

    def _observe(self, cell: Cell, output: str) -> str | list[str]:
        """The relay's output for the cell, or the lines saying why there is none."""
        source = self.prober.sites[cell.source].exec
        if not isinstance(source, PodExec):
            return []
        if self.relay is None:
            return ["hubble: relay not installed"]
        # The relay answers for every node, so any running agent's CLI can ask it.
        agents = [
            p["metadata"]["name"]
            for p in self.kube.list("v1", "Pod", "kube-system", "k8s-app=cilium")
            if (p.get("status") or {}).get("phase") == "Running"
        ]
        if not agents:
            return ["hubble: no running Cilium agent to ask the relay from"]
        agent = PodExec(self.kube.core(), "kube-system", agents[0], "cilium-agent", self.context)
        argv = observe_argv(
            self.relay, source.namespace, source.pod, self.prober.address(cell), cell.port.port
        )
        done = agent.run([*argv, "--output", output], timeout=self.timeout)
        if done.rc:
            return [f"hubble: observe failed ({done.stderr.strip()[:200]})"]
        return done.stdout
