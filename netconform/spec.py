"""architecture.yaml as a typed model.

The spec is the intent every suite is measured against, so a wrong spec would
make the suite test the wrong thing: anything unexpected (an unknown key, a
port out of range, a flow naming a group that does not exist) is refused with
one message naming the file, the key path and the reason.
"""

from __future__ import annotations

import ipaddress
import re
import reprlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

WILDCARD = "*"
# Sources of flows that are not app groups, as Cilium names their identities: the Gateway's
# (and Ingress's) Envoy, and a node other than the destination pod's.
ENTITIES = ("ingress", "remote-node")

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _label_key(value: str) -> str:
    """What the API server accepts as a label key: [prefix/]name."""
    prefix, _, name = value.rpartition("/")
    if not (len(name) <= 63 and _LABEL_NAME.fullmatch(name)):
        raise ValueError(
            f"label key {value!r}: the name must be 1-63 letters, digits, '-', '_' or '.', "
            "beginning and ending with a letter or digit"
        )
    if "/" in value and not _dns_subdomain(prefix):
        raise ValueError(f"label key {value!r}: the prefix must be a DNS subdomain")
    return value


def _label_value(value: str) -> str:
    if value and not (len(value) <= 63 and _LABEL_NAME.fullmatch(value)):
        raise ValueError(
            f"label value {value!r} must be empty or 1-63 letters, digits, '-', '_' or '.', "
            "beginning and ending with a letter or digit"
        )
    return value


def _dns_subdomain(value: str) -> bool:
    return 0 < len(value) <= 253 and all(_DNS_LABEL.fullmatch(p) for p in value.split("."))


def _dns_name(value: str) -> str:
    """A DNS zone or domain: ASCII labels (IDNs in their xn-- form), at most 253 characters."""
    name = value.removesuffix(".").lower()
    if not _dns_subdomain(name) or any(len(label) > 63 for label in name.split(".")):
        raise ValueError(
            f"{value!r} is not a DNS name: ASCII labels of letters, digits and '-' separated "
            "by dots (an internationalised name in its xn-- form)"
        )
    return name


def _hostname(value: str) -> str:
    """A Gateway hostname: a DNS name, or one with a leading `*.` label (no scheme, no port)."""
    return "*." + _dns_name(value[2:]) if value.startswith("*.") else _dns_name(value)


def _http_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} is not a path: it begins with '/'")
    return value


Labels = dict[
    Annotated[str, AfterValidator(_label_key)], Annotated[str, AfterValidator(_label_value)]
]
DnsName = Annotated[str, AfterValidator(_dns_name)]
Hostname = Annotated[str, AfterValidator(_hostname)]
HttpPath = Annotated[str, AfterValidator(_http_path)]


class SpecError(Exception):
    """A spec that cannot be trusted; the message is meant for a person."""


@dataclass(frozen=True, order=True)
class PortSpec:
    port: int
    protocol: Literal["TCP", "UDP"]

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}"


_PORT = re.compile(r"^(\d+)/(TCP|UDP)$")


def _port(value: Any) -> PortSpec:
    if isinstance(value, PortSpec):
        return value
    match = _PORT.match(str(value)) if isinstance(value, str | int) else None
    if not match:
        raise ValueError(f"{value!r} is not a port such as 8080/TCP or 53/UDP")
    number = int(match.group(1))
    if not 1 <= number <= 65535:
        raise ValueError(f"port {number} is outside 1-65535")
    return PortSpec(number, match.group(2))  # type: ignore[arg-type]


def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a CIDR: {error}") from None


def _address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


Port = Annotated[PortSpec, BeforeValidator(_port)]
Network = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, BeforeValidator(_network)]
Address = Annotated[ipaddress.IPv4Address | ipaddress.IPv6Address, BeforeValidator(_address)]
Asn = Annotated[int, Field(ge=1, le=4294967295)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Cluster(_Strict):
    name: Name
    control_planes: Annotated[int, Field(ge=1, le=3)] = 1
    workers: Annotated[int, Field(ge=0, le=10)] = 2
    # The cluster's own ranges (kind's defaults unless given): LB pools must stay out of them.
    pod_cidr: Network = ipaddress.ip_network("10.244.0.0/16")
    service_cidr: Network = ipaddress.ip_network("10.96.0.0/16")
    # The network the nodes' addresses are in; when given, every BGP peer must be in it,
    # since nodes peer over their own network and nothing routes them elsewhere.
    node_network: Network | None = None


class Environment(_Strict):
    namespace: Name


# A container port's name as Kubernetes takes it (IANA_SVC_NAME): what named-port rules match.
def _port_name(value: str) -> str:
    if not re.search("[a-z]", value) or "--" in value:
        raise ValueError(f"{value!r} needs a letter and no '--' to name a port")
    return value


PortName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=15),
    AfterValidator(_port_name),
]


