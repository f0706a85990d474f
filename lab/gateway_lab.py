"""A Gateway's data path and an L7 policy's proxy, stood in for by real nginx: TLS with the
listeners' certificates, host and path routing to netprobe echo backends, configured from the
same declared routes the translation checker reads; and, on its own port, the proxy of a flow
with HTTP rules (allowed requests pass, any other gets 403). A client asks through the real
netprobe, as it would from outside the cluster.

Where Cilium runs Envoy, nginx runs here: no Envoy can be built on these machines, so the lab
proves the checkers on real requests, certificates and 403s, not Cilium's proxy.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lab.topology import Host, Lab
from netconform import l7
from netconform.checks.gateway_routes import GatewayRequest, Reply
from netconform.checks.gateway_translation import DeclaredRoute
from netconform.probe_client import HOST_NETPROBE_ARGV, ProbeSite
from netconform.spec import HttpRule
from netconform.timeouts import DEFAULT

CLIENT, GATEWAY = "198.18.81.2", "198.18.81.10"
FIRST_BACKEND = 20
# Where the L7 stand-in listens on the gateway host, for requests of the flow with HTTP rules.
L7_PORT = 18080


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


@dataclass(frozen=True)
class L7Flow:
    """The destination of a flow with HTTP rules, and the rules."""

    backend: str  # "<namespace>:<group>:<port>", as a route's cluster
    rules: tuple[HttpRule, ...]


def _backend_address(clusters: Sequence[str]) -> dict[str, str]:
    return {
        cluster: f"198.18.81.{FIRST_BACKEND + i}" for i, cluster in enumerate(sorted(set(clusters)))
    }


def _upstream(cluster: str, addresses: Mapping[str, str]) -> str:
    return f"http://{addresses[cluster]}:{cluster.rsplit(':', 1)[1]}"


def _sends(route: DeclaredRoute, addresses: Mapping[str, str]) -> str:
    if route.redirect is None:
        return f"proxy_pass {_upstream(route.cluster, addresses)}"
    redirect = route.redirect
    port = f":{redirect.port}" if redirect.port else ""
    where = f"{redirect.scheme or '$scheme'}://{redirect.hostname or '$host'}{port}"
    return f"return {redirect.status} {where}$request_uri"


def _l7_locations(flow: L7Flow, upstream: str) -> list[str]:
    lines = []
    for rule in flow.rules:
        allowed = "" if rule.method == "*" else f"limit_except {rule.method} {{ deny all; }} "
        lines.append(f"location ^~ {rule.path} {{ {allowed}proxy_pass {upstream}; }}")
    denied = [] if any(rule.path == "/" for rule in flow.rules) else ["location / { return 403; }"]
    return [*lines, *denied]


def nginx_conf(
    routes: Sequence[DeclaredRoute],
    certificates: Mapping[str, Certificate],
    addresses: Mapping[str, str],
    workdir: Path,
    l7: L7Flow | None = None,
    reject_unknown_names: bool = True,
) -> str:
    """One server per HTTP(S) hostname and port, a default server per port answering 404 to
    unknown hosts over HTTP and refusing their TLS handshake (unless not
    `reject_unknown_names`), and the L7 stand-in; `certificates` by hostname."""
    servers: dict[tuple[int, str, bool], list[str]] = {}
    for route in (r for r in routes if r.http):
        key = (route.port, route.hostname or "_", route.protocol == "HTTPS")
        location = f"location ^~ {route.path} {{ {_sends(route, addresses)}; }}"
        servers.setdefault(key, []).append(location)
    blocks = []
    for (port, host, tls), locations in servers.items():
        listen = f"listen {GATEWAY}:{port}{' ssl' if tls else ''};"
        files = []
        if tls:
            cert = certificates[host]
            files = [f"ssl_certificate {cert.cert};", f"ssl_certificate_key {cert.key};"]
        blocks.append(
            " ".join(["server {", listen, f"server_name {host};", *files, *locations, "}"])
        )
    for port, tls in sorted({(port, tls) for port, _, tls in servers}):
        files = []
        if tls:
            cert = next(iter(certificates.values()))
            files = [f"ssl_certificate {cert.cert};", f"ssl_certificate_key {cert.key};"]
            # As Envoy's listener, which has no filter chain for a name it does not serve.
            files += ["ssl_reject_handshake on;"] if reject_unknown_names else []
        listen = f"listen {GATEWAY}:{port} default_server{' ssl' if tls else ''};"
        blocks.append(" ".join(["server {", listen, *files, "return 404;", "}"]))
    if l7 is not None:
        upstream = _upstream(l7.backend, addresses)
        blocks.append(
            " ".join(
                ["server {", f"listen {GATEWAY}:{L7_PORT};", *_l7_locations(l7, upstream), "}"]
            )
        )
    return "\n".join(
        [
            f"pid {workdir}/nginx.pid;",
            f"error_log {workdir}/error.log;",
            "events {}",
            "http {",
            f"access_log {workdir}/access.log;",
            *(
                f"{kind}_temp_path {workdir}/{kind};"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            ),
            *blocks,
            "}",
        ]
    )


@dataclass
class GatewayLab:
    lab: Lab
    client: Host
    gateway: Host

    def ask(
        self, requests: Sequence[GatewayRequest], timeout: float = l7.REQUEST_TIMEOUT
    ) -> dict[GatewayRequest, Reply]:
        """Each request from the client to the gateway host, with its Host header and SNI; the
        served certificate is taken whatever it is, for the certificate checker to judge."""
        return l7.ask(self.client_site(), GATEWAY, requests, DEFAULT.exec_slack, timeout)

    def served_certificate(self, request: GatewayRequest) -> bytes:
        probe = l7.netprobe_request(request, GATEWAY, l7.REQUEST_TIMEOUT)
        [result] = self.client_site().probe([probe], l7.REQUEST_TIMEOUT + DEFAULT.exec_slack)
        return str(result.get("certificate", "")).encode()

    def client_site(self) -> ProbeSite:
        return ProbeSite(self.client.exec, HOST_NETPROBE_ARGV)


@contextmanager
def gateway_lab(
    routes: Sequence[DeclaredRoute],
    certificates: Mapping[str, Certificate],
    l7: L7Flow | None = None,
    reject_unknown_names: bool = True,
) -> Iterator[GatewayLab]:
    """nginx configured from `routes`, `certificates` and `l7`, each backend a netprobe."""
    clusters = [r.cluster for r in routes if r.http and r.cluster] + ([l7.backend] if l7 else [])
    addresses = _backend_address(clusters)
    with tempfile.TemporaryDirectory(prefix="netconform-gateway-") as tmp, Lab() as lab:
        workdir = Path(tmp)
        client = lab.host("client", CLIENT)
        gateway = lab.host("gateway", GATEWAY)
        for i, (cluster, address) in enumerate(sorted(addresses.items())):
            namespace, group, port = cluster.split(":")
            backend = lab.host(f"backend{i}", address)
            env = {"POD_NAME": f"{group}-lab-0", "POD_NAMESPACE": namespace}
            serve = ["env", *(f"{k}={v}" for k, v in env.items()), *HOST_NETPROBE_ARGV, "serve"]
            process = lab.spawn(backend, [*serve, "--bind", address, "--http", port])
            lab.wait_listening(backend, [int(port)], process)
        (workdir / "nginx.conf").write_text(
            nginx_conf(routes, certificates, addresses, workdir, l7, reject_unknown_names)
        )
        nginx = lab.spawn(
            gateway,
            ["nginx", "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
        )
        ports = sorted({r.port for r in routes if r.http} | ({L7_PORT} if l7 else set()))
        lab.wait_listening(gateway, ports, nginx)
        yield GatewayLab(lab, client, gateway)
