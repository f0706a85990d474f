"""The probe workloads: per app group a Deployment running netprobe, and a Service.

netprobe's file is mounted from a ConfigMap onto the pinned stock Python image,
so no image is built. Every object carries the managed-by and run labels, so
cleanup can find it, and lives in a namespace `netconform-<run>-<env>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from netconform.manifest import MANAGED_BY, Manifest
from netconform.matrix import Endpoint, workload_endpoints, workload_ports
from netconform.probe_client import NETPROBE_ARGV, NETPROBE_DIR, NETPROBE_FILE
from netconform.spec import Architecture, GroupService, PortSpec

RUN_LABEL = "netconform.io/run"
ENV_LABEL = "netconform.io/environment"
GROUP_LABEL = "netconform.io/group"
NETPROBE_CONFIG_MAP = "netconform-netprobe"
HEADLESS = "-headless"
# At least two pods per group, one per worker where there are more: every pair of groups is
# then probed between pods on one node and between pods on two.
MIN_REPLICAS = 2


POD_NAMESPACE = "k8s:io.kubernetes.pod.namespace"
NAMESPACE_LABEL = f"k8s:io.cilium.k8s.namespace.labels.{ENV_LABEL}"


@dataclass(frozen=True)
class RunNamespaces:
    """Where a run's objects go: one namespace per environment, named after the run; or, on a
    cluster the suite made, the environments' own namespaces (`declared`, environment ->
    namespace), created with the labels of the user's Namespace manifests (`namespace_labels`),
    their pods labelled exactly as the spec's groups, so the user's policies apply as written."""

    run: str
    declared: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def declared_by(
        cls,
        arch: Architecture,
        run: str,
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> RunNamespaces:
        declared = {name: env.namespace for name, env in arch.environments.items()}
        return cls(run, declared, dict(namespace_labels or {}))

    def namespace(self, environment: str) -> str:
        return self.declared.get(environment) or f"netconform-{self.run}-{environment}"

    def labels(self) -> dict[str, str]:
        return {**MANAGED_BY, RUN_LABEL: self.run}

    def namespace_manifest(self, environment: str) -> Manifest:
        name = self.namespace(environment)
        labels = (
            dict(self.namespace_labels.get(name) or {})
            if environment in self.declared
            else {**self.labels(), ENV_LABEL: environment}
        )
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": labels},
        }

    def pod_selector(self, arch: Architecture, group: str, environment: str) -> dict[str, str]:
        """What finds a group's pods of this run (and is its Deployment's selector)."""
        if environment in self.declared:
            return dict(arch.groups[group].labels)
        return {GROUP_LABEL: group, RUN_LABEL: self.run}

    def pod_labels(self, arch: Architecture, group: str, environment: str) -> dict[str, str]:
        if environment in self.declared:
            return dict(arch.groups[group].labels)
        return {
            **self.labels(),
            **arch.groups[group].labels,
            GROUP_LABEL: group,
            ENV_LABEL: environment,
        }

    def peer_namespace(self, environment: str) -> dict[str, str]:
        """How a policy rule names an environment's namespace: by its name where it is the
        declared one, else by the label the run puts on it (no run-specific name in a rule)."""
        if environment in self.declared:
            return {POD_NAMESPACE: self.declared[environment]}
        return {NAMESPACE_LABEL: environment}

    def default_deny_selector(self) -> Manifest:
        """A clusterwide policy's endpoint selector for this run's workloads only."""
        if self.declared:
            names = sorted(set(self.declared.values()))
            return {"matchExpressions": [{"key": POD_NAMESPACE, "operator": "In", "values": names}]}
        return {"matchLabels": {RUN_LABEL: self.run}}


def replicas(arch: Architecture) -> int:
    return max(MIN_REPLICAS, arch.cluster.workers)


def http_ports(arch: Architecture) -> frozenset[int]:
    """Ports the workloads answer HTTP on, not a raw echo: those of flows with HTTP rules (an
    L7 proxy forwards requests) and those a Gateway's HTTP or HTTPS route sends to."""
    listeners = {listener.name: listener for listener in arch.gateway.listeners}
    return frozenset(
        {p.port for flow in arch.policy.flows if flow.http for p in flow.ports}
        | {
            route.backend.port
            for route in arch.gateway.routes
            if route.backend and listeners[route.listener].protocol in ("HTTP", "HTTPS")
        }
    )


