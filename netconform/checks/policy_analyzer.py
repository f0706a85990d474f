"""Cilium's policy semantics without a cluster: what the policies under test make of each cell.

Pure: takes the policy manifests (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy,
Kubernetes NetworkPolicy) and the peers of each cell as Cilium sees them (labels,
or an address outside the cluster) and predicts allowed, denied, or undecided with
the reason. It follows Cilium 1.20's own conversion (pkg/k8s/apis/cilium.io/utils,
pkg/policy/utils): a namespaced policy's selectors are scoped to its namespace
unless they name one; an empty rule selects nothing, a rule with ports and no
peers selects every peer; deny wins over allow; a direction is default deny once
a rule of it selects the endpoint; a flow needs its source's egress and its
destination's ingress. What only a proxy decides (L7 rules, FQDNs, named ports) is
undecided, never guessed; a rule requiring mutual authentication allows once the peers
authenticate (and never in Cilium's test-always-fail mode).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from netconform.manifest import Manifest
from netconform.spec import PortSpec

K8S, ANY, RESERVED = "k8s", "any", "reserved"
SOURCES = frozenset({K8S, ANY, RESERVED, "cidr", "unspec", "container"})
POD_NAMESPACE = "io.kubernetes.pod.namespace"
NAMESPACE_LABELS = "io.cilium.k8s.namespace.labels"
CLUSTER_LABEL = "io.cilium.k8s.policy.cluster"
PREDICTED_ALLOWED, PREDICTED_DENIED, UNDECIDED = "allowed", "denied", "undecided"
# Cilium's test mode in which every mutual authentication fails: its rules drop.
ALWAYS_FAIL = "test-always-fail"
# The entities an outside address belongs to (with the IP version each needs); pods and the
# reserved identities inside (ingress, remote-node, host, ...) belong to "cluster", everything
# to "all".
WORLD_ENTITIES = {"world": None, "world-ipv4": 4, "world-ipv6": 6}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Peer:
    """One side of a cell: a pod's labels as Cilium derives them, or an outside address."""

    name: str
    labels: frozenset[tuple[str, str, str]]  # (source, key, value)
    address: Address | None = None  # set only outside the cluster
    # Whether a policy can have it as its subject: pods and the Gateway's Envoy (Cilium's
    # ingress endpoint), not another node.
    subject: bool = True
    # Its containers' named ports (name, protocol, number); None where they are not known.
    named_ports: frozenset[tuple[str, str, int]] | None = None

    @cached_property
    def by_key(self) -> dict[str, list[tuple[str, str]]]:
        """(source, value) by label key: selectors look keys up, not scan every label."""
        index: dict[str, list[tuple[str, str]]] = {}
        for source, key, value in self.labels:
            index.setdefault(key, []).append((source, value))
        return index


def pod_peer(
    name: str,
    pod_labels: Mapping[str, str],
    namespace: str,
    namespace_labels: Mapping[str, str],
    cluster: str = "default",
    named_ports: frozenset[tuple[str, str, int]] | None = None,
) -> Peer:
    """A pod's identity: its labels, its namespace and the namespace's labels, its cluster;
    and its containers' named ports where they are known."""
    labels = {(K8S, k, v) for k, v in pod_labels.items()}
    labels |= {(K8S, f"{NAMESPACE_LABELS}.{k}", v) for k, v in namespace_labels.items()}
    labels |= {(K8S, POD_NAMESPACE, namespace), (K8S, CLUSTER_LABEL, cluster)}
    return Peer(name, frozenset(labels), named_ports=named_ports)


def entity_peer(entity: str) -> Peer:
    """A reserved identity inside the cluster: `ingress` (Envoy) or `remote-node`."""
    return Peer(entity, frozenset({(RESERVED, entity, "")}), subject=entity == "ingress")


def outside_peer(name: str, address: str) -> Peer:
    return Peer(name, frozenset({(RESERVED, "world", "")}), ipaddress.ip_address(address))


def _key(text: str) -> tuple[str, str]:
    source, sep, key = text.partition(":")
    return (source, key) if sep and source in SOURCES else (ANY, text)