# Kubernetes' default --service-node-port-range, which kind keeps.
NODE_PORTS = range(30000, 32768)


def _node_port(value: int) -> int:
    if value not in NODE_PORTS:
        raise ValueError(
            f"node port {value} is outside the cluster's range "
            f"{NODE_PORTS.start}-{NODE_PORTS.stop - 1}"
        )
    return value


NodePort = Annotated[int, AfterValidator(_node_port)]


class GroupService(_Strict):
    """How the group's pods are reached at one address, as the user's Service does it.

    Every type has a cluster address; NodePort also opens its ports on every node (at
    `node_ports`, or where Kubernetes allocates), LoadBalancer also takes an address from a
    pool whose service_selector matches `labels`. `external_traffic_policy: Local` keeps an
    outside client's address and answers only on nodes that run a pod of the group."""

    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    # What the Service exposes; by default every port the workloads serve.
    ports: list[Port] = []
    external_traffic_policy: Literal["Cluster", "Local"] = "Cluster"
    node_ports: dict[Port, NodePort] = {}
    labels: Labels = {}

    @property
    def external(self) -> bool:
        return self.type != "ClusterIP"


class Group(_Strict):
    labels: Labels
    environments: list[Name] = Field(min_length=1)
    # The names the group's containers give their ports, as the user's workloads do: a policy
    # rule on a named port matches them.
    port_names: dict[PortName, Port] = {}
    service: GroupService = GroupService()


class Service(_Strict):
    namespace: Name
    labels: Labels
    ports: list[Port] = Field(min_length=1)


class External(_Strict):
    cidr: Network
    ports: list[Port] = Field(min_length=1)


class Client(_Strict):
    """Something outside the cluster that opens connections to the cluster's pods: a laptop
    or a NAS on the LAN, at the addresses of `cidr`."""

    cidr: Network


class HttpRule(_Strict):
    """A request an L7 policy lets through on a flow: a method ("*": any) on a path prefix.
    Any other request on the flow gets 403 from Cilium's proxy."""

    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "*"] = "GET"
    path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9._~/-]*$")] = "/"


class Flow(_Strict):
    name: Name
    from_: str = Field(alias="from")
    to: str
    ports: list[Port] = Field(min_length=1)
    across_environments: bool = False
    environments: list[Name] | None = None
    http: list[HttpRule] = []


class Policy(_Strict):
    default: Literal["deny", "allow"] = "deny"
    flows: list[Flow] = []
    # Your own policy manifests to test instead of the rendered reference policies.
    paths: list[str] = []


class Pool(_Strict):
    name: Name
    cidr: Network
    service_selector: Labels | None = None


class LbIpam(_Strict):
    pools: list[Pool] = []
    announce: Literal["bgp", "l2", "none"] = "bgp"


class Peer(_Strict):
    name: Name
    peer_asn: Asn
    address: Address


class BgpTimers(_Strict):
    """How soon a peer that went silent is given up (RFC 4271): a lost node's routes stay on
    the router for up to `hold` seconds. Both ends are configured alike (the nodes' peer
    config and the router), since the smaller hold time is the one used."""

    hold: Annotated[int, Field(ge=3, le=65535)] = 90
    keepalive: Annotated[int, Field(ge=1, le=65535)] = 30

    @model_validator(mode="after")
    def _keepalive_within_hold(self) -> BgpTimers:
        if self.keepalive > self.hold:
            raise ValueError(f"keepalive {self.keepalive} s is longer than hold {self.hold} s")
        return self


class Bgp(_Strict):
    local_asn: Asn
    peers: list[Peer] = Field(min_length=1)
    advertise: list[Literal["pod-cidr", "lb-ips"]] = ["pod-cidr", "lb-ips"]
    # Unset: each end's defaults (Cilium hold 90 s and keepalive 30 s, FRR 180 s and 60 s).
    timers: BgpTimers | None = None


class Zone(_Strict):
    name: DnsName
    forward_to: list[Address] = Field(min_length=1)


class DnsRecord(_Strict):
    """A name and what it answers from each vantage point: `inside` is what the internal
    zone's own servers answer (names in `dns.zones` only), `outside` what the external
    resolver answers; an empty side answers NXDOMAIN there."""

    name: DnsName
    type: Literal["A", "AAAA"] = "A"
    inside: list[Address] = []
    outside: list[Address] = []


class Dns(_Strict):
    cluster_domain: DnsName = "cluster.local"
    zones: list[Zone] = []
    upstream: list[Address] = []
    records: list[DnsRecord] = []
    # CoreDNS redundancy: the share of a steady stream of queries that may fail while one
    # CoreDNS replica is deleted and replaced.
    disruption_budget: Annotated[float, Field(ge=0, lt=0.5)] = 0.01

    def zone_of(self, name: str) -> Zone | None:
        """The internal zone a name belongs to, the longest match first."""
        matching = [z for z in self.zones if name == z.name or name.endswith(f".{z.name}")]
        return max(matching, key=lambda z: len(z.name), default=None)