def _netprobe_args(ports: list[PortSpec], http: frozenset[int]) -> list[str]:
    args = ["serve"]
    chosen = {
        "tcp": [p.port for p in ports if p.protocol == "TCP" and p.port not in http],
        "http": [p.port for p in ports if p.protocol == "TCP" and p.port in http],
        "udp": [p.port for p in ports if p.protocol == "UDP"],
    }
    for kind, numbers in chosen.items():
        if numbers:
            args += [f"--{kind}", ",".join(map(str, numbers))]
    return args


def render(arch: Architecture, layout: RunNamespaces, image: str) -> list[Manifest]:
    labels = layout.labels()
    ports = workload_ports(arch)
    out: list[Manifest] = []
    for name in arch.environments:
        out.append(layout.namespace_manifest(name))
        out.append(netprobe_config_map(layout.namespace(name), labels))
    for endpoint in workload_endpoints(arch):
        out += _group(arch, endpoint, layout, image, ports)
    return out


def netprobe_config_map(namespace: str, labels: dict[str, str]) -> Manifest:
    """netprobe's file, mounted by every probe container of the namespace."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NETPROBE_CONFIG_MAP, "namespace": namespace, "labels": labels},
        "data": {NETPROBE_FILE.name: NETPROBE_FILE.read_text()},
    }


# Linux's default net.ipv4.ip_unprivileged_port_start.
PRIVILEGED_BELOW = 1024


def netprobe_pod_spec(
    image: str,
    ports: list[PortSpec],
    spread: dict[str, str],
    http: frozenset[int] = frozenset(),
    names: Mapping[PortSpec, str] | None = None,
) -> Manifest:
    """A pod serving `ports` with netprobe as an unprivileged user (HTTP on the `http` ones,
    a raw echo on the other TCP ports), spread over the nodes by the `spread` labels; its
    container names the ports `names` names."""
    env = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]
    container = {
        "name": "netprobe",
        "image": image,
        "command": list(NETPROBE_ARGV),
        "args": _netprobe_args(ports, http),
        "env": env,
        "ports": [
            {"containerPort": p.port, "protocol": p.protocol}
            | ({"name": (names or {})[p]} if p in (names or {}) else {})
            for p in ports
        ],
        "volumeMounts": [{"name": "netprobe", "mountPath": NETPROBE_DIR, "readOnly": True}],
        **_readiness(ports),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": 65534,
        },
    }
    constraint = {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": spread},
    }
    return {
        "containers": [container],
        "topologySpreadConstraints": [constraint],
        "volumes": [{"name": "netprobe", "configMap": {"name": NETPROBE_CONFIG_MAP}}],
        **_privileged_ports(ports),
    }


def _privileged_ports(ports: list[PortSpec]) -> Manifest:
    """A pod serving a port below 1024 (an app on 80 or 443) lowers its own network namespace's
    bound for unprivileged binds, so the probe stays non-root: a safe sysctl, allowed at every
    Pod Security level. Without it the probe pod cannot start."""
    if min((p.port for p in ports), default=PRIVILEGED_BELOW) >= PRIVILEGED_BELOW:
        return {}
    sysctl = {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}
    return {"securityContext": {"sysctls": [sysctl]}}


def _readiness(ports: list[PortSpec]) -> Manifest:
    tcp = [p.port for p in ports if p.protocol == "TCP"]
    return {"readinessProbe": {"tcpSocket": {"port": tcp[0]}}} if tcp else {}


def _group(
    arch: Architecture, endpoint: Endpoint, layout: RunNamespaces, image: str, ports: list[PortSpec]
) -> list[Manifest]:
    assert endpoint.environment is not None
    namespace = layout.namespace(endpoint.environment)
    selector = layout.pod_selector(arch, endpoint.group, endpoint.environment)
    pod_labels = layout.pod_labels(arch, endpoint.group, endpoint.environment)
    meta = {"name": endpoint.group, "namespace": namespace, "labels": layout.labels()}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas(arch),
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": netprobe_pod_spec(
                    image,
                    ports,
                    selector,
                    http_ports(arch),
                    {port: name for name, port in arch.groups[endpoint.group].port_names.items()},
                ),
            },
        },
    }
    return [deployment, _service(arch.groups[endpoint.group].service, meta, selector, ports)]


def _service(
    declared: GroupService, meta: Manifest, selector: dict[str, str], served: list[PortSpec]
) -> Manifest:
    """The group's Service as the spec declares it: its type, its ports (by default all the
    pods serve), fixed node ports and the labels a pool selects it by."""
    ports = []
    for port in declared.ports or served:
        entry = _service_port(port)
        if port in declared.node_ports:
            entry["nodePort"] = declared.node_ports[port]
        ports.append(entry)
    spec: Manifest = {"type": declared.type, "selector": selector, "ports": ports}
    if declared.external:
        spec["externalTrafficPolicy"] = declared.external_traffic_policy
    labels = {**declared.labels, **meta["labels"]}
    metadata = {**meta, "labels": labels}
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def _service_port(port: PortSpec) -> Manifest:
    return {
        "name": f"{port.protocol.lower()}-{port.port}",
        "port": port.port,
        "protocol": port.protocol,
    }


def headless_service(arch: Architecture, layout: RunNamespaces) -> Manifest:
    """A headless twin of the first workload's Service: its name answers its pods' addresses
    (the split-DNS suite asks it)."""
    endpoint = workload_endpoints(arch)[0]
    ports = [_service_port(port) for port in workload_ports(arch)]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"{endpoint.group}{HEADLESS}",
            "namespace": layout.namespace(str(endpoint.environment)),
            "labels": layout.labels(),
        },
        "spec": {
            "clusterIP": "None",
            "selector": layout.pod_selector(arch, endpoint.group, str(endpoint.environment)),
            "ports": ports,
        },
    }


CAPTURE = "capture"
# Host-network pods that probe as another node does (Cilium's remote-node identity).
NODES = "nodes"


def capture_pods(
    layout: RunNamespaces, nodes: list[str], image: str, role: str = CAPTURE
) -> list[Manifest]:
    """A host-network pod per node, idle until netprobe is run in it: in capture mode it sees
    the node's uplink and the pods' veths (CAP_NET_RAW); its probes leave as the node does.
    `role` names their namespace and pods, so captures and node probes never share them."""
    namespace = layout.namespace(role)
    # Pod security admission, where enforced, must let host-network capture pods in.
    privileged = {"pod-security.kubernetes.io/enforce": "privileged"}
    out: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {**layout.labels(), **privileged}},
        },
        netprobe_config_map(namespace, layout.labels()),
    ]
    for node in nodes:
        container = {
            "name": "netprobe",
            "image": image,
            "command": ["sleep", "infinity"],
            "volumeMounts": [{"name": "netprobe", "mountPath": NETPROBE_DIR, "readOnly": True}],
            "securityContext": {"runAsUser": 0, "capabilities": {"add": ["NET_RAW", "NET_ADMIN"]}},
        }
        spec = {
            "nodeName": node,
            "hostNetwork": True,
            "tolerations": [{"operator": "Exists"}],
            "terminationGracePeriodSeconds": 0,
            "containers": [container],
            "volumes": [{"name": "netprobe", "configMap": {"name": NETPROBE_CONFIG_MAP}}],
        }
        metadata = {"name": f"{role}-{node}", "namespace": namespace, "labels": layout.labels()}
        out.append({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
    return out