@dataclass(frozen=True)
class Requirement:
    source: str
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: frozenset[str] = frozenset()

    def matches(self, peer: Peer) -> bool:
        found = {v for s, v in peer.by_key.get(self.key, ()) if self.source in (ANY, s)}
        if self.operator == "In":
            return bool(found & self.values)
        if self.operator == "NotIn":
            return not found & self.values
        if self.operator == "Exists":
            return bool(found)
        return not found


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def of(cls, selector: Manifest | None) -> Selector:
        selector = selector or {}
        made = [
            Requirement(*_key(k), "In", frozenset({str(v)}))
            for k, v in (selector.get("matchLabels") or {}).items()
        ]
        made += [
            Requirement(*_key(e["key"]), e["operator"], frozenset(map(str, e.get("values") or ())))
            for e in selector.get("matchExpressions") or []
        ]
        return cls(tuple(made))

    def has_key(self, source_key: tuple[str, str], prefix: bool = False) -> bool:
        return any(
            (r.source, r.key) == source_key
            or (prefix and r.source == source_key[0] and r.key.startswith(source_key[1]))
            for r in self.requirements
        )

    def plus(self, requirement: Requirement) -> Selector:
        return Selector((*self.requirements, requirement))

    def matches(self, peer: Peer) -> bool:
        return all(r.matches(peer) for r in self.requirements)


def scoped(selector: Selector, namespace: str | None) -> Selector:
    """A peer selector as Cilium scopes it (getEndpointSelector): reserved selectors as they
    are; without a namespace key, a namespaced policy's own namespace (unless namespace labels
    are named) and a clusterwide policy's pods only."""
    if any(r.source == RESERVED for r in selector.requirements):
        return selector
    if selector.has_key((K8S, POD_NAMESPACE)) or selector.has_key((ANY, POD_NAMESPACE)):
        return selector
    if namespace is None:
        return selector.plus(Requirement(K8S, POD_NAMESPACE, "Exists"))
    labels_named = selector.has_key((K8S, NAMESPACE_LABELS), prefix=True) or selector.has_key(
        (ANY, NAMESPACE_LABELS), prefix=True
    )
    if labels_named:
        return selector
    return selector.plus(Requirement(K8S, POD_NAMESPACE, "In", frozenset({namespace})))


@dataclass(frozen=True)
class Cidr:
    network: Network
    excepts: tuple[Network, ...] = ()

    def holds(self, address: Address) -> bool:
        return (
            address.version == self.network.version
            and address in self.network
            and not any(address in e for e in self.excepts if e.version == address.version)
        )


@dataclass(frozen=True)
class Peers:
    """The L3 side of a rule. `everything`: ports without peers select every peer."""

    selectors: tuple[Selector, ...] = ()
    cidrs: tuple[Cidr, ...] = ()
    entities: frozenset[str] = frozenset()
    everything: bool = False
    undecided: str = ""  # peers only a proxy resolves (FQDNs, services, groups)

    def match(self, peer: Peer) -> str:
        """PREDICTED_ALLOWED if the rule selects the peer, UNDECIDED if unknowable, else ''."""
        if self.everything or "all" in self.entities:
            return PREDICTED_ALLOWED
        if peer.address is None:
            named = any((RESERVED, entity, "") in peer.labels for entity in self.entities)
            if named or "cluster" in self.entities or any(s.matches(peer) for s in self.selectors):
                return PREDICTED_ALLOWED
            return ""
        version = peer.address.version
        world = any(
            e in self.entities and WORLD_ENTITIES[e] in (None, version) for e in WORLD_ENTITIES
        )
        if world or any(c.holds(peer.address) for c in self.cidrs):
            return PREDICTED_ALLOWED
        if any(s.matches(peer) for s in self.selectors):
            return PREDICTED_ALLOWED
        return UNDECIDED if self.undecided else ""


@dataclass(frozen=True)
class Port:
    port: int  # 0: every port
    end: int
    protocol: str  # TCP, UDP, SCTP or ANY

    def holds(self, wanted: PortSpec) -> bool:
        protocol_ok = self.protocol in ("ANY", wanted.protocol)
        return protocol_ok and (self.port == 0 or self.port <= wanted.port <= self.end)


@dataclass(frozen=True)
class Entry:
    """One rule of one direction of one policy, as Cilium's policy entries hold it."""

    policy: str
    where: str  # e.g. ingress[0]
    subject: Selector
    ingress: bool
    deny: bool
    default_deny: bool
    peers: Peers | None  # None selects nothing
    ports: tuple[Port, ...] = ()  # with no named port either: every port
    undecided: str = ""  # the rule's own reason a proxy decides it (L7)
    authentication: str = ""  # the mutual authentication mode it requires, if any
    # Named ports (name, protocol): what they resolve to depends on the destination's pods.
    named: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.policy} {self.where}"

    @property
    def reason(self) -> str:
        """Why a proxy or the destination's pods, not this analyzer, decide what it matches."""
        names = ", ".join(f"named port {n!r}" for n, _ in self.named)
        return self.undecided or (self.peers.undecided if self.peers else "") or names

    def match(self, peer: Peer, port: PortSpec, destination: Peer) -> str:
        """A numbered port decides; a named one of the port's protocol resolves against the
        destination's named ports where they are known (Cilium resolves it there), else can
        only leave the cell undecided, never turn a numbered port's answer."""
        if self.peers is None:
            return ""
        selected = self.peers.match(peer)
        if not selected:
            return ""
        every = not self.ports and not self.named
        if every or any(p.holds(port) for p in self.ports):
            return UNDECIDED if self.undecided else selected
        named = [name for name, protocol in self.named if protocol in ("ANY", port.protocol)]
        if not named:
            return ""
        if destination.named_ports is None:
            return UNDECIDED
        if any((name, port.protocol, port.port) in destination.named_ports for name in named):
            return UNDECIDED if self.undecided else selected
        return ""


