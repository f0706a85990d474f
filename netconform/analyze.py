"""`netconform analyze`: the policy analyzer's matrix for the spec, held against the spec's
intent in the suites' own grids, with no cluster and no Docker.

The peers are the spec's workloads exactly as the suites deploy them (the
rendered Deployments' pod labels, the rendered Namespaces' labels), its
services' pods, and its externals at the addresses the policies see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from netconform import policies, workloads
from netconform.checks.policy_analyzer import (
    PREDICTED_ALLOWED,
    PREDICTED_DENIED,
    Entry,
    Peer,
    Prediction,
    entity_peer,
    entries_of,
    findings,
    holding,
    outside_peer,
    pod_peer,
    predict_held,
)
from netconform.checks.reachability import check_matrix
from netconform.manifest import Manifest, documents
from netconform.matrix import (
    ALLOWED,
    CONNECTED,
    DENIED,
    DROPPED,
    Cell,
    Endpoint,
    ExpectedMatrix,
    Observation,
    cells_of_flow,
    expected_matrix,
    outside_sources,
    workload_endpoints,
)
from netconform.sources import POLICY_KINDS, UserConfig
from netconform.spec import Architecture
from netconform.verdict import Verdict
from netconform.workloads import RunNamespaces

NAMESPACE_NAME = "kubernetes.io/metadata.name"
AS_OBSERVED = {PREDICTED_ALLOWED: CONNECTED, PREDICTED_DENIED: DROPPED}


def _named_ports(pod_spec: Manifest) -> frozenset[tuple[str, str, int]]:
    """What a named-port rule resolves to on these pods: every container's named ports."""
    return frozenset(
        (port["name"], port.get("protocol", "TCP"), port["containerPort"])
        for container in pod_spec["containers"]
        for port in container.get("ports") or []
        if port.get("name")
    )


def peers(
    arch: Architecture, layout: RunNamespaces, externals: Mapping[str, str] | None = None
) -> dict[Endpoint, Peer]:
    """Every endpoint of the matrix as Cilium's policies see it."""
    rendered = workloads.render(arch, layout, "analyzer")
    namespaces = {
        m["metadata"]["name"]: {**m["metadata"]["labels"], NAMESPACE_NAME: m["metadata"]["name"]}
        for m in rendered
        if m["kind"] == "Namespace"
    }
    templates = {
        (m["metadata"]["namespace"], m["metadata"]["name"]): m["spec"]["template"]
        for m in rendered
        if m["kind"] == "Deployment"
    }
    found: dict[Endpoint, Peer] = {}
    for endpoint in workload_endpoints(arch):
        namespace = layout.namespace(str(endpoint.environment))
        template = templates[(namespace, endpoint.group)]
        found[endpoint] = pod_peer(
            endpoint.name,
            template["metadata"]["labels"],
            namespace,
            namespaces[namespace],
            named_ports=_named_ports(template["spec"]),
        )
    for name, service in arch.services.items():
        own = {NAMESPACE_NAME: service.namespace}
        found[Endpoint(name, "service", name)] = pod_peer(
            name, service.labels, service.namespace, own
        )
    outside = {**arch.externals, **arch.clients}
    for endpoint in [*(Endpoint(n, "external", n) for n in arch.externals), *outside_sources(arch)]:
        if endpoint.kind == "entity":
            found[endpoint] = entity_peer(endpoint.name)
            continue
        network = outside[endpoint.name].cidr
        given = (externals or {}).get(endpoint.name)
        address = given or str(next(iter(network.hosts()), network[0]))
        found[endpoint] = outside_peer(endpoint.name, address)
    return found


def policy_manifests(
    arch: Architecture, layout: RunNamespaces, user: UserConfig | None = None
) -> list[Manifest]:
    """What the suites apply: the user's policies (the spec's sources, else its policy.paths),
    else the reference policies."""
    if user and user.of_kinds(POLICY_KINDS):
        return user.manifests(POLICY_KINDS)
    if arch.policy.paths:
        return [doc for path in arch.policy.paths for doc in documents(Path(path).read_text())]
    return policies.render(arch, layout)


