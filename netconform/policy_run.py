"""One run of the policy suites on one cluster: workloads in, policies on and off, all out.

Everything a run creates carries the run label and lives in namespaces
`netconform-<run>-<env>`; a cluster-scoped object (the clusterwide default
deny) is only created where cluster changes are allowed (a kind cluster the
suite made, or --allow-cluster-changes).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from netconform import analyze, external_targets, lan, policies, spire, workloads
from netconform import clients as clients_
from netconform.cluster import kind_node_names
from netconform.kube import Kube, KubeError, recent_events
from netconform.manifest import MANAGED_BY_SELECTOR, Manifest, documents
from netconform.matrix import (
    CROSS_NODE,
    SAME_NODE,
    Cell,
    Endpoint,
    outside_sources,
    workload_endpoints,
)
from netconform.podexec import PodExec
from netconform.probe_client import ProbeSession, ProbeSite
from netconform.probing import MatrixProber
from netconform.sources import POLICY_KINDS, UserConfig
from netconform.spec import Architecture
from netconform.timeouts import Timeouts
from netconform.versions import load_versions, router_image
from netconform.workloads import RUN_LABEL, RunNamespaces

log = logging.getLogger(__name__)
CILIUM = "cilium.io/v2"
CLUSTER_SCOPED_POLICY = (CILIUM, "CiliumClusterwideNetworkPolicy")
REMOTE_NODE = Endpoint("remote-node", "entity", "remote-node")
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


@dataclass
class ProbeTargets:
    """Where each source probes from, and the address of each destination it probes."""

    sites: dict[Endpoint, ProbeSite] = field(default_factory=dict)
    addresses: dict[Endpoint, str] = field(default_factory=dict)
    placed: dict[tuple[Endpoint, Endpoint, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """The cluster under test and what the suite may do to it."""

    kube: Kube
    context: str | None
    allow_cluster_changes: bool


@dataclass
class PolicyRun:
    target: Target
    arch: Architecture
    layout: RunNamespaces
    image: str
    externals: Mapping[str, str] = field(default_factory=dict)
    applied_policies: list[Manifest] = field(default_factory=list)
    # The user's own files (the spec's sources): their policies are the ones under test.
    user: UserConfig | None = None
    # Containers of the clients outside the cluster that flows come from, by client name.
    clients: dict[str, clients_.Client] = field(default_factory=dict)
    # The policies this run deleted, by kind, name and namespace: one given again is re-created.
    deleted: set[tuple[str, str, str | None]] = field(default_factory=set)
    # netprobe kept running in each probing pod for the whole run, by namespace and pod.
    sessions: dict[tuple[str, str], ProbeSession] = field(default_factory=dict)

    @property
    def kube(self) -> Kube:
        return self.target.kube

    @property
    def probed_addresses(self) -> dict[str, str]:
        """Where each external and client outside the cluster really is."""
        return {**self.externals, **{name: c.address for name, c in self.clients.items()}}

    def deploy(self) -> list[Manifest]:
        """The workloads, and where another node is a source, a host-network probe pod on a
        node that runs none of them (a control-plane node)."""
        made = workloads.render(self.arch, self.layout, self.image)
        if REMOTE_NODE in outside_sources(self.arch):
            made += workloads.capture_pods(
                self.layout, [self._node_without_workloads()], self.image, workloads.NODES
            )
        return self.kube.apply(made)

    def start_clients(self, tool_image: str, beside: lan.Lan | None) -> dict[str, clients_.Client]:
        """The containers of the clients that flows come from, beside kind, but those this run
        has already; returns those it started."""
        started = clients_.start(
            self.arch, self.layout.run, self.image, tool_image, self.kube, beside, set(self.clients)
        )
        self.clients.update(started)
        return started

    def _node_without_workloads(self) -> str:
        nodes = self.kube.list("v1", "Node", label_selector=CONTROL_PLANE)
        if not nodes:
            raise RuntimeError(
                "a flow comes from remote-node, but no node is labelled "
                f"{CONTROL_PLANE}: there is no node the probe workloads are sure to avoid"
            )
        return str(nodes[0]["metadata"]["name"])

    def wait_ready(self, timeout: float) -> None:
        if REMOTE_NODE in outside_sources(self.arch):
            namespace = self.layout.namespace(workloads.NODES)
            self.kube.wait_for(
                "the host-network probe pod to run",
                lambda: self.kube.list("v1", "Pod", namespace),
                lambda pods: (
                    bool(pods)
                    and all((p.get("status") or {}).get("phase") == "Running" for p in pods)
                ),
                timeout,
            )
        self._wait_workloads(timeout)

    def _wait_workloads(self, timeout: float) -> None:
        for endpoint in workload_endpoints(self.arch):
            namespace = self.layout.namespace(str(endpoint.environment))
            log.info("waiting for %s/%s to be available", namespace, endpoint.group)
            self.kube.wait_for(
                f"deployment {namespace}/{endpoint.group} to be available",
                lambda ns=namespace, name=endpoint.group: self.kube.get(
                    "apps/v1", "Deployment", name, ns
                ),
                lambda d: (
                    bool(d)
                    and (d.get("status") or {}).get("availableReplicas") == d["spec"]["replicas"]
                ),
                timeout,
            )

    def policy_manifests(self, authentication: str = "required") -> list[Manifest]:
        """The user's own policies (from the spec's sources, or its policy.paths) when the spec
        names them, else the reference ones; every rule that requires mutual authentication
        requires it in `authentication` (Cilium's test-always-fail shows what an
        unauthenticated peer meets)."""
        if self.user and self.user.of_kinds(POLICY_KINDS):
            found = self.user.manifests(POLICY_KINDS)
        elif self.arch.policy.paths:
            paths = self.arch.policy.paths
            found = [doc for path in paths for doc in documents(Path(path).read_text())]
        else:
            return self.reference_policies(authentication=authentication)
        return found if authentication == "required" else _authenticating(found, authentication)

    def reference_policies(
        self, arch: Architecture | None = None, authentication: str = "required", l7: bool = False
    ) -> list[Manifest]:
        """The reference policies for this run's namespaces and outside containers, rendered
        from `arch` (a variant of the spec) where given; with `l7`, the flows' HTTP rules."""
        return policies.render(
            arch or self.arch,
            self.layout,
            self.probed_addresses,
            clusterwide=self.target.allow_cluster_changes,
            authentication=authentication,
            l7=l7,
        )

    def apply_policies(self, manifests: list[Manifest] | None = None) -> None:
        """The policies under test, or the given ones (a deliberately broken set), in place of
        those applied: a policy applied again unchanged keeps what Cilium built on it (the
        authenticated peers of its rules), one no longer given is deleted, and one this run
        deleted before is re-created over a placeholder (_placeholder says why)."""
        manifests = self.policy_manifests() if manifests is None else manifests
        scoped = [m for m in manifests if m["kind"] == CLUSTER_SCOPED_POLICY[1]]
        if scoped and not self.target.allow_cluster_changes:
            names = ", ".join(m["metadata"]["name"] for m in scoped)
            raise PermissionError(f"cluster-scoped policies ({names}) need --allow-cluster-changes")
        before = self.applied_policies
        recreated = [m for m in manifests if _object_key(m) in self.deleted]
        self.kube.apply([_placeholder(m) for m in recreated if m["apiVersion"] == CILIUM])
        self.deleted -= {_object_key(m) for m in recreated}
        self.applied_policies = self.kube.apply(manifests)
        kept = {_object_key(policy) for policy in self.applied_policies}
        self._delete([policy for policy in before if _object_key(policy) not in kept])

    def wait_mutual_auth(self, timeouts: Timeouts) -> None:
        """Where the spec requires mutual authentication: until SPIRE holds an entry for every
        identity of this run's workloads and every Cilium agent its delegate stream (raises
        spire.MutualAuthNotReady naming what is missing)."""
        if not self.arch.mutual_auth.required_for:
            return
        server = spire.Spire(self.kube, self.target.context)
        namespaces = [self.layout.namespace(env) for env in self.arch.environments]
        spire.wait_ready(server, timeouts, lambda: server.identities(namespaces), log.info)

    def unauthenticated(self) -> list[str]:
        """The cells of flows the spec requires mutually authenticated that the applied
        policies allow without it (analyze.unauthenticated)."""
        predicted = analyze.predictions(self.arch, self.applied_policies, self.layout)
        return analyze.unauthenticated(self.arch, predicted)

    def policies_of(self, cell: Cell) -> list[str]:
        """Which applied policies hold the cell's ends, with the file each came from."""
        known = analyze.peers(self.arch, self.layout, self.probed_addresses)
        found = analyze.selecting(self.applied_policies, known, cell)
        lines = []
        for direction, names in found.items():
            end = cell.source if direction == "egress" else cell.destination
            named = ", ".join(self._with_origin(name) for name in names) or "none (default allow)"
            lines.append(f"policies: {direction} of {end.name}: {named}")
        return lines

    def _with_origin(self, policy: str) -> str:
        kind, _, where = policy.partition(" ")
        namespace, _, name = where.rpartition("/")
        origin = self.user.origin_of(kind, name, namespace or None) if self.user else ""
        return f"{policy} ({origin})" if origin else policy

    def remove_policies(self) -> None:
        self._delete(self.applied_policies)
        self.applied_policies = []

    def _delete(self, policies: list[Manifest]) -> None:
        for policy in policies:
            meta = policy["metadata"]
            self.kube.delete(
                policy["apiVersion"], policy["kind"], meta["name"], meta.get("namespace")
            )
            self.deleted.add(_object_key(policy))

    def probe_targets(self) -> ProbeTargets:
        """One running pod per workload probes; each other workload is probed on a pod on the
        prober's node and on one on another node, where it has them. Services and externals
        by address."""
        pods = self.running_pods()
        targets = ProbeTargets()
        for endpoint, running in pods.items():
            namespace = self.layout.namespace(str(endpoint.environment))
            prober = running[0]
            targets.sites[endpoint] = self._session(namespace, prober["metadata"]["name"])
            targets.addresses[endpoint] = prober["status"]["podIP"]
            node = prober["spec"].get("nodeName")
            for destination, candidates in pods.items():
                if destination == endpoint:
                    continue
                for placement, match in ((SAME_NODE, True), (CROSS_NODE, False)):
                    pod = next(
                        (p for p in candidates if (p["spec"].get("nodeName") == node) is match),
                        None,
                    )
                    if pod is not None:
                        key = (endpoint, destination, placement)
                        targets.placed[key] = pod["status"]["podIP"]
        for name, service in self.arch.services.items():
            found = self.kube.list(
                "v1",
                "Service",
                service.namespace,
                ",".join(f"{k}={v}" for k, v in service.labels.items()),
            )
            if found:
                targets.addresses[Endpoint(name, "service", name)] = found[0]["spec"]["clusterIP"]
        for name, address in self.externals.items():
            targets.addresses[Endpoint(name, "external", name)] = address
        for name, client in self.clients.items():
            targets.sites[Endpoint(name, "client", name)] = client.site
        if REMOTE_NODE in outside_sources(self.arch):
            self._remote_node_site(targets, pods)
        return targets

    def _remote_node_site(
        self, targets: ProbeTargets, pods: dict[Endpoint, list[Manifest]]
    ) -> None:
        """Probes from the host-network pod, each to a pod on another node."""
        namespace = self.layout.namespace(workloads.NODES)
        [pod] = self.kube.list("v1", "Pod", namespace)
        node = pod["spec"]["nodeName"]
        targets.sites[REMOTE_NODE] = self._session(namespace, pod["metadata"]["name"])
        for destination, running in pods.items():
            elsewhere = [p for p in running if p["spec"].get("nodeName") != node]
            if elsewhere:
                targets.placed[(REMOTE_NODE, destination, "")] = elsewhere[0]["status"]["podIP"]

    def _session(self, namespace: str, pod: str) -> ProbeSession:
        """The pod's netprobe session, started on its first batch and kept until cleanup."""
        key = (namespace, pod)
        if key not in self.sessions:
            exec_ = PodExec(self.kube.core(), namespace, pod, context=self.target.context)
            self.sessions[key] = ProbeSession(exec_)
        return self.sessions[key]

    def prober(self, timeout: float, exec_slack: float) -> MatrixProber:
        """Probes from this run's pods; 53/UDP asks a real question (DNS ignores an echo)."""
        targets = self.probe_targets()
        dns_query = f"kubernetes.default.svc.{self.arch.dns.cluster_domain}"
        return MatrixProber(
            targets.sites, targets.addresses, timeout, dns_query, targets.placed, exec_slack
        )

    def service_addresses(self) -> dict[Endpoint, str]:
        """Each workload's Service (its group's name in its namespace) by its virtual address."""
        found = {}
        for endpoint in workload_endpoints(self.arch):
            namespace = self.layout.namespace(str(endpoint.environment))
            service = self.kube.get("v1", "Service", endpoint.group, namespace)
            address = ((service or {}).get("spec") or {}).get("clusterIP")
            if not address or address == "None":
                raise RuntimeError(f"no Service address for {endpoint.name} in {namespace}")
            found[endpoint] = str(address)
        return found

    def running_pods(self) -> dict[Endpoint, list[Manifest]]:
        found: dict[Endpoint, list[Manifest]] = {}
        for endpoint in workload_endpoints(self.arch):
            namespace = self.layout.namespace(str(endpoint.environment))
            assert endpoint.environment is not None
            selector = self.layout.pod_selector(self.arch, endpoint.group, endpoint.environment)
            pods = self.kube.list(
                "v1", "Pod", namespace, ",".join(f"{k}={v}" for k, v in selector.items())
            )
            running = sorted(
                (p for p in pods if (p.get("status") or {}).get("phase") == "Running"),
                key=lambda p: p["metadata"]["name"],
            )
            if not running:
                raise RuntimeError(f"no running pod for {endpoint.name} in {namespace}")
            found[endpoint] = running
        return found

    def events(self) -> list[str]:
        return [
            f"{self.layout.namespace(env)}: {line}"
            for env in self.arch.environments
            for line in recent_events(self.kube, self.layout.namespace(env))
        ]

    def cleanup(self) -> list[str]:
        """Remove everything of this run: its namespaces and anything cluster-scoped it made."""
        # The user's own policies carry none of the run's labels: remove them by name.
        removed = [f"{p['kind']} {p['metadata']['name']}" for p in self.applied_policies]
        for session in self.sessions.values():
            session.close()
        self.remove_policies()
        selector = f"{RUN_LABEL}={self.layout.run}"
        removed += self.kube.delete_by_label([CLUSTER_SCOPED_POLICY], selector)
        clients_.stop(self.clients.values())
        for env in [*self.arch.environments, workloads.NODES]:
            namespace = self.layout.namespace(env)
            if self.kube.get("v1", "Namespace", namespace) is not None:
                # The declared namespaces are made again by the next run: wait them out.
                self.kube.delete_namespace(namespace, wait=env in self.layout.declared)
                removed.append(f"Namespace {namespace}")
        log.info("removed %s", ", ".join(removed) or "nothing")
        return removed


