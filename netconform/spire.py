"""SPIRE as Cilium's chart installs it, read through the server's own CLI and each Cilium
agent's status and log: whether mutual authentication can work, not only whether its pods run.

Installed is not ready. The chart's server pod creates the registration entries from a
side container that finds the server's process once; a server container restarted after
that (its liveness probe fires while it still makes its CA on a loaded node) comes back
without entries on a volume-less install, and nothing recreates them: every Cilium agent's
delegate stream then ends in "no identity issued" and every authenticated flow drops. So
the bring-up waits for what authentication needs, restarts the server pod once when it
finds that state, and otherwise stops with one message naming what is missing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kubernetes.client.exceptions import ApiException

from netconform.checks.mutual_auth import (
    SpireState,
    attested_nodes,
    check_ready,
    entry_ids,
    stream_error,
)
from netconform.exec import ExecTimeout
from netconform.kube import Kube, KubeError
from netconform.podexec import PodExec
from netconform.timeouts import Timeouts
from netconform.verdict import Verdict

SERVER_POD, SERVER_CONTAINER, INIT_CONTAINER = "spire-server-0", "spire-server", "cilium-init"
SERVER_CLI = "/opt/spire/bin/spire-server"
DEFAULT_SERVER = "spire-server.cilium-spire.svc:8081"
CILIUM_AGENTS = "k8s-app=cilium"
CILIUM_OPERATOR = "io.cilium/app=operator"
# The delegate client retries at most every 10 s (Cilium's backoff): a stream that failed
# within this window has not held.
STREAM_WINDOW = 20
EXEC_TIMEOUT = 30.0


class MutualAuthNotReady(RuntimeError):
    """Mutual authentication cannot work yet; the message names each missing part."""


@dataclass
class Spire:
    kube: Kube
    context: str | None = None

    def cilium_config(self) -> dict[str, str]:
        config = self.kube.get("v1", "ConfigMap", "cilium-config", "kube-system") or {}
        return dict(config.get("data") or {})

    def namespace(self) -> str:
        """Where the SPIRE server runs, from the address Cilium is given for it."""
        address = self.cilium_config().get("mesh-auth-spire-server-address") or DEFAULT_SERVER
        return address.split(".")[1]

    def trust_domain(self) -> str:
        return self.cilium_config().get("mesh-auth-spiffe-trust-domain") or "spiffe.cilium"

    def _server_cli(self, *args: str) -> str:
        """The server CLI's output, or "" while the server cannot answer (not yet created,
        restarting): readiness is polled, so an absent server is a state, not an error."""
        site = PodExec(
            self.kube.core(), self.namespace(), SERVER_POD, SERVER_CONTAINER, self.context
        )
        try:
            done = site.run([SERVER_CLI, *args, "-output", "json"], timeout=EXEC_TIMEOUT)
        except (ApiException, ExecTimeout, OSError, ValueError):
            return ""
        return done.stdout if done.rc == 0 else ""

    def agent_list(self) -> str:
        return self._server_cli("agent", "list")

    def entry_show(self) -> str:
        return self._server_cli("entry", "show")

    def nodes(self) -> list[str]:
        return [node["metadata"]["name"] for node in self.kube.list("v1", "Node")]

    def server_problem(self) -> tuple[str, int]:
        """What keeps the server from serving ("" when it runs and is ready), and how often
        its container restarted after the side container that makes the entries started."""
        pod = self.kube.get("v1", "Pod", SERVER_POD, self.namespace())
        if pod is None:
            return f"pod {self.namespace()}/{SERVER_POD} does not exist", 0
        statuses = {s["name"]: s for s in (pod.get("status") or {}).get("containerStatuses") or []}
        server = statuses.get(SERVER_CONTAINER)
        if server is None:
            phase = (pod.get("status") or {}).get("phase")
            node = pod["spec"].get("nodeName") or "no node yet"
            return f"pod {SERVER_POD} is {phase} ({node}): its containers do not exist yet", 0
        init = statuses.get(INIT_CONTAINER) or {}
        restarts = server.get("restartCount", 0) - init.get("restartCount", 0)
        if not server.get("ready"):
            waiting = ((server.get("state") or {}).get("waiting") or {}).get("reason")
            return f"container {SERVER_CONTAINER} is not ready ({waiting or 'starting'})", restarts
        return "", restarts

    def delegate_errors(self) -> dict[str, str]:
        """Per Cilium agent (as "pod on node"), why its SPIRE delegate stream does not hold
        ("" when it does): the agent's own status, then its log of the last seconds."""
        found = {}
        for pod in self.kube.list("v1", "Pod", "kube-system", CILIUM_AGENTS):
            name, node = pod["metadata"]["name"], pod["spec"].get("nodeName")
            found[f"{name} on {node}"] = self._delegate_error(name)
        return found

    def _delegate_error(self, pod: str) -> str:
        site = PodExec(self.kube.core(), "kube-system", pod, "cilium-agent", self.context)
        try:
            done = site.run(["cilium-dbg", "status", "-o", "json"], timeout=EXEC_TIMEOUT)
            log = self.kube.core().read_namespaced_pod_log(
                pod, "kube-system", container="cilium-agent", since_seconds=STREAM_WINDOW
            )
        except (ApiException, ExecTimeout, OSError, ValueError) as error:
            return f"cannot be asked: {type(error).__name__}"
        try:
            status = json.loads(done.stdout).get("auth-certificate-provider") or {}
        except ValueError:
            return f"cilium-dbg status answered no JSON (exit {done.rc})"
        return stream_error(status, log)

    def identities(self, namespaces: Iterable[str], selector: str | None = None) -> dict[str, str]:
        """Numeric identity -> the pods that carry it, of the given namespaces' endpoints."""
        found: dict[str, list[str]] = {}
        for namespace in namespaces:
            for endpoint in self.kube.list("cilium.io/v2", "CiliumEndpoint", namespace, selector):
                identity = ((endpoint.get("status") or {}).get("identity") or {}).get("id")
                if identity is not None:
                    name = f"{namespace}/{endpoint['metadata']['name']}"
                    found.setdefault(str(identity), []).append(name)
        return {identity: ", ".join(sorted(pods)) for identity, pods in found.items()}

    def state(self, identities: dict[str, str] | None = None) -> SpireState:
        problem, restarts = self.server_problem()
        running = not problem
        return SpireState(
            trust_domain=self.trust_domain(),
            namespace=self.namespace(),
            server=problem,
            server_restarts=restarts,
            entries=entry_ids(self.entry_show()) if running else frozenset(),
            attested=attested_nodes(self.agent_list()) if running else {},
            nodes=tuple(self.nodes()),
            delegates=self.delegate_errors(),
            identities=identities or {},
        )

    def restart_server(self) -> None:
        """The server pod, so the chart's side container finds the new server and makes the
        entries; and the Cilium operator, which registers existing identities only at start."""
        self.kube.delete("v1", "Pod", SERVER_POD, self.namespace())
        for operator in self.kube.list("v1", "Pod", "kube-system", CILIUM_OPERATOR):
            self.kube.delete("v1", "Pod", operator["metadata"]["name"], "kube-system")


def wait_ready(
    spire: Spire,
    timeouts: Timeouts,
    identities: Callable[[], dict[str, str]] = dict,
    progress: Callable[[str], None] = print,
) -> Verdict:
    """Poll until mutual authentication can work; raise naming what is missing at the end.
    A server that lost its entries to a restart gets its pod restarted once."""
    deadline = time.monotonic() + timeouts.spire
    remedied = False
    while True:
        try:
            state = spire.state(identities())
        except (ApiException, KubeError) as error:
            verdict = Verdict(False, f"mutual authentication: cannot read its state: {error}")
        else:
            verdict = check_ready(state)
            if state.lost_entries() and not remedied:
                progress(
                    f"SPIRE server restarted {state.server_restarts} time(s) after its entries "
                    "were made, and nothing makes them again: restarting it and the Cilium "
                    "operator"
                )
                spire.restart_server()
                remedied = True
        if verdict.ok or time.monotonic() >= deadline:
            break
        time.sleep(timeouts.poll)
    if not verdict.ok:
        raise MutualAuthNotReady(f"after {timeouts.spire:g} s: {verdict}")
    return verdict
