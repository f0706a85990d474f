"""The Gateway translation checker against Envoy configuration shaped as Cilium 1.20's
operator writes it (its own translation test data): every declared route must be there."""

from __future__ import annotations

from copy import deepcopy

import pytest

from netconform.checks.gateway_translation import (
    DeclaredRoute,
    check_translation,
    http_routes,
    tcp_clusters,
)
from netconform.spec import Redirect

WEB = DeclaredRoute("web", "HTTP", "netconform-r-prod:frontend:8080", 80, "www.home.arpa")
API = DeclaredRoute(
    "api", "HTTPS", "netconform-r-prod:backend:8080", 443, "secure.home.arpa", "/api/",
    {"x-env": "a"},
)  # fmt: skip
DB = DeclaredRoute("db", "TCP", "netconform-r-prod:db:5432", 5432)
# Cilium 1.20's plain TCP route: an EndpointSlice of the Gateway's Service, no Envoy.
DB_SLICE = {
    "metadata": {
        "name": "cilium-gateway-netconform-abc-ipv4",
        "annotations": {
            "gateway.cilium.io/backend-service": "netconform-r-prod/db",
            "gateway.cilium.io/backend-port": "5432",
        },
    },
    "ports": [{"name": "port-5432", "port": 5432, "protocol": "TCP"}],
}

RESOURCES = [
    {
        "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
        "filterChains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.tcp_proxy",
                        "typedConfig": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.network."
                            "tcp_proxy.v3.TcpProxy",
                            "cluster": "netconform-r-prod:db:5432",
                        },
                    }
                ]
            }
        ],
    },
    {
        "@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
        "name": "listener-insecure",
        "virtualHosts": [
            {
                "domains": ["www.home.arpa", "www.home.arpa:*"],
                "routes": [
                    {
                        "match": {"prefix": "/"},
                        "route": {"cluster": "netconform-r-prod:frontend:8080"},
                    }
                ],
            }
        ],
    },
    {
        "@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
        "name": "listener-secure",
        "virtualHosts": [
            {
                "domains": ["secure.home.arpa", "secure.home.arpa:*"],
                "routes": [
                    {
                        "match": {
                            "pathSeparatedPrefix": "/api",
                            "headers": [{"name": "x-env", "stringMatch": {"exact": "a"}}],
                        },
                        "route": {"cluster": "netconform-r-prod:backend:8080"},
                    }
                ],
            }
        ],
    },
]


def test_the_translation_as_declared_passes() -> None:
    verdict = check_translation([WEB, API, DB], RESOURCES)
    assert verdict.ok, verdict
    assert verdict.summary == "gateway translation: all 3 routes as declared"
    assert len(http_routes(RESOURCES)) == 2
    assert tcp_clusters(RESOURCES) == {"netconform-r-prod:db:5432"}


def _second_route(resources: list) -> dict:
    return resources[2]["virtualHosts"][0]["routes"][0]


MUTATIONS = {
    "another backend": (lambda r: _second_route(r)["route"].update(cluster="x:backend:8080")),
    "another path": (lambda r: _second_route(r)["match"].update(pathSeparatedPrefix="/v2")),
    "a header dropped": (lambda r: _second_route(r)["match"].pop("headers")),
    "another host": (lambda r: r[2]["virtualHosts"][0].update(domains=["*"])),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_a_route_translated_otherwise_fails_naming_it_and_what_envoy_has(mutation: str) -> None:
    resources = deepcopy(RESOURCES)
    MUTATIONS[mutation](resources)
    verdict = check_translation([WEB, API, DB], resources)
    assert not verdict.ok
    assert verdict.summary == "gateway translation: 1 of 3 routes not in the Envoy configuration"
    (wrong,) = [line for line in verdict.evidence.splitlines() if line.startswith("! ")]
    assert wrong.startswith(
        "! api (secure.home.arpa/api/ [x-env: a]) -> netconform-r-prod:backend:8080; "
        "Envoy has for that host: "
    )


def test_a_tcp_route_as_an_endpoint_slice_of_the_gateway_service_passes() -> None:
    assert check_translation([DB], RESOURCES[1:], [DB_SLICE]).ok
    other_port = {**DB_SLICE, "ports": [{"name": "port-5433", "port": 5433}]}
    verdict = check_translation([DB], RESOURCES[1:], [other_port])
    assert not verdict.ok
    assert "TCP goes to: netconform-r-prod:db:5432 (port 5433)" in verdict.evidence


def test_a_tcp_route_without_its_proxy_or_slice_fails() -> None:
    verdict = check_translation([DB], RESOURCES[1:])
    assert not verdict.ok
    assert "! db (TCP) -> netconform-r-prod:db:5432; TCP goes to: nothing" in verdict.evidence


def test_nothing_declared_never_passes() -> None:
    assert not check_translation([], RESOURCES).ok


LOGIN = DeclaredRoute(
    "login",
    "HTTP",
    "",
    80,
    "www.home.arpa",
    "/login",
    redirect=Redirect(scheme="https", status=301),
)


def test_a_redirect_route_must_redirect_as_declared() -> None:
    resources = deepcopy(RESOURCES)
    routes = resources[1]["virtualHosts"][0]["routes"]
    # Envoy leaves out MOVED_PERMANENTLY, its default response code.
    routes.insert(
        0,
        {
            "match": {"pathSeparatedPrefix": "/login"},
            "redirect": {"schemeRedirect": "https", "portRedirect": 443},
        },
    )
    assert check_translation([LOGIN], resources).ok
    routes[0]["redirect"]["responseCode"] = "FOUND"
    verdict = check_translation([LOGIN], resources)
    assert not verdict.ok
    assert "redirect 301 to https://*:443" in verdict.evidence
    assert "redirect 302" in verdict.evidence