class Listener(_Strict):
    name: Name
    protocol: Literal["HTTP", "HTTPS", "TCP", "TLS", "UDP"]
    port: Annotated[int, Field(ge=1, le=65535)]
    hostname: Hostname | None = None


class Backend(_Strict):
    environment: Name
    group: Name
    port: Annotated[int, Field(ge=1, le=65535)]


class Redirect(_Strict):
    """Where an HTTP(S) route sends the client back to instead of to a backend; what is not
    given stays as requested."""

    scheme: Literal["http", "https"] | None = None
    hostname: DnsName | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    status: Literal[301, 302] = 302

    def location(self, scheme: str, host: str, path: str) -> str:
        """The Location a request gets, as Gateway API defines it (a changed scheme drops
        the request's port for its own default)."""
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme or scheme}://{self.hostname or host}{port}{path}"


class Route(_Strict):
    """Where a listener sends: an HTTP(S) route matches a path prefix and exact headers, and
    goes to a backend or redirects. `hostname` narrows a listener that serves several names
    (none, or a wildcard) to one, so two routes can differ by hostname alone."""

    name: Name
    listener: Name
    hostname: DnsName | None = None
    path: HttpPath | None = None
    headers: dict[str, str] = {}
    backend: Backend | None = None
    redirect: Redirect | None = None


class Gateway(_Strict):
    class_: str = Field("cilium", alias="class")
    listeners: list[Listener] = []
    routes: list[Route] = []
    # The LB IPAM pool the Gateway's LoadBalancer Service takes its address from: the Service
    # carries the pool's selector labels. Cilium programs a Gateway only once it has one.
    pool: Name | None = None


def _off(value: Any) -> Any:
    """YAML 1.1 reads an unquoted `off` as false."""
    return "off" if value is False else value


class Encryption(_Strict):
    wireguard: Annotated[Literal["required", "optional", "off"], BeforeValidator(_off)] = "off"


class MutualAuth(_Strict):
    required_for: list[Name] = []


class HighAvailability(_Strict):
    """Two Cilium operators behind leader election (cluster/values/operator-failover.yaml):
    the leader deleted, another leads within `failover_budget` seconds and LB IPAM allocates
    again. Load balancer redundancy under BGP: a lost node is given up by the router once the
    hold time runs out."""

    operator_failover: bool = False
    failover_budget: Annotated[float, Field(gt=0, le=600)] = 30.0
    # A node lost (its container paused, as a frozen node is): the LoadBalancer address it
    # carried answers from outside through the other nodes again within `node_loss_budget`.
    node_loss: bool = False
    node_loss_budget: Annotated[float, Field(gt=0, le=600)] = 15.0


class CiliumSource(_Strict):
    """How the user installs Cilium: Helm values files merged in order, or a Flux HelmRelease
    (named `release`) found in `helm_release` (a file, directory or kustomization that also
    holds its valuesFrom ConfigMaps and Secrets, and its OCIRepository)."""

    values: list[str] = []
    helm_release: str | None = None
    release: Name = "cilium"


class Sources(_Strict):
    """The user's own configuration, tested as written. Paths are relative to the spec file;
    `root` is the repository root that Flux Kustomizations' paths are relative to."""

    root: str = "."
    cilium: CiliumSource | None = None
    # Files, directories or kustomizations: policies, namespaces, pools, BGP, Gateway, issuers.
    manifests: list[str] = []
    # The coredns ConfigMap (its Corefile) or a HelmRelease of the CoreDNS chart.
    coredns: list[str] = []

    @property
    def used(self) -> bool:
        return bool(self.cilium or self.manifests or self.coredns)


# The spec a run reads when none is named.
SPEC_FILE = "architecture.yaml"


class Architecture(_Strict):
    version: Literal[1]
    cluster: Cluster
    environments: dict[Name, Environment] = Field(min_length=1)
    groups: dict[Name, Group] = Field(min_length=1)
    services: dict[Name, Service] = {}
    externals: dict[Name, External] = {}
    clients: dict[Name, Client] = {}
    policy: Policy = Policy()
    lb_ipam: LbIpam = LbIpam()
    bgp: Bgp | None = None
    dns: Dns = Dns()
    gateway: Gateway = Gateway()
    encryption: Encryption = Encryption()
    mutual_auth: MutualAuth = MutualAuth()
    high_availability: HighAvailability = HighAvailability()
    sources: Sources = Sources()
    # The spec file and its folder, where `sources` paths start (set by `load`).
    file: str = Field(default=SPEC_FILE, exclude=True)
    base: Path = Field(default=Path("."), exclude=True)

    def source_path(self, relative: str) -> Path:
        return self.base / relative


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A mapping that names one key twice is a typo PyYAML would silently keep."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _path(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _port_names(arch: Architecture) -> Iterator[tuple[str, str]]:
    """A named port must be one a flow reaches the group on, and a port has one name."""
    for group_name, group in arch.groups.items():
        reached = {p for f in arch.policy.flows if f.to in (group_name, WILDCARD) for p in f.ports}
        named: dict[PortSpec, str] = {}
        for name, port in group.port_names.items():
            where = f"groups.{group_name}.port_names.{name}"
            if port not in reached:
                yield where, f"{port} is not a port a flow reaches {group_name!r} on"
            elif port in named:
                yield where, f"{port} is already named {named[port]!r}"
            named.setdefault(port, name)