def _object_key(manifest: Manifest) -> tuple[str, str, str | None]:
    meta = manifest["metadata"]
    return manifest["kind"], meta["name"], meta.get("namespace")


def _placeholder(policy: Manifest) -> Manifest:
    """A Cilium policy under `policy`'s name that selects nothing, created before `policy` is
    applied over it. A Cilium agent reads a policy's create and an earlier delete of its name
    as one change when they reach it together, and v1.20 takes a policy of the generation it
    holds for a status update: a re-created policy of new rules would then go unseen, while
    the second apply gives those rules generation 2."""
    meta = {k: v for k, v in policy["metadata"].items() if k in ("name", "namespace")}
    selector = {"matchLabels": {"netconform.io/placeholder": "true"}}
    kept = {k: v for k, v in policy.items() if k in ("apiVersion", "kind")}
    return {**kept, "metadata": meta, "spec": {"endpointSelector": selector, "ingress": [{}]}}


def _authenticating(manifests: list[Manifest], mode: str) -> list[Manifest]:
    for manifest in manifests:
        for spec in [manifest.get("spec") or {}, *(manifest.get("specs") or [])]:
            for rule in [*(spec.get("ingress") or []), *(spec.get("egress") or [])]:
                if (rule.get("authentication") or {}).get("mode") == "required":
                    rule["authentication"] = {"mode": mode}
    return manifests