@dataclass(frozen=True)
class Prediction:
    verdict: str  # PREDICTED_ALLOWED, PREDICTED_DENIED, UNDECIDED
    why: str
    authentication: str = ""  # the mutual authentication mode an allow depends on, if any


def _ports(
    rules: Sequence[Manifest] | None,
) -> tuple[tuple[Port, ...], tuple[tuple[str, str], ...], str]:
    """A rule's toPorts as numbered and named ports, and why a proxy would decide it (L7,
    SNI)."""
    ports: list[Port] = []
    named: list[tuple[str, str]] = []
    reasons = []
    for rule in rules or []:
        if rule.get("rules") or rule.get("serverNames") or rule.get("listener"):
            reasons.append("L7 rules decide per request in the proxy")
        for entry in rule.get("ports") or [{}]:
            text = str(entry.get("port") or "0")
            protocol = str(entry.get("protocol") or "ANY").upper()
            if not text.isdigit():
                named.append((text, protocol))
                continue
            port = int(text)
            end = int(entry.get("endPort") or port or 65535)
            ports.append(Port(port, end, protocol))
    if rules and not ports and not named and not reasons:
        reasons.append("no port it can match")
    return tuple(ports), tuple(named), "; ".join(dict.fromkeys(reasons))


def _network(value: Any) -> Network:
    """As the API server and Cilium parse a CIDR: host bits set are allowed."""
    return ipaddress.ip_network(str(value), strict=False)


def _peers(rule: Manifest, ingress: bool, namespace: str | None, has_ports: bool) -> Peers | None:
    side = "from" if ingress else "to"
    fields = [f"{side}{kind}" for kind in ("Endpoints", "CIDR", "CIDRSet", "Entities", "Nodes")]
    fields += [] if ingress else ["toFQDNs", "toServices", "toGroups"]
    present = {name: rule[name] for name in fields if name in rule}
    if any(value == [] for value in present.values()):
        return None  # an empty list selects nothing
    if not present:
        return Peers(everything=True) if has_ports else None
    cidrs = [Cidr(_network(c)) for c in rule.get(f"{side}CIDR") or []]
    for item in rule.get(f"{side}CIDRSet") or []:
        if "cidr" not in item:
            continue
        excepts = tuple(_network(e) for e in item.get("except") or [])
        cidrs.append(Cidr(_network(item["cidr"]), excepts))
    unknown = [
        name for name in ("toFQDNs", "toServices", "toGroups", f"{side}Nodes") if name in present
    ]
    return Peers(
        tuple(scoped(Selector.of(s), namespace) for s in rule.get(f"{side}Endpoints") or []),
        tuple(cidrs),
        frozenset(rule.get(f"{side}Entities") or ()),
        undecided=", ".join(unknown),
    )


def _cilium_entries(policy: Manifest) -> list[Entry]:
    meta = policy.get("metadata") or {}
    clusterwide = policy.get("kind") == "CiliumClusterwideNetworkPolicy"
    namespace = None if clusterwide else meta.get("namespace", "default")
    name = f"{policy.get('kind')} {'' if clusterwide else f'{namespace}/'}{meta.get('name')}"
    specs = [policy["spec"]] if policy.get("spec") else []
    specs += policy.get("specs") or []
    entries = []
    for number, spec in enumerate(specs):
        prefix = f"specs[{number}]." if len(specs) > 1 else ""
        if "endpointSelector" not in spec:
            continue  # node selectors select hosts, never the matrix's peers
        subject = Selector.of(spec["endpointSelector"])
        if namespace is not None:
            subject = subject.plus(Requirement(K8S, POD_NAMESPACE, "In", frozenset({namespace})))
        enable = spec.get("enableDefaultDeny") or {}
        for section, ingress, deny in (
            ("ingress", True, False),
            ("ingressDeny", True, True),
            ("egress", False, False),
            ("egressDeny", False, True),
        ):
            default_deny = enable.get("ingress" if ingress else "egress", True) is not False
            for index, rule in enumerate(spec.get(section) or []):
                ports, named, undecided = _ports(rule.get("toPorts"))
                mode = (rule.get("authentication") or {}).get("mode") or "disabled"
                entries.append(
                    Entry(
                        name,
                        f"{prefix}{section}[{index}]",
                        subject,
                        ingress,
                        deny,
                        default_deny,
                        _peers(rule, ingress, namespace, bool(rule.get("toPorts"))),
                        ports,
                        undecided,
                        "" if mode == "disabled" else mode,
                        named,
                    )
                )
    return entries