def _cross_references(arch: Architecture) -> Iterator[tuple[str, str]]:
    """Names that must point at something declared elsewhere in the file."""
    groups, envs = set(arch.groups), set(arch.environments)
    destinations = groups | set(arch.services) | set(arch.externals)
    for name, group in arch.groups.items():
        for i, env in enumerate(group.environments):
            if env not in envs:
                yield f"groups.{name}.environments[{i}]", f"unknown environment {env!r}"
    overlap = groups & (set(arch.services) | set(arch.externals) | set(arch.clients))
    for name in sorted(overlap):
        yield f"groups.{name}", f"{name!r} is also declared as a service, external or client"
    for section in ("groups", "services", "externals", "clients"):
        for name in sorted(set(getattr(arch, section)) & set(ENTITIES)):
            yield f"{section}.{name}", f"{name!r} is the name of Cilium's entity: choose another"
    sources = sorted(groups | set(arch.clients) | set(ENTITIES))
    for i, flow in enumerate(arch.policy.flows):
        where = f"policy.flows[{i}]"
        if flow.from_ == "host":
            yield (
                f"{where}.from",
                "Cilium always lets a node reach its own pods (allow-localhost), so a flow "
                "from host cannot be tested: other nodes are remote-node",
            )
        elif flow.from_ != WILDCARD and flow.from_ not in sources:
            yield f"{where}.from", f"unknown source {flow.from_!r} (sources: {', '.join(sources)})"
        if flow.to != WILDCARD and flow.to not in destinations:
            yield f"{where}.to", f"unknown destination {flow.to!r}"
        if flow.from_ in arch.clients or flow.from_ in ENTITIES:
            yield from _from_outside_groups(arch, flow, where)
        for j, env in enumerate(flow.environments or []):
            if env not in envs:
                yield f"{where}.environments[{j}]", f"unknown environment {env!r}"
            elif flow.from_ in groups and env not in arch.groups[flow.from_].environments:
                # The rule would select no pod there: the flow would silently vanish.
                yield (
                    f"{where}.environments[{j}]",
                    f"group {flow.from_!r} is not deployed in {env!r}",
                )
        declared = {**arch.services, **arch.externals}.get(flow.to)
        for j, port in enumerate(flow.ports):
            if declared is not None and port not in declared.ports:
                # No cell probes an undeclared port, and the declared one would turn deny.
                offered = ", ".join(str(p) for p in declared.ports)
                yield (
                    f"{where}.ports[{j}]",
                    f"{port} is not a port {flow.to!r} declares ({offered})",
                )
    yield from _port_names(arch)
    for i, flow in enumerate(arch.policy.flows):
        outside = flow.to in arch.services or flow.to in arch.externals
        if flow.http and (outside or any(p.protocol != "TCP" for p in flow.ports)):
            yield (
                f"policy.flows[{i}].http",
                "HTTP rules need a flow to an app group on TCP ports only",
            )
    flows = {flow.name: flow for flow in arch.policy.flows}
    for i, flow_name in enumerate(arch.mutual_auth.required_for):
        if flow_name not in flows:
            yield f"mutual_auth.required_for[{i}]", f"unknown flow {flow_name!r}"
        elif flows[flow_name].to in arch.services or flows[flow_name].to in arch.externals:
            yield (
                f"mutual_auth.required_for[{i}]",
                f"flow {flow_name!r} goes to {flows[flow_name].to!r}, which is no app group: "
                "only the destination's ingress rule can require authentication",
            )
    for i, listener in enumerate(arch.gateway.listeners):
        if listener.protocol == "HTTPS" and not listener.hostname:
            yield (
                f"gateway.listeners[{i}].hostname",
                "an HTTPS listener needs one (its certificate)",
            )
    pool = next((p for p in arch.lb_ipam.pools if p.name == arch.gateway.pool), None)
    if arch.gateway.pool and (pool is None or not pool.service_selector):
        yield (
            "gateway.pool",
            f"{arch.gateway.pool!r} is no pool of lb_ipam.pools with a service_selector",
        )
    listeners = {listener.name: listener for listener in arch.gateway.listeners}
    for i, route in enumerate(arch.gateway.routes):
        if route.listener not in listeners:
            yield f"gateway.routes[{i}].listener", f"unknown listener {route.listener!r}"
        elif route.hostname:
            yield from _route_hostname(route, listeners[route.listener], f"gateway.routes[{i}]")
        elif (route.path or route.headers) and listeners[route.listener].protocol not in (
            "HTTP",
            "HTTPS",
        ):
            yield (
                f"gateway.routes[{i}]",
                f"path and headers match HTTP only; listener {route.listener!r} is "
                f"{listeners[route.listener].protocol}",
            )
        if (route.backend is None) == (route.redirect is None):
            yield f"gateway.routes[{i}]", "needs a backend or a redirect (exactly one)"
        elif (
            route.redirect
            and route.listener in listeners
            and (listeners[route.listener].protocol not in ("HTTP", "HTTPS"))
        ):
            yield f"gateway.routes[{i}].redirect", "only an HTTP or HTTPS route redirects"
        if route.backend is None:
            continue
        if route.backend.group not in groups:
            yield f"gateway.routes[{i}].backend.group", f"unknown group {route.backend.group!r}"
        elif route.backend.environment not in arch.groups[route.backend.group].environments:
            yield (
                f"gateway.routes[{i}].backend.environment",
                f"group {route.backend.group!r} is not deployed in {route.backend.environment!r}",
            )
        elif arch.policy.default == "deny" and not _gateway_may_reach(arch, route.backend):
            backend = route.backend
            yield (
                f"gateway.routes[{i}].backend",
                f"the Gateway reaches {backend.environment}/{backend.group} on "
                f"{backend.port}/TCP as Cilium's ingress identity, which default deny drops: "
                "declare a flow from ingress to it",
            )


