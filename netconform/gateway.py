"""The spec's Gateway as Gateway API and cert-manager objects: one Gateway of the spec's class
with its listeners, an HTTPRoute per HTTP or HTTPS route (host from its listener, path prefix,
headers), a TCPRoute or TLSRoute per TCP or TLS route, each to its backend group's Service,
and for every HTTPS listener a cert-manager Certificate from an Issuer of the run's own CA.

The Gateway lives in a namespace of its own and takes routes from the run's namespaces; each
route sits beside the Service it sends to, so no ReferenceGrant is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from netconform.checks.gateway_routes import (
    NO_HANDSHAKE,
    NOT_FOUND,
    Expected,
    GatewayRequest,
    routed_to,
)
from netconform.checks.gateway_translation import DeclaredRoute
from netconform.manifest import Manifest
from netconform.spec import Architecture, Listener, Redirect, Route
from netconform.workloads import RunNamespaces

GATEWAY_API = "gateway.networking.k8s.io/v1"
CERT_MANAGER = "cert-manager.io/v1"
GATEWAY_ENVIRONMENT = "gateway"
GATEWAY_NAME = "netconform"
ISSUER = "netconform-ca"
# The Secret holding the run's CA (tls.crt, tls.key) the Issuer signs with; made by the run.
CA_SECRET = "netconform-ca"
# A name no listener serves: the Gateway must answer it 404.
UNKNOWN_HOST = "nowhere.home.arpa"
# cmctl renew's trigger: cert-manager's issuing controller re-issues a Certificate whose
# Issuing condition is set, whatever its renewal time.
ISSUING = {
    "type": "Issuing",
    "status": "True",
    "reason": "ManuallyTriggered",
    "message": "netconform: a renewal under test",
}
ROUTE_KINDS = {"HTTP": "HTTPRoute", "HTTPS": "HTTPRoute", "TCP": "TCPRoute", "TLS": "TLSRoute"}


@dataclass(frozen=True)
class Served:
    """The Gateway a run tests, the project's or the user's: where it is, and per listener the
    Secret it serves and the cert-manager Certificate that fills that Secret."""

    name: str
    namespace: str
    secrets: dict[str, str]
    certificates: dict[str, str]

    @property
    def service(self) -> str:
        return f"cilium-gateway-{self.name}"


def served(manifests: list[Manifest], gateway_class: str) -> Served:
    """From the first Gateway of the class among the manifests. A listener's Certificate is
    the one naming its Secret, else the one cert-manager's Gateway support makes for an
    annotated Gateway, which is named after the Secret."""
    found = next(
        (
            m
            for m in manifests
            if m.get("kind") == "Gateway"
            and (m.get("spec") or {}).get("gatewayClassName") == gateway_class
        ),
        None,
    )
    if found is None:
        raise ValueError(f"no Gateway of class {gateway_class!r} among the applied objects")
    secrets = {
        str(listener["name"]): str(refs[0]["name"])
        for listener in found["spec"].get("listeners") or []
        if (refs := (listener.get("tls") or {}).get("certificateRefs"))
    }
    by_secret = {
        str((m.get("spec") or {}).get("secretName")): str(m["metadata"]["name"])
        for m in manifests
        if m.get("kind") == "Certificate"
    }
    meta = found["metadata"]
    return Served(
        meta["name"],
        meta.get("namespace") or "default",
        secrets,
        {listener: by_secret.get(secret, secret) for listener, secret in secrets.items()},
    )


def namespace(layout: RunNamespaces) -> str:
    return layout.namespace(GATEWAY_ENVIRONMENT)


def tls_secret(listener: Listener) -> str:
    return f"{listener.name}-tls"


def _listener(listener: Listener, layout: RunNamespaces) -> Manifest:
    out: Manifest = {
        "name": listener.name,
        "protocol": listener.protocol,
        "port": listener.port,
        "allowedRoutes": {
            "namespaces": {
                "from": "Selector",
                "selector": {"matchLabels": layout.labels()},
            }
        },
    }
    if listener.hostname:
        out["hostname"] = listener.hostname
    if listener.protocol == "HTTPS":
        out["tls"] = {"mode": "Terminate", "certificateRefs": [{"name": tls_secret(listener)}]}
    elif listener.protocol == "TLS":
        out["tls"] = {"mode": "Passthrough"}
    return out


def _redirect(redirect: Redirect) -> Manifest:
    given = {
        "scheme": redirect.scheme,
        "hostname": redirect.hostname,
        "port": redirect.port,
        "statusCode": redirect.status,
    }
    return {"type": "RequestRedirect", "requestRedirect": {k: v for k, v in given.items() if v}}


def _route(route: Route, listener: Listener, layout: RunNamespaces, gateway_ns: str) -> Manifest:
    """Beside its backend's Service, or in the Gateway's namespace when it redirects."""
    kind = ROUTE_KINDS[listener.protocol]
    sends: Manifest = (
        {"backendRefs": [{"name": route.backend.group, "port": route.backend.port}]}
        if route.backend
        else {"filters": [_redirect(route.redirect)]}
        if route.redirect
        else {}
    )
    spec: Manifest = {
        "parentRefs": [
            {"name": GATEWAY_NAME, "namespace": gateway_ns, "sectionName": listener.name}
        ]
    }
    if kind == "HTTPRoute":
        match: Manifest = {"path": {"type": "PathPrefix", "value": route.path or "/"}}
        if route.headers:
            match["headers"] = [
                {"type": "Exact", "name": name, "value": value}
                for name, value in sorted(route.headers.items())
            ]
        spec["rules"] = [{"matches": [match], **sends}]
    else:
        spec["rules"] = [sends]
    hostname = route.hostname or listener.hostname
    if hostname and kind in ("HTTPRoute", "TLSRoute"):
        spec["hostnames"] = [hostname]
    return {
        "apiVersion": GATEWAY_API,
        "kind": kind,
        "metadata": {
            "name": route.name,
            "namespace": layout.namespace(route.backend.environment)
            if route.backend
            else gateway_ns,
            "labels": layout.labels(),
        },
        "spec": spec,
    }


def _infrastructure(arch: Architecture) -> Manifest:
    """The labels the Gateway's Service carries: its pool's selector, so LB IPAM gives it an
    address (Cilium programs a Gateway only once its Service has one)."""
    pool = next((p for p in arch.lb_ipam.pools if p.name == arch.gateway.pool), None)
    if pool is None or not pool.service_selector:
        return {}
    return {"infrastructure": {"labels": dict(pool.service_selector)}}


def render(arch: Architecture, layout: RunNamespaces) -> list[Manifest]:
    """Nothing where the spec declares no listener."""
    if not arch.gateway.listeners:
        return []
    gateway_ns = namespace(layout)
    labels = layout.labels()
    listeners = {listener.name: listener for listener in arch.gateway.listeners}
    out: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": gateway_ns, "labels": labels},
        },
        {
            "apiVersion": GATEWAY_API,
            "kind": "Gateway",
            "metadata": {"name": GATEWAY_NAME, "namespace": gateway_ns, "labels": labels},
            "spec": {
                "gatewayClassName": arch.gateway.class_,
                "listeners": [_listener(listener, layout) for listener in listeners.values()],
                **_infrastructure(arch),
            },
        },
    ]
    out += [_route(r, listeners[r.listener], layout, gateway_ns) for r in arch.gateway.routes]
    https = [listener for listener in listeners.values() if listener.protocol == "HTTPS"]
    if https:
        out.append(
            {
                "apiVersion": CERT_MANAGER,
                "kind": "Issuer",
                "metadata": {"name": ISSUER, "namespace": gateway_ns, "labels": labels},
                "spec": {"ca": {"secretName": CA_SECRET}},
            }
        )
    out += [
        {
            "apiVersion": CERT_MANAGER,
            "kind": "Certificate",
            "metadata": {"name": listener.name, "namespace": gateway_ns, "labels": labels},
            "spec": {
                "secretName": tls_secret(listener),
                "dnsNames": [listener.hostname] if listener.hostname else [],
                "issuerRef": {"name": ISSUER, "kind": "Issuer"},
            },
        }
        for listener in https
    ]
    return out


def declared_routes(arch: Architecture, layout: RunNamespaces) -> list[DeclaredRoute]:
    """The routes as the translation checker reads them, each to its Service's cluster."""
    listeners = {listener.name: listener for listener in arch.gateway.listeners}
    return [
        DeclaredRoute(
            route.name,
            listeners[route.listener].protocol,
            f"{layout.namespace(route.backend.environment)}:{route.backend.group}:"
            f"{route.backend.port}"
            if route.backend
            else "",
            listeners[route.listener].port,
            route.hostname or listeners[route.listener].hostname,
            route.path or "/",
            dict(route.headers),
            route.redirect,
        )
        for route in arch.gateway.routes
    ]