def _k8s_peer_selector(peer: Manifest, namespace: str) -> Selector:
    pods = Selector.of(peer.get("podSelector"))
    if "namespaceSelector" not in peer:
        return pods.plus(Requirement(K8S, POD_NAMESPACE, "In", frozenset({namespace})))
    spaces = Selector.of(peer["namespaceSelector"])
    requirements = [
        Requirement(K8S, f"{NAMESPACE_LABELS}.{r.key}", r.operator, r.values)
        for r in spaces.requirements
    ]
    return Selector((*pods.requirements, *requirements, Requirement(K8S, POD_NAMESPACE, "Exists")))


def _network_policy_entries(policy: Manifest) -> list[Entry]:
    meta = policy.get("metadata") or {}
    namespace = meta.get("namespace", "default")
    name = f"NetworkPolicy {namespace}/{meta.get('name')}"
    spec = policy.get("spec") or {}
    subject = Selector.of(spec.get("podSelector")).plus(
        Requirement(K8S, POD_NAMESPACE, "In", frozenset({namespace}))
    )
    types = spec.get("policyTypes") or ["Ingress", *(["Egress"] if "egress" in spec else [])]
    entries = []
    for kind in types:
        ingress = kind == "Ingress"
        rules = spec.get("ingress" if ingress else "egress") or []
        if not rules:
            entries.append(
                Entry(name, f"{kind.lower()} (none)", subject, ingress, False, True, None)
            )
        for index, rule in enumerate(rules):
            peers_list = rule.get("from" if ingress else "to")
            ports, named = _network_policy_ports(rule.get("ports") or [])
            if not peers_list:
                peers: Peers | None = Peers(everything=True)
            else:
                selectors = tuple(
                    _k8s_peer_selector(p, namespace) for p in peers_list if "ipBlock" not in p
                )
                cidrs = tuple(
                    Cidr(_network(p["ipBlock"]["cidr"]),
                         tuple(_network(e) for e in p["ipBlock"].get("except") or []))
                    for p in peers_list
                    if "ipBlock" in p
                )  # fmt: skip
                peers = Peers(selectors, cidrs)
            entries.append(
                Entry(
                    name,
                    f"{kind.lower()}[{index}]",
                    subject,
                    ingress,
                    False,
                    True,
                    peers,
                    ports,
                    named=named,
                )
            )
    return entries


def _network_policy_ports(
    entries: Sequence[Manifest],
) -> tuple[tuple[Port, ...], tuple[tuple[str, str], ...]]:
    """As Kubernetes and Cilium's conversion (parsePorts) read them: the protocol defaults to
    TCP, and an entry without a port is every port of its protocol."""
    ports: list[Port] = []
    named: list[tuple[str, str]] = []
    for entry in entries:
        protocol = str(entry.get("protocol") or "TCP").upper()
        text = str(entry.get("port", 0))
        if not text.isdigit():
            named.append((text, protocol))
            continue
        port = int(text)
        ports.append(Port(port, int(entry.get("endPort") or port or 65535), protocol))
    return tuple(ports), tuple(named)


def entries_of(manifests: Iterable[Manifest]) -> list[Entry]:
    """Every rule of every policy among `manifests`; other kinds are ignored."""
    found: list[Entry] = []
    for manifest in manifests:
        kind = manifest.get("kind")
        if kind in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"):
            found += _cilium_entries(manifest)
        elif kind == "NetworkPolicy":
            found += _network_policy_entries(manifest)
    return found


def holding(entries: Sequence[Entry], subject: Peer, ingress: bool) -> list[Entry]:
    """The rules of one direction whose policies select `subject`."""
    return [e for e in entries if e.ingress == ingress and e.subject.matches(subject)]


