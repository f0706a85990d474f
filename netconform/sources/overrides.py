"""The user's Cilium values kept as written, but for the few keys that cannot work on a kind
cluster: each change is an Override (key, theirs, ours, why) that a run prints first and
records, and where it changes what a suite can claim, it says so.

Values written for a homelab name its API VIP, its NICs, its MTU, a native routing CIDR
that an underlay router serves, ServiceMonitors of a Prometheus Operator; on kind these
would stop Helm or the datapath, and a test of the rest would never start.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

UNSET = "(unset)"


@dataclass(frozen=True)
class Override:
    key: str
    theirs: Any
    ours: Any
    why: str
    claim: str = ""  # what a suite cannot claim because of this change, if anything
    suite: str = ""  # the suite that claim is about

    def __str__(self) -> str:
        text = f"{self.key}: {_shown(self.theirs)} -> {_shown(self.ours)} ({self.why})"
        return f"{text}; {self.claim}" if self.claim else text

    def as_data(self) -> dict[str, str]:
        return {
            "key": self.key,
            "theirs": _shown(self.theirs),
            "ours": _shown(self.ours),
            "why": self.why,
            "claim": self.claim,
            "suite": self.suite,
        }


def _shown(value: Any) -> str:
    return UNSET if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def get(values: Mapping[str, Any], key: str) -> Any:
    node: Any = values
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def put(values: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key; None removes it (the chart's default then applies)."""
    *parents, last = key.split(".")
    node = values
    for part in parents:
        if not isinstance(node.get(part), dict):
            if value is None:
                return
            node[part] = {}
        node = node[part]
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value


def _leaves(values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, f"{path}.")
        else:
            yield path, value


Values = Mapping[str, Any]


@dataclass(frozen=True)
class Claim:
    """What a suite can no longer claim once a key is changed."""

    suite: str
    text: str


