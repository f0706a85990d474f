"""The spec's Gateway against Cilium's real Gateway controller (the operator), without a data
path: the Gateway and its routes are Accepted and Programmed, the generated Envoy
configuration routes every declared host, path and port to its backend (the translation
checker), a route to a Service that does not exist says ResolvedRefs=False, and the
cert-manager Issuer and Certificates pass a server-side dry run against cert-manager's CRDs.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from netconform import gateway, sources, workloads
from netconform.checks.gateway_translation import DeclaredRoute, check_translation
from netconform.convergence import Convergence, converge
from netconform.kube import Kube
from netconform.manifest import Manifest, documents
from netconform.sources import CERT_MANAGER_KINDS
from netconform.spec import Architecture, load
from netconform.verdict import Verdict
from netconform.workloads import RunNamespaces
from tests.certs import sign, write_ca
from tests.controlplane.conftest import CRDS

ROOT = Path(__file__).resolve().parents[2]
SPEC = load(ROOT / "architecture.yaml")
CERT_MANAGER = {"Issuer", "Certificate"}
CONTROLLER = "io.cilium/gateway-controller"
POOL = ("cilium.io/v2", "CiliumLoadBalancerIPPool")
# The operator reconciles in seconds; its first Gateway waits for its caches.
SETTLE = 90


def conditions(obj: Manifest | None, where: str = "status") -> dict[str, str]:
    status = (obj or {}).get(where) or {}
    return {c["type"]: c["status"] for c in status.get("conditions") or []}


def route_conditions(route: Manifest | None) -> dict[str, str]:
    parents = ((route or {}).get("status") or {}).get("parents") or []
    return {c["type"]: c["status"] for p in parents for c in p.get("conditions") or []}


@contextmanager
def gateway_class_installed(kube: Kube) -> Iterator[None]:
    """The spec's GatewayClass for Cilium's controller (the chart makes it on a cluster)."""
    manifest = {
        "apiVersion": gateway.GATEWAY_API,
        "kind": "GatewayClass",
        "metadata": {"name": SPEC.gateway.class_},
        "spec": {"controllerName": CONTROLLER},
    }
    kube.apply([manifest])
    kube.wait_for(
        "the GatewayClass to be accepted by Cilium's controller",
        lambda: kube.get(gateway.GATEWAY_API, "GatewayClass", SPEC.gateway.class_),
        lambda gc: conditions(gc).get("Accepted") == "True",
        SETTLE,
    )
    yield
    kube.delete(gateway.GATEWAY_API, "GatewayClass", SPEC.gateway.class_)


def _tls_secrets(arch: Architecture, layout: RunNamespaces, tmp: Path) -> list[Manifest]:
    """A certificate per HTTPS listener from a CA of this run, where cert-manager would put it."""
    write_ca(tmp)
    out = []
    for listener in (lis for lis in arch.gateway.listeners if lis.protocol == "HTTPS"):
        assert listener.hostname
        certs = sign(tmp, listener.name, f"/CN={listener.hostname}", [f"DNS:{listener.hostname}"])
        data = {
            "tls.crt": base64.b64encode(certs.cert.read_bytes()).decode(),
            "tls.key": base64.b64encode(certs.key.read_bytes()).decode(),
        }
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/tls",
                "metadata": {
                    "name": gateway.tls_secret(listener),
                    "namespace": gateway.namespace(layout),
                },
                "data": data,
            }
        )
    return out


@contextmanager
def spec_gateway(kube: Kube, tmp: Path) -> Iterator[tuple[RunNamespaces, list[Manifest]]]:
    """The spec's Services (no pods: the controller needs none), the Gateway with its routes,
    the listeners' certificates, and a pool for the Gateway's LoadBalancer Service; yields the
    run's namespaces and everything rendered (cert-manager's objects are not applied)."""
    layout = RunNamespaces(secrets.token_hex(3))
    services = [
        m
        for m in workloads.render(SPEC, layout, "python:3")
        if m["kind"] in ("Namespace", "Service")
    ]
    rendered = gateway.render(SPEC, layout)
    ours = [m for m in rendered if m["kind"] not in CERT_MANAGER]
    pool = {
        "apiVersion": POOL[0],
        "kind": POOL[1],
        "metadata": {"name": f"gateway-{layout.run}", "labels": layout.labels()},
        "spec": {
            "blocks": [{"cidr": "198.18.242.0/29"}],
            "serviceSelector": {
                "matchLabels": {"io.kubernetes.service.namespace": gateway.namespace(layout)}
            },
        },
    }
    kube.apply([*services, *ours, pool, *_tls_secrets(SPEC, layout, tmp)])
    yield layout, rendered
    kube.delete(*POOL, pool["metadata"]["name"])
    kube.delete_namespace(gateway.namespace(layout), wait=False)
    for env in SPEC.environments:
        kube.delete_namespace(layout.namespace(env), wait=False)


@pytest.fixture(scope="module")
def deployed(
    kube: Kube, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunNamespaces, list[Manifest]]]:
    with (
        gateway_class_installed(kube),
        spec_gateway(kube, tmp_path_factory.mktemp("gateway-certs")) as made,
    ):
        yield made


def wait_programmed(kube: Kube, layout: RunNamespaces) -> None:
    kube.wait_for(
        "the Gateway to be Accepted and Programmed",
        lambda: _gateway(kube, layout),
        lambda gw: (
            conditions(gw).get("Accepted") == "True" and conditions(gw).get("Programmed") == "True"
        ),
        SETTLE,
    )


def _gateway(kube: Kube, layout: RunNamespaces) -> Manifest | None:
    return kube.get(gateway.GATEWAY_API, "Gateway", gateway.GATEWAY_NAME, gateway.namespace(layout))


def test_the_gateway_and_every_route_are_accepted_and_programmed(
    kube: Kube, deployed: tuple[RunNamespaces, list[Manifest]]
) -> None:
    layout, rendered = deployed
    wait_programmed(kube, layout)
    for route in (m for m in rendered if m["kind"].endswith("Route")):
        meta = route["metadata"]
        got = kube.wait_for(
            f"{route['kind']} {meta['name']} to be Accepted with its references resolved",
            lambda r=route, m=meta: kube.get(r["apiVersion"], r["kind"], m["name"], m["namespace"]),
            lambda r: (
                route_conditions(r).get("Accepted") == "True"
                and route_conditions(r).get("ResolvedRefs") == "True"
            ),
            SETTLE,
        )
        assert got is not None


def translated(kube: Kube, layout: RunNamespaces, declared: list[DeclaredRoute]) -> Verdict:
    """The translation checker on what the controller generated, once it holds (or as it
    stands at the end of SETTLE)."""

    def judge() -> Verdict:
        namespace = gateway.namespace(layout)
        configs = kube.list("cilium.io/v2", "CiliumEnvoyConfig", namespace)
        resources = [r for c in configs for r in (c["spec"].get("resources") or [])]
        slices = kube.list("discovery.k8s.io/v1", "EndpointSlice", namespace)
        return check_translation(declared, resources, slices)

    settle = Convergence(SETTLE, consistent_rounds=1, interval=2)
    return converge(judge, lambda verdict: verdict.ok, settle).history[-1]


def test_the_generated_configuration_routes_as_declared(
    kube: Kube, deployed: tuple[RunNamespaces, list[Manifest]]
) -> None:
    layout, _ = deployed
    verdict = translated(kube, layout, gateway.declared_routes(SPEC, layout))
    assert verdict.ok, str(verdict)


def another_route(
    kube: Kube, rendered: list[Manifest], name: str, rule: Manifest, condition: str, status: str
) -> Manifest:
    """A variant of the first HTTPRoute under `name` with one rule, applied; returns it once
    its `condition` says `status`."""
    web = next(m for m in rendered if m["kind"] == "HTTPRoute")
    route = {**web, "metadata": {**web["metadata"], "name": name}}
    kube.apply([{**route, "spec": {**web["spec"], "rules": [rule]}}])
    got = kube.wait_for(
        f"route {name} to say {condition}={status}",
        lambda: kube.get(gateway.GATEWAY_API, "HTTPRoute", name, web["metadata"]["namespace"]),
        lambda r: route_conditions(r).get(condition) == status,
        SETTLE,
    )
    assert got is not None
    return got


def test_a_route_to_a_missing_service_is_not_resolved(
    kube: Kube, deployed: tuple[RunNamespaces, list[Manifest]]
) -> None:
    _, rendered = deployed
    nowhere = {"backendRefs": [{"name": "no-such-service", "port": 8080}]}
    got = another_route(kube, rendered, "to-nowhere", nowhere, "ResolvedRefs", "False")
    reasons = [
        c.get("reason")
        for p in got["status"]["parents"]
        for c in p["conditions"]
        if c["type"] == "ResolvedRefs"
    ]
    assert reasons == ["BackendNotFound"], got["status"]


@pytest.fixture(scope="module")
def cert_manager_crds(kube: Kube) -> None:
    crds = [d for path in sorted((CRDS / "cert-manager").glob("*.yaml"))
            for d in documents(path.read_text())]  # fmt: skip
    kube.apply(crds)


def test_the_issuer_and_certificates_pass_a_server_side_dry_run(
    kube: Kube, cert_manager_crds: None, deployed: tuple[RunNamespaces, list[Manifest]]
) -> None:
    _, rendered = deployed
    issued = [m for m in rendered if m["kind"] in CERT_MANAGER]
    assert {m["kind"] for m in issued} == CERT_MANAGER
    applied = kube.apply(issued, dry_run=True)
    assert [a["metadata"]["name"] for a in applied] == [m["metadata"]["name"] for m in issued]


def test_a_users_acme_issuer_and_its_stand_in_pass_a_server_side_dry_run(
    kube: Kube, cert_manager_crds: None
) -> None:
    user = sources.load(load(ROOT / "examples" / "homelab" / "architecture.yaml"))
    theirs = [m for m in user.manifests(CERT_MANAGER_KINDS) if m["kind"] == "ClusterIssuer"]
    ours, replaced = user.gateway_manifests(gateway.CA_SECRET)
    stand_in = [m for m in ours if m["kind"] == "ClusterIssuer"]
    assert [r.name for r in replaced] == [m["metadata"]["name"] for m in theirs] == ["letsencrypt"]
    for issuers, signer in ((theirs, "acme"), (stand_in, "ca")):
        applied = kube.apply(issuers, dry_run=True)
        assert [a["metadata"]["name"] for a in applied] == ["letsencrypt"]
        assert list(applied[0]["spec"]) == [signer]


def test_the_renewal_trigger_sets_issuing_on_a_certificates_status(
    kube: Kube, cert_manager_crds: None, deployed: tuple[RunNamespaces, list[Manifest]]
) -> None:
    """What the cert-manager suite does to renew: the condition lands in the status
    subresource beside the ones there, and a second trigger replaces the first."""
    _, rendered = deployed
    [certificate] = [m for m in rendered if m["kind"] == "Certificate"]
    kube.apply([certificate])
    meta = certificate["metadata"]
    ready = {"type": "Ready", "status": "False", "reason": "Pending", "message": "waiting",
             "lastTransitionTime": "2026-12-01T00:00:00Z"}  # fmt: skip
    kube.set_condition(gateway.CERT_MANAGER, "Certificate", meta["name"], meta["namespace"], ready)
    for second in ("00", "30"):
        issuing = {**gateway.ISSUING, "lastTransitionTime": f"2026-12-01T00:00:{second}Z"}
        kube.set_condition(
            gateway.CERT_MANAGER, "Certificate", meta["name"], meta["namespace"], issuing
        )
    got = kube.get(gateway.CERT_MANAGER, "Certificate", meta["name"], meta["namespace"])
    conditions = {c["type"]: c for c in (got or {})["status"]["conditions"]}
    assert set(conditions) == {"Ready", "Issuing"}
    assert conditions["Issuing"]["lastTransitionTime"] == "2026-12-01T00:00:30Z"
    assert conditions["Issuing"]["reason"] == "ManuallyTriggered"