# Cluster-scoped kinds a run may create: policies, and the BGP and LB IPAM suites' objects.
LEFTOVER_KINDS = (
    CLUSTER_SCOPED_POLICY,
    *((CILIUM, kind) for kind in ("CiliumLoadBalancerIPPool", "CiliumBGPClusterConfig",
                                  "CiliumBGPPeerConfig", "CiliumBGPAdvertisement")),
    ("v1", "Namespace"),
)  # fmt: skip


def remove_leftovers(kube: Kube) -> list[str]:
    """Everything any run left behind (an interrupted run): found by the managed-by label only.
    A kind the cluster does not serve (Cilium without BGP) has nothing to remove."""
    removed = []
    for kind in LEFTOVER_KINDS:
        try:
            removed += kube.delete_by_label([kind], MANAGED_BY_SELECTOR)
        except KubeError:
            continue
    return removed


@contextlib.contextmanager
def on_kind(kube: Kube, arch: Architecture, image: str, timeout: float) -> Iterator[PolicyRun]:
    """A run of its own on a kind cluster the suite made (cluster changes allowed): the
    outside containers beside it, the workloads ready; all removed after, however it ends."""
    layout = RunNamespaces.declared_by(arch, secrets.token_hex(3))
    externals: dict[str, str] = {}
    run = PolicyRun(Target(kube, None, True), arch, layout, image, externals)
    beside = lan.plan(arch, kind_node_names(arch)) if arch.cluster.node_network else None
    try:
        externals.update(external_targets.start(arch, layout.run, image, lan=beside))
        run.start_clients(router_image(load_versions()), beside)
        run.deploy()
        run.wait_ready(timeout)
        yield run
    finally:
        external_targets.stop(layout.run, externals)
        run.cleanup()