def _from_outside_groups(arch: Architecture, flow: Flow, where: str) -> Iterator[tuple[str, str]]:
    """A flow from a client or an entity reaches the app groups, in the environments it names."""
    if flow.to != WILDCARD and flow.to not in arch.groups:
        yield f"{where}.to", f"a flow from {flow.from_!r} goes to an app group"
    if flow.http:
        yield f"{where}.http", "HTTP rules need a flow from an app group"
    if flow.name in arch.mutual_auth.required_for:
        yield f"{where}.from", "only app groups authenticate mutually"
    deployed = set(arch.groups[flow.to].environments) if flow.to in arch.groups else None
    for j, env in enumerate(flow.environments or []):
        if deployed is not None and env in arch.environments and env not in deployed:
            yield f"{where}.environments[{j}]", f"group {flow.to!r} is not deployed in {env!r}"


def _route_hostname(route: Route, listener: Listener, where: str) -> Iterator[tuple[str, str]]:
    if listener.protocol not in ("HTTP", "HTTPS", "TLS"):
        yield f"{where}.hostname", f"a {listener.protocol} listener matches no hostname"
    elif listener.hostname and not _hostname_matches(listener.hostname, str(route.hostname)):
        yield (
            f"{where}.hostname",
            f"{route.hostname} is not a name listener {listener.name!r} serves "
            f"({listener.hostname})",
        )


def _hostname_matches(served: str, name: str) -> bool:
    if served.startswith("*."):
        return name.endswith(served[1:]) and name != served[2:]
    return served == name


def _gateway_may_reach(arch: Architecture, backend: Backend) -> bool:
    port = PortSpec(backend.port, "TCP")
    return any(
        flow.from_ == "ingress"
        and flow.to in (WILDCARD, backend.group)
        and port in flow.ports
        and (flow.environments is None or backend.environment in flow.environments)
        for flow in arch.policy.flows
    )


def _sources(arch: Architecture) -> Iterator[tuple[str, str]]:
    cilium = arch.sources.cilium
    if cilium is not None and bool(cilium.values) == bool(cilium.helm_release):
        yield "sources.cilium", "give values (Helm values files) or helm_release, one of them"
    if (arch.sources.manifests or arch.sources.coredns) and arch.cluster.node_network is None:
        yield (
            "sources",
            "your files name addresses (BGP peers, DNS servers, egress CIDRs): declare "
            "cluster.node_network, the LAN they live on, so a run can place them there",
        )


