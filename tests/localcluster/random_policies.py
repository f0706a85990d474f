"""Random policy sets over a run's probe workloads, for holding the analyzer against Cilium:
CiliumNetworkPolicies, clusterwide ones (selecting this run's pods only) and NetworkPolicies
with selectors, namespace selectors, entities, CIDRs with `except`, deny rules, default-deny
toggles and ports with and without numbers, protocols and names. A set is drawn from its seed
alone, so a disagreement is reproduced by that seed.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Mapping

from netconform.analyze import NAMESPACE_NAME
from netconform.manifest import Manifest
from netconform.workloads import RunNamespaces

CILIUM = "cilium.io/v2"
APPS = ("frontend", "backend", "db", "monitoring")
ENVIRONMENTS = ("prod", "staging", "ops")
# The numbers the probe pods serve, one they do not, and DNS's.
NUMBERS = ("8080", "5432", "9090", "8081", "53")
# One name the spec gives db's 5432/TCP, one no container carries.
NAMES = ("postgres", "metrics")
ENTITIES = ("world", "cluster", "all", "remote-node", "host")


class _Draw:
    """The run's names and addresses, and a seeded source of choices over them."""

    def __init__(self, seed: int, layout: RunNamespaces, externals: Mapping[str, str]) -> None:
        self.rng = random.Random(seed)
        self.layout = layout
        self.externals = sorted(externals.values())

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def apps(self) -> list[str]:
        return sorted(self.rng.sample(APPS, self.rng.randint(1, 2)))

    def selector(self) -> Manifest:
        shape = self.rng.choice(("all", "labels", "In", "NotIn"))
        if shape == "all":
            return {}
        if shape == "labels":
            return {"matchLabels": {"app": self.rng.choice(APPS)}}
        return {"matchExpressions": [{"key": "app", "operator": shape, "values": self.apps()}]}

    def peer_selector(self) -> Manifest:
        """A pod selector, sometimes naming an environment's namespace too."""
        selector = self.selector()
        if self.chance(0.5):
            env = self.layout.peer_namespace(self.rng.choice(ENVIRONMENTS))
            selector = {**selector, "matchLabels": {**selector.get("matchLabels", {}), **env}}
        return selector

    def external_cidr(self) -> tuple[str, list[str]]:
        """A /24 around an external, sometimes carving that external out."""
        address = self.rng.choice(self.externals)
        around = str(ipaddress.ip_network(f"{address}/24", strict=False))
        return around, [f"{address}/32"] if self.chance(0.5) else []

    def cilium_ports(self) -> list[Manifest]:
        ports: list[Manifest] = []
        for _ in range(self.rng.randint(1, 2)):
            if self.chance(0.25):
                ports.append({"port": self.rng.choice(NAMES)})
                continue
            port: Manifest = {"port": self.rng.choice(NUMBERS)}
            if self.chance(0.2):
                port["endPort"] = int(port["port"]) + self.rng.choice((1, 100, 2000))
            protocol = self.rng.choice(("TCP", "UDP", "ANY", None))
            ports.append(port | ({"protocol": protocol} if protocol else {}))
        return [{"ports": ports}]

    def netpol_ports(self) -> list[Manifest]:
        ports: list[Manifest] = []
        for _ in range(self.rng.randint(1, 2)):
            shape = self.rng.choice(("number", "range", "protocol only", "name"))
            protocol = {"protocol": self.rng.choice(("TCP", "UDP"))} if self.chance(0.5) else {}
            if shape == "name":
                ports.append({"port": self.rng.choice(NAMES), **protocol})
            elif shape == "protocol only":
                ports.append(protocol)
            else:
                number = int(self.rng.choice(NUMBERS))
                end = {"endPort": number + 1000} if shape == "range" else {}
                ports.append({"port": number, **end, **protocol})
        return ports


def _cilium_rule(draw: _Draw, ingress: bool) -> Manifest:
    side = "from" if ingress else "to"
    shape = draw.rng.choice(("endpoints", "entities", "cidr", "ports only"))
    rule: Manifest = {}
    if shape == "endpoints":
        rule[f"{side}Endpoints"] = [draw.peer_selector()]
    elif shape == "entities":
        rule[f"{side}Entities"] = sorted(draw.rng.sample(ENTITIES, draw.rng.randint(1, 2)))
    elif shape == "cidr" and not ingress:
        cidr, carved = draw.external_cidr()
        rule["toCIDRSet"] = [{"cidr": cidr, **({"except": carved} if carved else {})}]
    else:
        rule[f"{side}Endpoints"] = [{}]
    if shape == "ports only" or draw.chance(0.6):
        rule["toPorts"] = draw.cilium_ports()
    if shape == "ports only" and draw.chance(0.5):
        del rule[f"{side}Endpoints"]
    return rule