def _a_name_of(hostname: str | None) -> str:
    """A name a request can carry: a wildcard's with a label of ours, any name where none."""
    if hostname is None:
        return "any.home.arpa"
    return f"netconform{hostname[1:]}" if hostname.startswith("*.") else hostname


def route_requests(arch: Architecture, layout: RunNamespaces) -> dict[GatewayRequest, Expected]:
    """Every declared HTTP(S) route answered by its backend; a host no listener names gets
    404 on each HTTP port and no TLS handshake on each HTTPS one."""
    expected: dict[GatewayRequest, Expected] = {}
    for route in (r for r in declared_routes(arch, layout) if r.http):
        scheme = "https" if route.protocol == "HTTPS" else "http"
        host = _a_name_of(route.hostname)
        headers = tuple(sorted(route.headers.items()))
        request = GatewayRequest(route.name, scheme, host, route.port, route.path, "GET", headers)
        if route.redirect:
            location = route.redirect.location(scheme, host, route.path)
            expected[request] = Expected(route.redirect.status, location=location)
        else:
            namespace, group, _ = route.cluster.split(":")
            expected[request] = routed_to(f"{namespace}/{group}")
        unknown = GatewayRequest("unknown host", scheme, UNKNOWN_HOST, route.port)
        expected[unknown] = NO_HANDSHAKE if scheme == "https" else NOT_FOUND
    return expected