def _duplicates(arch: Architecture) -> Iterator[tuple[str, str]]:
    named: dict[str, list[Any]] = {
        "policy.flows": arch.policy.flows,
        "lb_ipam.pools": arch.lb_ipam.pools,
        "bgp.peers": arch.bgp.peers if arch.bgp else [],
        "gateway.listeners": arch.gateway.listeners,
        "gateway.routes": arch.gateway.routes,
    }
    for where, items in named.items():
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name in seen:
                yield f"{where}[{i}].name", f"duplicate name {item.name!r}"
            seen.add(item.name)
    for i, flow in enumerate(arch.policy.flows):
        for j, port in enumerate(flow.ports):
            if port in flow.ports[:j]:
                yield f"policy.flows[{i}].ports[{j}]", f"{port} is listed twice"
    listeners = arch.gateway.listeners
    for i, listener in enumerate(listeners):
        for other in listeners[:i]:
            if other.port != listener.port:
                continue
            # Gateway API lets listeners share a port only with one protocol family and
            # distinct hostnames; anything else is a conflict the Gateway reports.
            same_hostname = None in (other.hostname, listener.hostname) or (
                other.hostname == listener.hostname
            )
            if other.protocol != listener.protocol or same_hostname:
                yield (
                    f"gateway.listeners[{i}].port",
                    f"port {listener.port} is already used by listener {other.name!r}",
                )
    namespaces: dict[str, str] = {}
    for name, env in arch.environments.items():
        if env.namespace in namespaces:
            yield (
                f"environments.{name}.namespace",
                f"namespace {env.namespace!r} is already used by {namespaces[env.namespace]!r}",
            )
        namespaces[env.namespace] = name


def _overlapping_pools(arch: Architecture) -> Iterator[tuple[str, str]]:
    pools = arch.lb_ipam.pools
    for i, pool in enumerate(pools):
        for other in pools[:i]:
            if pool.cidr.version == other.cidr.version and pool.cidr.overlaps(other.cidr):
                yield (
                    f"lb_ipam.pools[{i}].cidr",
                    f"{pool.cidr} overlaps pool {other.name!r} ({other.cidr})",
                )
        taken = {f"external {name!r}": e.cidr for name, e in arch.externals.items()}
        taken["the pod CIDR"] = arch.cluster.pod_cidr
        taken["the service CIDR"] = arch.cluster.service_cidr
        for what, cidr in taken.items():
            if pool.cidr.version == cidr.version and pool.cidr.overlaps(cidr):
                yield f"lb_ipam.pools[{i}].cidr", f"{pool.cidr} overlaps {what} ({cidr})"
    nodes = arch.cluster.node_network
    for i, peer in enumerate(arch.bgp.peers if arch.bgp and nodes else []):
        if peer.address not in nodes:  # type: ignore[operator]
            yield (
                f"bgp.peers[{i}].address",
                f"{peer.address} is not in the node network {nodes}: the nodes cannot reach it",
            )


