"""Does Cilium's Gateway controller translate the declared routes into the configuration it
generates? Each HTTP route must appear in the Gateway's CiliumEnvoyConfig as a route of a
virtual host serving its hostname, matching its path prefix and headers and sending to its
backend Service's cluster; each TCP or TLS route either as an Envoy TCP proxy to that cluster
or, as Cilium 1.20 does for plain TCP, as an EndpointSlice of the Gateway's Service for the
listener's port naming that backend (served by the BPF datapath). A Cilium bump that changes
the translation then fails before it merges, not on the data path.

Pure: takes the declared routes, the CiliumEnvoyConfig's `spec.resources` and the Gateway
Service's EndpointSlices.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netconform.spec import Redirect
from netconform.verdict import Verdict

ROUTE_CONFIGURATION = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
TCP_PROXY = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
BACKEND_SERVICE = "gateway.cilium.io/backend-service"
BACKEND_PORT = "gateway.cilium.io/backend-port"


@dataclass(frozen=True)
class DeclaredRoute:
    name: str
    protocol: str  # the listener's: HTTP, HTTPS, TCP, TLS
    cluster: str  # Cilium's name for the backend: "<namespace>:<service>:<port>"
    port: int  # the listener's
    hostname: str | None = None
    path: str = "/"
    headers: Mapping[str, str] = field(default_factory=dict)
    redirect: Redirect | None = None  # instead of a backend (cluster "")

    @property
    def http(self) -> bool:
        return self.protocol in ("HTTP", "HTTPS")

    def __str__(self) -> str:
        where = f"{self.hostname or '*'}{self.path}" if self.http else self.protocol
        headers = "".join(f" [{k}: {v}]" for k, v in sorted(self.headers.items()))
        return f"{self.name} ({where}{headers}) -> {self.target}"

    @property
    def target(self) -> str:
        return _redirect_text(*_redirect_fields(self.redirect)) if self.redirect else self.cluster


# Envoy's redirect response codes by name (MOVED_PERMANENTLY, the default, is left out).
RESPONSE_CODES = {"MOVED_PERMANENTLY": 301, "FOUND": 302, "SEE_OTHER": 303,
                  "TEMPORARY_REDIRECT": 307, "PERMANENT_REDIRECT": 308}  # fmt: skip


# Gateway API: a redirect to another scheme without a port goes to that scheme's own.
SCHEME_PORTS = {"http": 80, "https": 443}


def _redirect_fields(redirect: Redirect) -> tuple[str | None, str | None, int | None, int]:
    port = redirect.port or SCHEME_PORTS.get(redirect.scheme or "")
    return redirect.scheme, redirect.hostname, port, redirect.status


def _redirect_text(scheme: str | None, host: str | None, port: int | None, code: int) -> str:
    where = f"{scheme or ''}://{host or '*'}{f':{port}' if port else ''}"
    return f"redirect {code} to {where}"


@dataclass(frozen=True)
class EnvoyRoute:
    domains: tuple[str, ...]
    prefix: str | None
    headers: Mapping[str, str]
    cluster: str | None
    redirect: tuple[str | None, str | None, int | None, int] | None = None

    def __str__(self) -> str:
        headers = "".join(f" [{k}: {v}]" for k, v in sorted(self.headers.items()))
        target = _redirect_text(*self.redirect) if self.redirect else self.cluster
        return f"{','.join(self.domains)} {self.prefix}{headers} -> {target}"


def _walk(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def http_routes(resources: Sequence[Mapping[str, Any]]) -> list[EnvoyRoute]:
    """Every route of every virtual host of every RouteConfiguration."""
    found = []
    for resource in resources:
        if resource.get("@type") != ROUTE_CONFIGURATION:
            continue
        for host in resource.get("virtualHosts") or []:
            for route in host.get("routes") or []:
                match = route.get("match") or {}
                headers = {
                    h["name"]: (h.get("stringMatch") or {}).get("exact", "")
                    for h in match.get("headers") or []
                }
                prefix = match.get("pathSeparatedPrefix") or match.get("prefix")
                cluster = (route.get("route") or {}).get("cluster")
                domains = tuple(host.get("domains") or ())
                found.append(EnvoyRoute(domains, prefix, headers, cluster, _envoy_redirect(route)))
    return found


def _envoy_redirect(
    route: Mapping[str, Any],
) -> tuple[str | None, str | None, int | None, int] | None:
    redirect = route.get("redirect")
    if redirect is None:
        return None
    port = redirect.get("portRedirect")
    code = RESPONSE_CODES.get(str(redirect.get("responseCode", "MOVED_PERMANENTLY")), 0)
    return (
        redirect.get("schemeRedirect"),
        redirect.get("hostRedirect"),
        int(port) if port else None,
        code,
    )


def tcp_clusters(resources: Sequence[Mapping[str, Any]]) -> set[str]:
    """The clusters TCP proxies (TCP routes, TLS passthrough) send to."""
    return {str(n.get("cluster")) for n in _walk(list(resources)) if n.get("@type") == TCP_PROXY}


def l4_backends(slices: Sequence[Mapping[str, Any]]) -> set[tuple[str, int]]:
    """(cluster, listener port) of each EndpointSlice the controller made for an L4 route."""
    found = set()
    for eps in slices:
        notes = (eps.get("metadata") or {}).get("annotations") or {}
        if BACKEND_SERVICE not in notes or BACKEND_PORT not in notes:
            continue
        cluster = f"{notes[BACKEND_SERVICE].replace('/', ':')}:{notes[BACKEND_PORT]}"
        found |= {(cluster, int(port["port"])) for port in eps.get("ports") or []}
    return found


def _serves(route: DeclaredRoute, envoy: EnvoyRoute) -> bool:
    host_ok = (route.hostname or "*") in envoy.domains
    # Envoy's path-separated prefix "/foo" matches /foo and /foo/...; Cilium writes "/" as prefix.
    path_ok = envoy.prefix == (route.path.rstrip("/") or "/")
    headers_ok = all(envoy.headers.get(k) == v for k, v in route.headers.items())
    if route.redirect:
        sends = envoy.redirect == _redirect_fields(route.redirect)
    else:
        sends = envoy.redirect is None and envoy.cluster == route.cluster
    return host_ok and path_ok and headers_ok and sends


def check_translation(
    declared: Sequence[DeclaredRoute],
    resources: Sequence[Mapping[str, Any]],
    slices: Sequence[Mapping[str, Any]] = (),
) -> Verdict:
    envoy, tcp, l4 = http_routes(resources), tcp_clusters(resources), l4_backends(slices)
    lines, missing = [], 0
    for route in declared:
        if route.http:
            ok = any(_serves(route, e) for e in envoy)
            seen = [str(e) for e in envoy if (route.hostname or "*") in e.domains]
            said = "" if ok else f"; Envoy has for that host: {'; '.join(seen) or 'nothing'}"
        else:
            ok = route.cluster in tcp or (route.cluster, route.port) in l4
            routed = sorted(tcp) + [f"{cluster} (port {port})" for cluster, port in sorted(l4)]
            said = "" if ok else f"; TCP goes to: {', '.join(routed) or 'nothing'}"
        missing += not ok
        lines.append(f"{'  ' if ok else '! '}{route}{said}")
    if not declared:
        return Verdict(False, "gateway translation: no route declared, nothing to check")
    summary = (
        f"gateway translation: {missing} of {len(declared)} routes not in the Envoy configuration"
        if missing
        else f"gateway translation: all {len(declared)} routes as declared"
    )
    return Verdict(not missing, summary, "\n".join(lines))
