"""Reference Cilium policies rendered from the spec's flows.

Default deny is one clusterwide policy selecting only this run's pods (or, where
cluster-scoped changes are not allowed, one per namespace); every
workload then gets one CiliumNetworkPolicy holding all of its allowed ingress
and egress. Cilium scopes a CNP's endpoint selectors to the policy's own
namespace unless a selector names a namespace, so every peer is selected by
its environment's namespace: by name where the workloads live in the declared
namespaces (the reference policies are then ones a user can adopt as written),
else by the label a run puts on its namespaces, so no run-specific name appears
in a rule.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping

from netconform.manifest import Manifest
from netconform.matrix import Endpoint, workload_endpoints
from netconform.spec import ENTITIES, WILDCARD, Architecture, Flow, HttpRule, PortSpec
from netconform.workloads import POD_NAMESPACE, RunNamespaces

CILIUM = "cilium.io/v2"


def _to_ports(ports: list[PortSpec], http: list[HttpRule] | None = None) -> list[Manifest]:
    """The ports; with `http`, Cilium's L7 rules on them (its proxy answers 403 otherwise)."""
    rule: Manifest = {"ports": [{"port": str(p.port), "protocol": p.protocol} for p in ports]}
    if http:
        rule["rules"] = {
            "http": [
                {
                    **({} if r.method == "*" else {"method": r.method}),
                    # Cilium's path is a regex (RE2): the spec's prefix matches as written.
                    "path": f"{re.escape(r.path)}.*",
                }
                for r in http
            ]
        }
    return [rule]


def _group_selector(
    arch: Architecture, layout: RunNamespaces, group: str, environment: str
) -> Manifest:
    return {"matchLabels": {**arch.groups[group].labels, **layout.peer_namespace(environment)}}


def _groups(arch: Architecture, name: str) -> list[str]:
    return list(arch.groups) if name == WILDCARD else [name] if name in arch.groups else []


def _peer_environments(arch: Architecture, flow: Flow, group: str, home: str) -> list[str]:
    deployed = arch.groups[group].environments
    return [e for e in deployed if flow.across_environments or e == home]


def _ingress(
    arch: Architecture,
    layout: RunNamespaces,
    me: Endpoint,
    authentication: str,
    l7: bool,
    probed: Mapping[str, str],
) -> Iterator[Manifest]:
    assert me.environment is not None
    for flow in arch.policy.flows:
        if me.group not in _groups(arch, flow.to):
            continue
        outside = _outside_peer(arch, flow, probed)
        if outside is not None:
            if flow.environments is None or me.environment in flow.environments:
                yield {**outside, "toPorts": _to_ports(flow.ports)}
            continue
        peers = [
            _group_selector(arch, layout, source, env)
            for source in _groups(arch, flow.from_)
            for env in _peer_environments(arch, flow, source, me.environment)
            if flow.environments is None or env in flow.environments
        ]
        if peers:
            to_ports = _to_ports(flow.ports, flow.http if l7 else None)
            rule: Manifest = {"fromEndpoints": peers, "toPorts": to_ports}
            if flow.name in arch.mutual_auth.required_for:
                rule["authentication"] = {"mode": authentication}
            yield rule


def _outside_peer(arch: Architecture, flow: Flow, probed: Mapping[str, str]) -> Manifest | None:
    """A flow's source outside the app groups as a rule's peer: a client by its CIDR (or the
    address its container really has), an entity (the Gateway's Envoy, another node) by
    Cilium's name for it."""
    if flow.from_ in arch.clients:
        cidr = str(arch.clients[flow.from_].cidr)
        return {"fromCIDR": [str(ipaddress.ip_network(probed.get(flow.from_, cidr)))]}
    if flow.from_ in ENTITIES:
        return {"fromEntities": [flow.from_]}
    return None


def _egress(
    arch: Architecture, layout: RunNamespaces, me: Endpoint, externals: Mapping[str, str]
) -> Iterator[Manifest]:
    assert me.environment is not None
    for flow in arch.policy.flows:
        if me.group not in _groups(arch, flow.from_):
            continue
        if flow.environments is not None and me.environment not in flow.environments:
            continue
        if flow.to in arch.services:
            service = arch.services[flow.to]
            yield {
                "toEndpoints": [
                    {"matchLabels": {POD_NAMESPACE: service.namespace, **service.labels}}
                ],
                "toPorts": _to_ports(flow.ports),
            }
        elif flow.to in arch.externals:
            # A probed address (an outside container) becomes a /32 or /128.
            target = ipaddress.ip_network(externals.get(flow.to, str(arch.externals[flow.to].cidr)))
            yield {"toCIDR": [str(target)], "toPorts": _to_ports(flow.ports)}
        else:
            peers = [
                _group_selector(arch, layout, destination, env)
                for destination in _groups(arch, flow.to)
                for env in _peer_environments(arch, flow, destination, me.environment)
                if (destination, env) != (me.group, me.environment)
            ]
            if peers:
                yield {"toEndpoints": peers, "toPorts": _to_ports(flow.ports)}


def _default_deny(arch: Architecture, layout: RunNamespaces, clusterwide: bool) -> list[Manifest]:
    # An empty rule selects nothing: the selected endpoints are in default deny both ways.
    deny_all = {"ingress": [{}], "egress": [{}]}
    labels = layout.labels()
    if clusterwide:
        return [
            {
                "apiVersion": CILIUM,
                "kind": "CiliumClusterwideNetworkPolicy",
                "metadata": {"name": f"netconform-{layout.run}-default-deny", "labels": labels},
                "spec": {"endpointSelector": layout.default_deny_selector(), **deny_all},
            }
        ]
    return [
        {
            "apiVersion": CILIUM,
            "kind": "CiliumNetworkPolicy",
            "metadata": {
                "name": "default-deny",
                "namespace": layout.namespace(env),
                "labels": labels,
            },
            "spec": {"endpointSelector": {}, **deny_all},
        }
        for env in arch.environments
    ]


def render(
    arch: Architecture,
    layout: RunNamespaces,
    externals: Mapping[str, str] | None = None,
    clusterwide: bool = True,
    authentication: str = "required",
    l7: bool = False,
) -> list[Manifest]:
    """The reference policies. `externals` maps an external's or a client's name to the
    address really probed (an outside container on kind), defaulting to the spec's CIDR.
    Without `clusterwide` the default deny is one namespaced policy per environment: no
    cluster-scoped change. The ingress of a flow in `mutual_auth.required_for` requires mutual
    authentication in the `authentication` mode (Cilium's test-always-fail shows that an
    unauthenticated peer drops). With `l7`, the flows' HTTP rules go on their destinations'
    ingress (Cilium's proxy enforces them); without, the policies need no proxy, as every suite
    but the L7 one wants."""
    labels = layout.labels()
    rendered = _default_deny(arch, layout, clusterwide) if arch.policy.default == "deny" else []
    for me in workload_endpoints(arch):
        assert me.environment is not None
        ingress = list(_ingress(arch, layout, me, authentication, l7, externals or {}))
        egress = list(_egress(arch, layout, me, externals or {}))
        spec: Manifest = {"endpointSelector": {"matchLabels": dict(arch.groups[me.group].labels)}}
        if ingress:
            spec["ingress"] = ingress
        if egress:
            spec["egress"] = egress
        if len(spec) > 1:
            rendered.append(
                {
                    "apiVersion": CILIUM,
                    "kind": "CiliumNetworkPolicy",
                    "metadata": {
                        "name": f"allow-{me.group}",
                        "namespace": layout.namespace(me.environment),
                        "labels": labels,
                    },
                    "spec": spec,
                }
            )
    return rendered