def _dns_records(dns: Dns) -> Iterator[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    for i, record in enumerate(dns.records):
        where = f"dns.records[{i}]"
        if (record.name, record.type) in seen:
            yield where, f"{record.name} {record.type} is declared twice"
        seen.add((record.name, record.type))
        if not record.inside and not record.outside:
            yield where, f"{record.name} answers nothing inside or outside: give one of them"
        if record.inside and dns.zone_of(record.name) is None:
            yield (
                f"{where}.inside",
                f"{record.name} is in no internal zone of dns.zones: inside, it is the "
                "external resolver's answer (give only outside)",
            )
        version = 4 if record.type == "A" else 6
        for side in ("inside", "outside"):
            for address in getattr(record, side):
                if address.version != version:
                    yield (
                        f"{where}.{side}",
                        f"{address} is not an IPv{version} address ({record.type})",
                    )


def _served_ports(arch: Architecture) -> set[int]:
    """The TCP ports the workloads serve: every port some flow targets on an app group."""
    return {
        port.port
        for flow in arch.policy.flows
        if flow.to == WILDCARD or flow.to in arch.groups
        for port in flow.ports
        if port.protocol == "TCP"
    }


def _group_services(arch: Architecture) -> Iterator[tuple[str, str]]:
    """A Service exposes what its pods serve, opens node ports no other Service holds, and,
    as a LoadBalancer, is selected by a pool (else it stays pending without an address)."""
    served = {p for f in arch.policy.flows if f.to in (*arch.groups, WILDCARD) for p in f.ports}
    held: dict[int, str] = {}
    for name, group in arch.groups.items():
        service, where = group.service, f"groups.{name}.service"
        for i, port in enumerate(service.ports):
            if port not in served:
                yield f"{where}.ports[{i}]", f"{port} is no port a flow reaches an app group on"
        if service.external_traffic_policy == "Local" and not service.external:
            yield (
                f"{where}.external_traffic_policy",
                "applies to NodePort and LoadBalancer Services only",
            )
        if service.node_ports and not service.external:
            yield f"{where}.node_ports", "a ClusterIP Service opens no node port"
        elif service.node_ports and len(group.environments) > 1:
            yield (
                f"{where}.node_ports",
                f"{name!r} is deployed in {len(group.environments)} environments, each with "
                "its Service, and a node port is one per cluster: let Kubernetes allocate them",
            )
        exposed = service.ports or sorted(served)
        for port, node_port in service.node_ports.items():
            if port not in exposed:
                yield f"{where}.node_ports.{port}", f"{port} is no port this Service exposes"
            if node_port in held:
                yield (
                    f"{where}.node_ports.{port}",
                    f"node port {node_port} is already {held[node_port]}'s",
                )
            held.setdefault(node_port, f"{name} {port}")
        if service.external and service.external_traffic_policy == "Cluster":
            flows = arch.policy.flows
            reached = sorted(
                {f.from_ for f in flows if f.from_ in arch.clients and f.to in (name, WILDCARD)}
            )
            if reached:
                yield (
                    f"{where}.external_traffic_policy",
                    f"clients reach {name!r} from outside ({', '.join(reached)}), but with "
                    "Cluster Cilium forwards a connection to another node's pod as the world "
                    "identity (and not from the client's address), which a rule from the client "
                    "does not allow: only connections that pick a pod on the node they entered "
                    "would pass. Use Local",
                )
        if service.type == "LoadBalancer" and not any(
            pool.service_selector is None or pool.service_selector.items() <= service.labels.items()
            for pool in arch.lb_ipam.pools
        ):
            yield (
                f"{where}.labels",
                "no pool of lb_ipam.pools selects this LoadBalancer Service "
                f"(labels {service.labels or '{}'}): it would never get an address",
            )


def _node_loss(arch: Architecture) -> Iterator[tuple[str, str]]:
    """Node loss is measured on a LoadBalancer address the nodes announce to the router, which
    gives a silent node up only when the hold time runs out."""
    ha = arch.high_availability
    if not ha.node_loss:
        return
    where = "high_availability.node_loss"
    if arch.bgp is None or "lb-ips" not in arch.bgp.advertise or not arch.lb_ipam.pools:
        yield where, "needs bgp advertising lb-ips and a pool in lb_ipam.pools"
    elif arch.bgp.timers is None:
        yield (
            where,
            "needs bgp.timers: with the default hold time (90 s) a lost node keeps its routes",
        )
    elif ha.node_loss_budget < arch.bgp.timers.hold:
        yield (
            f"{where}_budget",
            f"{ha.node_loss_budget:g} s is shorter than the BGP hold time "
            f"({arch.bgp.timers.hold} s), for which the router keeps sending to a lost node",
        )


def _routing_mistakes(arch: Architecture) -> Iterator[tuple[str, str]]:
    """Addresses that would hollow out the BGP and LB IPAM suites."""
    pools = arch.lb_ipam.pools
    nodes = arch.cluster.node_network
    seen: dict[str, str] = {}
    for i, peer in enumerate(arch.bgp.peers if arch.bgp else []):
        where = f"bgp.peers[{i}].address"
        if peer.address.version != 4:
            yield where, f"{peer.address}: FRR's router-id and the peering here are IPv4 only"
        if str(peer.address) in seen:
            yield where, f"{peer.address} is also peer {seen[str(peer.address)]!r}'s address"
        seen[str(peer.address)] = peer.name
        for pool in pools:
            if pool.cidr.version == peer.address.version and peer.address in pool.cidr:
                yield where, f"{peer.address} is in pool {pool.name!r} ({pool.cidr})"
    for i, pool in enumerate(pools):
        where = f"lb_ipam.pools[{i}].cidr"
        if pool.cidr.version != arch.cluster.pod_cidr.version:
            yield (
                where,
                f"{pool.cidr} is IPv{pool.cidr.version}; the cluster's pods are "
                f"IPv{arch.cluster.pod_cidr.version}",
            )
        elif nodes is not None and pool.cidr.version == nodes.version and pool.cidr.overlaps(nodes):
            yield (
                where,
                f"{pool.cidr} overlaps the node network {nodes}: nodes would own its addresses",
            )


def _dns_mistakes(arch: Architecture) -> Iterator[tuple[str, str]]:
    cluster_domain = arch.dns.cluster_domain
    seen: set[str] = set()
    inside = (arch.cluster.pod_cidr, arch.cluster.service_cidr)
    for i, zone in enumerate(arch.dns.zones):
        where = f"dns.zones[{i}]"
        if zone.name in seen:
            yield (
                f"{where}.name",
                f"{zone.name} is declared twice (CoreDNS refuses such a Corefile)",
            )
        seen.add(zone.name)
        if cluster_domain == zone.name or cluster_domain.endswith(f".{zone.name}"):
            yield (
                f"{where}.name",
                f"{zone.name} holds the cluster domain {cluster_domain}: forwarding it away "
                "would take Service names from the kubernetes plugin",
            )
        for j, address in enumerate(zone.forward_to):
            if any(address.version == net.version and address in net for net in inside):
                yield (
                    f"{where}.forward_to[{j}]",
                    f"{address} is inside the cluster's pod or Service range",
                )


def _route_mistakes(arch: Architecture) -> Iterator[tuple[str, str]]:
    listeners = {listener.name: listener for listener in arch.gateway.listeners}
    served = _served_ports(arch)
    claimed: dict[tuple[str, str | None, str | None, tuple[tuple[str, str], ...]], str] = {}
    for i, route in enumerate(arch.gateway.routes):
        where = f"gateway.routes[{i}]"
        listener = listeners.get(route.listener)
        if listener is None:
            continue
        host = route.hostname or listener.hostname
        if route.backend and route.backend.port not in served:
            yield (
                f"{where}.backend.port",
                f"no workload serves {route.backend.port}/TCP (served: "
                f"{', '.join(str(p) for p in sorted(served)) or 'none'}): declare a flow to it",
            )
        key = (listener.name, host, route.path, tuple(sorted(route.headers.items())))
        if key in claimed:
            yield where, f"matches what route {claimed[key]!r} matches (same host, path, headers)"
        claimed.setdefault(key, route.name)
        redirect = route.redirect
        if redirect and listener.protocol in ("HTTP", "HTTPS"):
            scheme = listener.protocol.lower()
            if (
                redirect.scheme in (None, scheme)
                and redirect.hostname in (None, host)
                and redirect.port in (None, listener.port)
            ):
                yield f"{where}.redirect", "redirects to itself: a client would loop"


# A homelab's spec is a few kilobytes; one of megabytes is a wrong file, not an architecture.
MAX_SPEC_BYTES = 1_000_000


def parse(text: str, source: str = SPEC_FILE) -> Architecture:
    """Parse and check a spec; every problem found is one line of the SpecError."""
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(
            f"{source}: (document): {len(text):,} characters; a spec is at most "
            f"{MAX_SPEC_BYTES:,}: is it the right file?"
        )
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except RecursionError:
        raise SpecError(f"{source}: (document): nested too deeply to be a spec") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(document)"
        reason = getattr(error, "problem", None) or str(error)
        if "nesting depth" in reason:  # libyaml's own limit, where Python's would recurse
            raise SpecError(f"{source}: (document): nested too deeply to be a spec") from None
        raise SpecError(f"{source}: {where}: not valid YAML: {reason}") from None
    if data is None:
        raise SpecError(f"{source}: (document): the file is empty")
    if not isinstance(data, dict):
        raise SpecError(f"{source}: (top level): expected a mapping, got {type(data).__name__}")
    try:
        arch = Architecture.model_validate(data)
    except ValidationError as error:
        lines = [f"{source}: {_path(e['loc'])}: {_reason(e)}" for e in error.errors()]
        raise SpecError("\n".join(lines)) from None
    problems = [
        *_cross_references(arch),
        *_sources(arch),
        *_duplicates(arch),
        *_overlapping_pools(arch),
        *_dns_records(arch.dns),
        *_dns_mistakes(arch),
        *_routing_mistakes(arch),
        *_group_services(arch),
        *_node_loss(arch),
        *_route_mistakes(arch),
    ]
    if problems:
        raise SpecError("\n".join(f"{source}: {path}: {reason}" for path, reason in problems))
    return arch


def _shown(value: Any) -> str:
    """A value as a message shows it: bounded, so an alias bomb is named, not expanded."""
    shown = reprlib.Repr()
    shown.maxlevel, shown.maxstring, shown.maxother = 2, 60, 60
    shown.maxlist = shown.maxdict = 4
    return shown.repr(value)


def _reason(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ")[:200]
    if error["type"] == "value_error":
        return message
    return f"{message} (got {_shown(error['input'])})"


def _source_paths(sources: Sources) -> Iterator[tuple[str, str]]:
    yield "root", sources.root
    if sources.cilium:
        yield from ((f"cilium.values[{i}]", v) for i, v in enumerate(sources.cilium.values))
        if sources.cilium.helm_release:
            yield "cilium.helm_release", sources.cilium.helm_release
    yield from ((f"manifests[{i}]", m) for i, m in enumerate(sources.manifests))
    yield from ((f"coredns[{i}]", c) for i, c in enumerate(sources.coredns))


def load(path: str | Path) -> Architecture:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise SpecError(
            f"{path}: (document): not UTF-8 text (byte {error.start}): is it the right file?"
        ) from None
    arch = parse(text, str(path)).model_copy(update={"base": path.parent, "file": str(path)})
    missing = [
        f"{path}: policy.paths[{i}]: no such file {name!r} (relative to the current directory)"
        for i, name in enumerate(arch.policy.paths)
        if not Path(name).is_file()
    ]
    missing += [
        f"{path}: sources.{where}: no such file or directory {name!r} (relative to the spec)"
        for where, name in _source_paths(arch.sources)
        if not arch.source_path(name).exists()
    ]
    if missing:
        raise SpecError("\n".join(missing))
    return arch
