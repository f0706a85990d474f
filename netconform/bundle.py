"""A debugging bundle of a failed run, collected while everything is still up (the cluster
may be deleted and the routers stopped once the run ends): each Cilium agent's status,
endpoints, Hubble flows and log, the pods and events of every namespace, the operator's log,
SPIRE's entries, attested agents and logs, and each FRR router's neighbours and routes. What
`cilium sysdump` is to cilium-cli, for the parts a conformance failure needs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from kubernetes.client.exceptions import ApiException

from netconform.docker_cli import docker
from netconform.exec import ExecTimeout
from netconform.kube import Kube, KubeError
from netconform.manifest import MANAGED_BY
from netconform.podexec import PodExec
from netconform.spire import INIT_CONTAINER, SERVER_CONTAINER, SERVER_POD, Spire

AGENT_COMMANDS: dict[str, tuple[str, ...]] = {
    "status.txt": ("cilium-dbg", "status", "--verbose"),
    "endpoints.txt": ("cilium-dbg", "endpoint", "list"),
    "services.txt": ("cilium-dbg", "service", "list"),
    "bgp-peers.txt": ("cilium-dbg", "bgp", "peers"),
    # The rules the agent holds, each with its policy's uid: one the API replaced shows here.
    "policies.txt": ("cilium-dbg", "policy", "get"),
    "auth.txt": ("cilium-dbg", "bpf", "auth", "list"),
    "hubble-flows.txt": ("hubble", "observe", "--last", "2000", "--output", "compact"),
}
FRR_COMMANDS = ("show bgp summary", "show bgp ipv4 unicast", "show ip route")
LOG_LINES = 500
EVENTS = 300


def _attempt(make: Callable[[], str]) -> str:
    """What a step produced, or why it could not: a bundle never stops half-way."""
    try:
        return make()
    except (ApiException, KubeError, ExecTimeout, OSError, RuntimeError) as error:
        return f"not collected: {type(error).__name__}: {str(error).strip()[:500]}\n"


def _pods(kube: Kube) -> str:
    lines = []
    for pod in kube.list("v1", "Pod"):
        meta, status = pod["metadata"], pod.get("status") or {}
        node = pod["spec"].get("nodeName", "-")
        lines.append(
            f"{meta['namespace']}/{meta['name']} {status.get('phase')} node={node} "
            f"ip={status.get('podIP', '-')}"
        )
    return "\n".join(sorted(lines)) + "\n"


def _events(kube: Kube) -> str:
    events = kube.list("v1", "Event")
    events.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    lines = []
    for event in events[-EVENTS:]:
        about, meta = event.get("involvedObject") or {}, event["metadata"]
        lines.append(
            f"{event.get('lastTimestamp') or event.get('eventTime')} {event.get('type')} "
            f"{event.get('reason')} {meta['namespace']}/{about.get('kind')}/{about.get('name')}: "
            f"{(event.get('message') or '').strip()}"
        )
    return "\n".join(lines) + "\n"


def _output(site: PodExec, argv: tuple[str, ...]) -> str:
    done = site.run(argv, timeout=60)
    return done.stdout + done.stderr


def _agent(kube: Kube, pod: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    site = PodExec(kube.core(), "kube-system", pod, container="cilium-agent")
    for name, argv in AGENT_COMMANDS.items():
        (folder / name).write_text(_attempt(lambda argv=argv: _output(site, argv)))
    (folder / "agent.log").write_text(_log(kube, pod, "kube-system", "cilium-agent"))


def _routers() -> list[str]:
    """Running containers of any run that answer vtysh (FRR); their outside clients do not."""
    if not shutil.which("docker"):
        return []
    label = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
    try:
        names = docker("ps", "--filter", f"label={label}", "--format", "{{.Names}}").split()
    except RuntimeError:
        return []
    return [name for name in names if not name.endswith("-outside")]


def _frr(container: str) -> str:
    parts = []
    for command in FRR_COMMANDS:
        output = _attempt(lambda command=command: docker("exec", container, "vtysh", "-c", command))
        parts.append(f"# vtysh -c '{command}'\n{output}")
    return "\n".join(parts) + "\n"


def _log(kube: Kube, pod: str, namespace: str, container: str | None = None) -> str:
    return _attempt(
        lambda: kube.core().read_namespaced_pod_log(
            pod, namespace, container=container, tail_lines=LOG_LINES
        )
    )


def _spire(kube: Kube, folder: Path) -> None:
    """Where Cilium is given a SPIRE server: its entries, attested agents and every log."""
    spire = Spire(kube)
    if "mesh-auth-spire-server-address" not in spire.cilium_config():
        return
    folder.mkdir(parents=True, exist_ok=True)
    namespace = spire.namespace()
    (folder / "entry-show.json").write_text(spire.entry_show() or "not answered\n")
    (folder / "agent-list.json").write_text(spire.agent_list() or "not answered\n")
    for container in (SERVER_CONTAINER, INIT_CONTAINER):
        (folder / f"{SERVER_POD}-{container}.log").write_text(
            _log(kube, SERVER_POD, namespace, container)
        )
    for pod in kube.list("v1", "Pod", namespace, "app=spire-agent"):
        name = pod["metadata"]["name"]
        (folder / f"{name}.log").write_text(_log(kube, name, namespace))


def collect(kube: Kube, folder: Path) -> list[Path]:
    """Write the bundle into `folder`; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pods.txt").write_text(_attempt(lambda: _pods(kube)))
    (folder / "events.txt").write_text(_attempt(lambda: _events(kube)))
    try:
        agents = kube.list("v1", "Pod", "kube-system", "k8s-app=cilium")
        operators = kube.list("v1", "Pod", "kube-system", "io.cilium/app=operator")
    except (ApiException, KubeError) as error:
        (folder / "cilium-not-collected.txt").write_text(f"{error}\n")
        agents, operators = [], []
    for agent in agents:
        _agent(kube, agent["metadata"]["name"], folder / "cilium" / agent["metadata"]["name"])
    for operator in operators:
        name = operator["metadata"]["name"]
        (folder / f"{name}.log").write_text(_log(kube, name, "kube-system"))
    try:
        _spire(kube, folder / "spire")
    except (ApiException, KubeError) as error:
        (folder / "spire-not-collected.txt").write_text(f"{error}\n")
    for router in _routers():
        (folder / "frr").mkdir(exist_ok=True)
        (folder / "frr" / f"{router}.txt").write_text(_frr(router))
    return sorted(p for p in folder.rglob("*") if p.is_file())