def _cilium_spec(draw: _Draw) -> Manifest:
    spec: Manifest = {"endpointSelector": draw.selector()}
    sections = draw.rng.sample(("ingress", "egress", "ingressDeny", "egressDeny"), 2)
    for section in sections[: draw.rng.randint(1, 2)]:
        ingress = section.startswith("ingress")
        spec[section] = [_cilium_rule(draw, ingress) for _ in range(draw.rng.randint(1, 2))]
    if draw.chance(0.2):
        spec["enableDefaultDeny"] = {"ingress": draw.chance(0.5), "egress": draw.chance(0.5)}
    return spec


def _netpol_peer(draw: _Draw, ingress: bool) -> Manifest:
    shape = draw.rng.choice(("pods", "namespace", "both", "ipBlock"))
    if shape == "ipBlock" and not ingress:
        cidr, carved = draw.external_cidr()
        return {"ipBlock": {"cidr": cidr, **({"except": carved} if carved else {})}}
    namespace = {
        "matchLabels": {NAMESPACE_NAME: draw.layout.namespace(draw.rng.choice(ENVIRONMENTS))}
    }
    if shape == "namespace":
        return {"namespaceSelector": namespace}
    if shape == "both":
        return {"podSelector": draw.selector(), "namespaceSelector": namespace}
    return {"podSelector": draw.selector()}


def _netpol_spec(draw: _Draw) -> Manifest:
    types = draw.rng.choice((["Ingress"], ["Egress"], ["Ingress", "Egress"]))
    spec: Manifest = {"podSelector": draw.selector(), "policyTypes": types}
    for kind in types:
        ingress = kind == "Ingress"
        rules = []
        for _ in range(draw.rng.randint(0, 2)):
            rule: Manifest = {}
            if draw.chance(0.7):
                rule["from" if ingress else "to"] = [_netpol_peer(draw, ingress)]
            if draw.chance(0.6):
                rule["ports"] = draw.netpol_ports()
            rules.append(rule)
        spec[kind.lower()] = rules
    return spec


def policy_set(seed: int, layout: RunNamespaces, externals: Mapping[str, str]) -> list[Manifest]:
    """One to three policies, each of a kind drawn from the seed."""
    draw = _Draw(seed, layout, externals)
    made: list[Manifest] = []
    for i in range(draw.rng.randint(1, 3)):
        name = f"fuzz-{seed}-{i}"
        kind = draw.rng.choice(("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy", "NP"))
        if kind == "CiliumClusterwideNetworkPolicy":
            made.append(clusterwide(name, _cilium_spec(draw), layout))
            continue
        api, spec = (
            (CILIUM, _cilium_spec(draw)) if kind == "CiliumNetworkPolicy"
            else ("networking.k8s.io/v1", _netpol_spec(draw))
        )  # fmt: skip
        namespace = layout.namespace(draw.rng.choice(ENVIRONMENTS))
        made.append(
            {
                "apiVersion": api,
                "kind": "NetworkPolicy" if kind == "NP" else kind,
                "metadata": {"name": name, "namespace": namespace, "labels": layout.labels()},
                "spec": spec,
            }
        )
    return made


def clusterwide(name: str, spec: Manifest, layout: RunNamespaces) -> Manifest:
    """A clusterwide policy whose endpoint selector is narrowed to this run's pods, so no
    other workload is touched."""
    own = layout.default_deny_selector()
    selector = spec.get("endpointSelector") or {}
    narrowed = {
        "matchLabels": {**selector.get("matchLabels", {}), **own.get("matchLabels", {})},
        "matchExpressions": [
            *selector.get("matchExpressions", []),
            *own.get("matchExpressions", []),
        ],
    }
    return {
        "apiVersion": CILIUM,
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": f"nc-{layout.run}-{name}", "labels": layout.labels()},
        "spec": {**spec, "endpointSelector": {k: v for k, v in narrowed.items() if v}},
    }