# (key, ours, why, claim) for each key a rule changes.
Changes = Iterator[tuple[str, Any, str, Claim | None]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class KindShape:
    """What the rules need of the kind cluster: its name, its pod and Service ranges, and
    whether its nodes sit on a LAN beside it."""

    name: str
    pod_cidr: Network
    service_cidr: Network
    lan: bool = False  # nodes have NICs on the LAN beside kind


Rule = Callable[[Values, KindShape], Changes]


def _api_server(values: Values, kind: KindShape) -> Changes:
    why = "kube-proxy replacement reaches kind's API server directly"
    yield "k8sServiceHost", f"{kind.name}-control-plane", why, None
    yield "k8sServicePort", 6443, why, None


def _hardware(values: Values, kind: KindShape) -> Changes:
    for key in ("nodePort.directRoutingDevice", "MTU"):
        if get(values, key) is not None:
            yield (
                key,
                None,
                "names the user's NICs or link MTU; kind's nodes detect their own",
                None,
            )
    if kind.lan:
        # Detection takes only NICs with a default route: the LAN's would be left out.
        why = "a kind node's NICs: kind's network (eth0) and the LAN beside it (eth1 and on)"
        yield "devices", "eth+", why, None
    elif get(values, "devices") is not None:
        yield "devices", None, "names the user's NICs; kind's nodes detect their own", None


def _service_monitors(values: Values, kind: KindShape) -> Changes:
    for key, value in _leaves(values):
        if key.endswith("serviceMonitor.enabled") and value is True:
            yield key, False, "kind has no Prometheus Operator CRDs (Helm would fail)", None


def _kube_proxy(values: Values, kind: KindShape) -> Changes:
    if get(values, "kubeProxyReplacement") not in (True, "true"):
        yield (
            "kubeProxyReplacement",
            True,
            "the kind cluster is made without kube-proxy",
            Claim(
                "test_lb_ipam", "Services here are Cilium's kube-proxy replacement, not kube-proxy"
            ),
        )


def _routing(values: Values, kind: KindShape) -> Changes:
    if get(values, "routingMode") != "native":
        return
    if get(values, "autoDirectNodeRoutes") is not True:
        yield "autoDirectNodeRoutes", True, "on kind no router routes the pods between nodes", None
    pods = kind.pod_cidr
    native = get(values, "ipv4NativeRoutingCIDR")
    if get(values, "ipam.mode") == "kubernetes" and not _contains(native, pods):
        yield "ipv4NativeRoutingCIDR", str(pods), f"it must hold kind's pods ({pods})", None


def _pod_pool(values: Values, kind: KindShape) -> Changes:
    """Cilium's default IPAM (cluster-pool, 10.0.0.0/8) would hand pods kind's Service range."""
    if (get(values, "ipam.mode") or "cluster-pool") != "cluster-pool":
        return
    key = "ipam.operator.clusterPoolIPv4PodCIDRList"
    pools = get(values, key) or ["10.0.0.0/8"]
    services = kind.service_cidr
    if any(_overlaps(pool, services) for pool in pools):
        yield key, [str(kind.pod_cidr)], f"it overlaps kind's Service range {services}", None


def _ipv6(values: Values, kind: KindShape) -> Changes:
    if get(values, "ipv6.enabled") is True and kind.pod_cidr.version == 4:
        why = "the kind cluster is IPv4 only"
        yield "ipv6.enabled", False, why, Claim("test_allowed_flows", "IPv6 is not tested")


def _hubble_relay(values: Values, kind: KindShape) -> Changes:
    why = "the suites read drop reasons (policy vs authentication) through Hubble relay"
    if get(values, "hubble.enabled") is False:
        yield "hubble.enabled", True, why, None
    if get(values, "hubble.relay.enabled") is not True:
        yield "hubble.relay.enabled", True, why, None


def _spire_server(values: Values, kind: KindShape) -> Changes:
    spire = "authentication.mutual.spire"
    if get(values, f"{spire}.enabled") and get(values, f"{spire}.install.enabled") is not False:
        yield (
            f"{spire}.install.server.podSecurityContext",
            {"runAsUser": 0, "runAsGroup": 0},
            "the chart's server socket directory is root's while SPIRE's image runs as uid "
            "1000, so the server stops at once (cilium/cilium#40533)",
            None,
        )


def _kernel(values: Values, kind: KindShape) -> Changes:
    if get(values, "encryption.enabled") is True:
        yield (
            "encryption.enabled",
            False,
            "this machine's kernel has no WireGuard module",
            Claim("test_wireguard", "encryption is not tested on this path"),
        )
    if get(values, "tunnelProtocol") == "geneve":
        yield "tunnelProtocol", "vxlan", "this machine's kernel has no GENEVE", None
    if get(values, "loadBalancer.dsrDispatch") == "geneve" and get(values, "loadBalancer.mode") in (
        "dsr",
        "hybrid",
    ):
        yield (
            "loadBalancer.mode",
            "snat",
            "DSR dispatches in GENEVE, which this machine's kernel does not have",
            Claim("test_lb_ipam", "replies leave through the entry node (SNAT), not DSR"),
        )


def _unbuilt(values: Values, kind: KindShape) -> Changes:
    """Parts whose images cannot be built here (Envoy) or are not (UI, clustermesh, certgen)."""
    off = {
        "ingressController.enabled": "Cilium's ingress needs Envoy, which cannot be built here",
        "hubble.ui.enabled": "Hubble UI's images are not built here",
        "clustermesh.useAPIServer": "the clustermesh API server's image is not built here",
    }
    for key, why in off.items():
        if get(values, key) is True:
            yield key, False, why, None
    if get(values, "hubble.tls.auto.method") == "cronJob":
        yield "hubble.tls.auto.method", "helm", "certgen's image is not built here", None
    for key, _ in _leaves(values):
        if key.rsplit(".", 2)[-2:-1] == ["image"] and key.rsplit(".", 1)[-1] in IMAGE_NAMING:
            yield key, None, "images are built here under the chart's own names", None


IMAGE_NAMING = ("repository", "tag", "digest", "override")
LOCAL_RULES: tuple[Rule, ...] = (_kernel, _unbuilt)
RULES: tuple[Rule, ...] = (
    _api_server, _hardware, _service_monitors, _kube_proxy, _routing, _pod_pool, _ipv6,
    _hubble_relay, _spire_server,
)  # fmt: skip


def _network_like(value: Any, other: Network) -> Network | None:
    """The user's value as a network of `other`'s IP version, or None (not a CIDR)."""
    try:
        network = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return None
    return network if network.version == other.version else None


def _contains(outer: Any, inner: Network) -> bool:
    network = _network_like(outer, inner)
    return network is not None and inner.subnet_of(network)  # type: ignore[arg-type]


def _overlaps(cidr: Any, other: Network) -> bool:
    network = _network_like(cidr, other)
    return network is not None and network.overlaps(other)  # type: ignore[arg-type]


def for_kind(
    values: Mapping[str, Any],
    kind: KindShape,
    local_overlay: Mapping[str, Any] | None = None,
    local_why: Callable[[str], str] = lambda _: "the local-images path",
) -> tuple[dict[str, Any], list[Override]]:
    """The values with what kind needs changed, and every change made. With `local_overlay`
    (the local-images path, no registry access): also what this machine cannot run, then the
    overlay's keys, each that changes the user's value recorded with `local_why(key)`."""
    changed = copy.deepcopy(dict(values))
    made: list[Override] = []

    def change(key: str, ours: Any, why: str, claim: Claim | None = None) -> None:
        theirs = get(changed, key)
        if theirs != ours:
            said = claim or Claim("", "")
            made.append(Override(key, theirs, ours, why, said.text, said.suite))
            put(changed, key, ours)

    local = local_overlay is not None
    for rule in RULES + (LOCAL_RULES if local else ()):
        for key, ours, why, claim in list(rule(changed, kind)):
            change(key, ours, why, claim)
    for key, ours in _leaves(local_overlay or {}):
        change(key, ours, local_why(key))
    return changed, made