def _side(
    selecting: Sequence[Entry], peer: Peer, port: PortSpec, ingress: bool, destination: Peer
) -> Prediction:
    direction = "ingress" if ingress else "egress"
    matched = [(e, e.match(peer, port, destination)) for e in selecting]
    denies = [e for e, m in matched if e.deny and m == PREDICTED_ALLOWED]
    if denies:
        return Prediction(PREDICTED_DENIED, f"{direction} denied by {denies[0]}")
    open_denies = [e for e, m in matched if e.deny and m == UNDECIDED]
    if open_denies:
        return Prediction(UNDECIDED, f"{direction}: {open_denies[0]} ({open_denies[0].reason})")
    allows = [e for e, m in matched if not e.deny and m == PREDICTED_ALLOWED]
    authenticated = [e for e in allows if e.authentication]
    if any(e.authentication == ALWAYS_FAIL for e in authenticated):
        return Prediction(
            PREDICTED_DENIED, f"{direction}: {authenticated[0]} requires {ALWAYS_FAIL} auth"
        )
    if authenticated:
        mode = authenticated[0].authentication
        why = f"{direction} allowed by {authenticated[0]} once authenticated"
        return Prediction(PREDICTED_ALLOWED, f"{why} ({mode} mutual authentication)", mode)
    if allows:
        return Prediction(PREDICTED_ALLOWED, f"{direction} allowed by {allows[0]}")
    open_allows = [e for e, m in matched if not e.deny and m == UNDECIDED]
    if open_allows:
        return Prediction(UNDECIDED, f"{direction}: {open_allows[0]} ({open_allows[0].reason})")
    enforcing = [e for e in selecting if e.default_deny]
    if enforcing:
        return Prediction(
            PREDICTED_DENIED, f"{direction} default deny (selected by {enforcing[0]})"
        )
    return Prediction(PREDICTED_ALLOWED, f"no policy selects it for {direction}")


def predict(
    entries: Sequence[Entry], source: Peer, destination: Peer, port: PortSpec
) -> Prediction:
    """The source's egress and the destination's ingress must both allow; a deny anywhere
    wins; outside the cluster there is no policy to ask."""
    egress, ingress = holding(entries, source, False), holding(entries, destination, True)
    return predict_held(egress, ingress, source, destination, port)


def predict_held(
    egress: Sequence[Entry],
    ingress: Sequence[Entry],
    source: Peer,
    destination: Peer,
    port: PortSpec,
) -> Prediction:
    """`predict` with the rules that hold each end already found (`holding`): a matrix finds
    them once per endpoint, not once per cell."""
    sides = []
    if source.address is None and source.subject:
        sides.append(_side(egress, destination, port, False, destination))
    if destination.address is None:
        sides.append(_side(ingress, source, port, True, destination))
    for verdict in (PREDICTED_DENIED, UNDECIDED):
        found = [s for s in sides if s.verdict == verdict]
        if found:
            return Prediction(verdict, "; ".join(s.why for s in found))
    mode = next((s.authentication for s in sides if s.authentication), "")
    return Prediction(PREDICTED_ALLOWED, "; ".join(s.why for s in sides), mode)


def findings(
    entries: Sequence[Entry], peers: Sequence[Peer], cells: Iterable[tuple[Peer, Peer, PortSpec]]
) -> list[str]:
    """Rules worth a look: one that selects no endpoint, an allow that matches no peer, and a
    deny that shadows an allow (across two policies: they disagree), each named with its
    policy and rule."""
    inside = [p for p in peers if p.address is None]
    found = [
        f"{e}: selects no endpoint of the spec"
        for e in entries
        if not any(e.subject.matches(p) for p in inside)
    ]
    held: dict[tuple[Peer, bool], list[Entry]] = {}
    hit: set[int] = set()  # ids of the entries some cell matched
    shadows: dict[tuple[Entry, Entry], str] = {}
    for source, destination, port in cells:
        for ingress, subject, peer in ((False, source, destination), (True, destination, source)):
            if subject.address is not None:
                continue
            if (subject, ingress) not in held:
                held[(subject, ingress)] = holding(entries, subject, ingress)
            matched = [e for e in held[(subject, ingress)] if e.match(peer, port, destination)]
            hit.update(map(id, matched))
            for deny in (e for e in matched if e.deny):
                for allow in (e for e in matched if not e.deny):
                    shadows.setdefault((deny, allow), f"{source.name} -> {destination.name} {port}")
    found += [
        f"{e}: matches no peer of the spec"
        for e in entries
        if not e.deny
        and e.peers is not None
        and id(e) not in hit
        and any(e.subject.matches(p) for p in inside)
    ]
    for (deny, allow), cell in shadows.items():
        how = "shadows" if deny.policy == allow.policy else "disagrees with"
        found.append(f"{deny} {how} {allow}: it denies what the allow permits, e.g. {cell}")
    return found