def predictions(
    arch: Architecture,
    manifests: Sequence[Manifest],
    layout: RunNamespaces,
    externals: Mapping[str, str] | None = None,
) -> dict[Cell, Prediction]:
    """The analyzer's verdict for every cell of the spec's matrix. Each endpoint's rules are
    found once, not once per cell: a file of thousands of policies stays quick."""
    entries = entries_of(manifests)
    known = peers(arch, layout, externals)
    held = {
        (endpoint, ingress): holding(entries, peer, ingress)
        for endpoint, peer in known.items()
        for ingress in (False, True)
    }
    return {
        cell: predict_held(
            held[(cell.source, False)],
            held[(cell.destination, True)],
            known[cell.source],
            known[cell.destination],
            cell.port,
        )
        for cell in expected_matrix(arch).cells
    }


def predicted_matrix(predicted: Mapping[Cell, Prediction]) -> ExpectedMatrix:
    """The decided cells as expectations, to hold against what the probes observe."""
    expect = {PREDICTED_ALLOWED: ALLOWED, PREDICTED_DENIED: DENIED}
    return ExpectedMatrix(
        {c: expect[p.verdict] for c, p in predicted.items() if p.verdict in expect}
    )


def analyze(arch: Architecture, predicted: Mapping[Cell, Prediction]) -> Verdict:
    """The prediction against the spec's intent, as the suites' expected/observed/diff grids."""
    observed = {
        cell: Observation(AS_OBSERVED.get(p.verdict, p.verdict), p.why)
        for cell, p in predicted.items()
    }
    matrix = expected_matrix(arch)
    verdict = check_matrix(matrix, [observed], 1, 0.0, lambda cell: ())
    undecided = sum(1 for p in predicted.values() if p.verdict not in AS_OBSERVED)
    if verdict.ok:
        return Verdict(
            True, f"analyzer: the policies give the spec's matrix ({len(predicted)} cells)"
        )
    wrong = f"{len(verdict.wrong)} of {len(matrix.cells)} cells wrong"
    return Verdict(
        False, f"analyzer: {wrong}, {undecided} undecided", verdict.evidence, verdict.wrong
    )


def unauthenticated(arch: Architecture, predicted: Mapping[Cell, Prediction]) -> list[str]:
    """Cells of a flow the spec requires mutually authenticated that the policies allow
    without it: a policy that dropped its `authentication` still passes every probe."""
    return [
        f"{cell}: flow {name} requires mutual authentication, but {predicted[cell].why}"
        for name in arch.mutual_auth.required_for
        for cell in cells_of_flow(arch, name)
        if predicted[cell].verdict == PREDICTED_ALLOWED and not predicted[cell].authentication
    ]


def selecting(
    manifests: Sequence[Manifest], known: Mapping[Endpoint, Peer], cell: Cell
) -> dict[str, list[str]]:
    """The policies whose rules hold a cell's ends: the source's egress, the destination's
    ingress (each by kind, namespace and name), so a wrong cell points at what to read."""
    entries = entries_of(manifests)
    ends = {"egress": (known[cell.source], False), "ingress": (known[cell.destination], True)}
    return {
        direction: sorted(
            {e.policy for e in entries if e.ingress == ingress and e.subject.matches(peer)}
        )
        for direction, (peer, ingress) in ends.items()
    }


def rule_findings(
    arch: Architecture, manifests: Sequence[Manifest], layout: RunNamespaces
) -> list[str]:
    """Dead rules, denies shadowing allows, and CIDR rules over the pods' own range, over the
    spec's endpoints and cells."""
    known = peers(arch, layout)
    cells = [(known[c.source], known[c.destination], c.port) for c in expected_matrix(arch).cells]
    entries = entries_of(manifests)
    return [*findings(entries, list(known.values()), cells), *cidrs_over_pods(entries, arch)]


def cidrs_over_pods(entries: Sequence[Entry], arch: Architecture) -> list[str]:
    """Cilium never matches a CIDR rule to a cluster endpoint (its CIDR rules' documentation,
    cilium/cilium#9209): a Kubernetes ipBlock that reaches pods by address reaches none, which
    a user porting Kubernetes policies learns here rather than from a dropped flow."""
    pods = arch.cluster.pod_cidr
    return [
        f"{e}: ipBlock {cidr.network} covers the pod CIDR {pods}: Cilium ignores it for pods, "
        "Kubernetes would not (select them by label instead)"
        for e in entries
        if e.peers is not None and e.policy.startswith("NetworkPolicy ")
        for cidr in e.peers.cidrs
        if cidr.network.version == pods.version and cidr.network.overlaps(pods)
    ]
