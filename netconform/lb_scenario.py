"""LB IPAM scenarios: pools and LoadBalancer Services of one test, judged by the LB IPAM checker.

The same scenario runs against the real operator on the control plane and on a
real cluster. Each scenario's own pools select only its own Services (a
per-scenario label), so scenarios cannot take each other's addresses; a
Service may instead carry a spec pool's labels to be addressed from that pool.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from netconform import workloads
from netconform.checks.lbipam import LbExpectation, check_lb_ipam
from netconform.convergence import Convergence, converge
from netconform.kube import Kube
from netconform.manifest import MANAGED_BY, Manifest
from netconform.spec import PortSpec
from netconform.verdict import Verdict

POOL = ("cilium.io/v2", "CiliumLoadBalancerIPPool")
SCENARIO_LABEL = "netconform.io/test"
SETTLE = Convergence(timeout=30, consistent_rounds=2, interval=0.5)
BACKEND = "echo"
BACKEND_PORT = 8080


@dataclass
class LbScenario:
    kube: Kube
    namespace: str = ""
    test_id: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:6]}")
    pools: list[str] = field(default_factory=list)
    # Pod labels the Services select (an echo backend), if any.
    backend: Mapping[str, str] = field(default_factory=dict)
    # Labels every Service carries: what the user's BGP advertisements select.
    service_labels: Mapping[str, str] = field(default_factory=dict)
    # The addresses this scenario's own pools may take, apart from every other scenario's.
    block: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    def __post_init__(self) -> None:
        self.namespace = self.namespace or f"netconform-{self.test_id}"

    def create_namespace(self) -> None:
        namespace = {"name": self.namespace, "labels": MANAGED_BY}
        self.kube.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": namespace}])

    def deploy_backend(self, image: str, replicas: int, timeout: float) -> None:
        """Agent pods answering on BACKEND_PORT with their identity, for Services to select;
        returns once all are available."""
        selector = {workloads.GROUP_LABEL: BACKEND}
        spec = workloads.netprobe_pod_spec(image, [PortSpec(BACKEND_PORT, "TCP")], selector)
        # One per node where it can: a lost node then leaves backends on the others.
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector},
            }
        ]
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": BACKEND, "namespace": self.namespace, "labels": MANAGED_BY},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "template": {"metadata": {"labels": selector}, "spec": spec},
            },
        }
        # A user's clusterwide default deny must not hide what LB IPAM and BGP are judged on.
        admit = {
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNetworkPolicy",
            "metadata": {"name": BACKEND, "namespace": self.namespace, "labels": MANAGED_BY},
            "spec": {
                "endpointSelector": {"matchLabels": selector},
                "ingress": [
                    {
                        "fromEntities": ["all"],
                        "toPorts": [{"ports": [{"port": str(BACKEND_PORT), "protocol": "TCP"}]}],
                    }
                ],
            },
        }
        self.kube.apply(
            [workloads.netprobe_config_map(self.namespace, MANAGED_BY), deployment, admit]
        )
        self.backend = selector
        self.kube.wait_for(
            f"deployment {self.namespace}/{BACKEND} to be available",
            lambda: self.kube.get("apps/v1", "Deployment", BACKEND, self.namespace),
            lambda d: bool(d) and (d.get("status") or {}).get("availableReplicas") == replicas,
            timeout,
        )

    def backend_pods(self) -> list[str]:
        selector = ",".join(f"{k}={v}" for k, v in self.backend.items())
        return [
            p["metadata"]["name"] for p in self.kube.list("v1", "Pod", self.namespace, selector)
        ]

    def remove_backend(self, timeout: float) -> None:
        """Delete the backends and return once their pods are gone: a terminating pod still
        serves a Service that has no other backend."""
        self.kube.delete("apps/v1", "Deployment", BACKEND, self.namespace)
        self.kube.wait_for(
            f"the pods of deployment {self.namespace}/{BACKEND} to be gone",
            lambda: {"status": {"pods": self.backend_pods()}},
            lambda seen: not (seen or {})["status"]["pods"],
            timeout,
        )

    def pool(self, name: str, cidr: str, color: str = "any", disabled: bool = False) -> str:
        full = f"{self.test_id}-{name}"
        spec = {
            "blocks": [{"cidr": cidr}],
            "serviceSelector": {"matchLabels": {SCENARIO_LABEL: self.test_id, "color": color}},
            "disabled": disabled,
        }
        metadata = {"name": full, "labels": MANAGED_BY}
        self.kube.apply(
            [{"apiVersion": POOL[0], "kind": POOL[1], "metadata": metadata, "spec": spec}]
        )
        self.pools.append(full)
        return full

    def service(
        self,
        name: str,
        color: str = "any",
        port: int = 80,
        annotations: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        local: bool = False,
    ) -> str:
        """A LoadBalancer Service; `labels` (a spec pool's selector) replace the scenario's;
        `local`: externalTrafficPolicy Local."""
        chosen = (
            dict(labels) if labels is not None else {SCENARIO_LABEL: self.test_id, "color": color}
        )
        target = BACKEND_PORT if self.backend else port
        port_spec = {"name": "p", "port": port, "protocol": "TCP", "targetPort": target}
        manifest: Manifest = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {**MANAGED_BY, **self.service_labels, **chosen},
                "annotations": dict(annotations or {}),
            },
            "spec": {"type": "LoadBalancer", "ports": [port_spec]},
        }
        if local:
            manifest["spec"]["externalTrafficPolicy"] = "Local"
        if self.backend:
            manifest["spec"]["selector"] = dict(self.backend)
        self.kube.apply([manifest])
        return f"{self.namespace}/{name}"

    @contextmanager
    def temporary(
        self,
        wanted: Mapping[str, Mapping[str, str]],
        annotations: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, str]]:
        """LoadBalancer Services by name, each with its labels, deleted however the test ends
        (a session's backend outlives each test): name -> Service."""
        made: dict[str, str] = {}
        try:
            for name, labels in wanted.items():
                made[name] = self.service(name, labels=labels, annotations=annotations)
            yield made
        finally:
            for service in made.values():
                self.delete_service(service)

    def delete_service(self, name: str) -> None:
        self.kube.delete("v1", "Service", name.rsplit("/", 1)[-1], self.namespace)

    def addresses(self, name: str) -> list[str]:
        service = self.kube.get("v1", "Service", name.rsplit("/", 1)[-1], self.namespace) or {}
        ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        return [i["ip"] for i in ingress if i.get("ip")]

    def verdict(self, *expectations: LbExpectation, settle: Convergence = SETTLE) -> Verdict:
        def observe() -> Verdict:
            services = self.kube.list("v1", "Service", self.namespace)
            pools = self.kube.list(*POOL)
            return check_lb_ipam(services, pools, expectations)

        return converge(observe, lambda v: v.ok, settle).history[-1]

    def cleanup(self) -> None:
        self.kube.delete_namespace(self.namespace, wait=False)
        for pool in self.pools:
            self.kube.delete(*POOL, pool)
