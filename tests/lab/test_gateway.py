"""The Gateway and L7 checkers on real requests: nginx stands in for the data path, configured
from the spec's declared routes and the HTTP rules of its L7 flow, with certificates from a
CA the lab makes with openssl. The healthy lab passes; each mutation fails naming what broke:
a route to the wrong backend, a certificate from another CA, an expired one, one without the
listener's name, an L7 rule that lets a denied request through."""

from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path

import pytest

from lab.gateway_lab import L7_PORT, Certificate, GatewayLab, L7Flow, gateway_lab
from netconform import gateway
from netconform.checks.certificates import check_certificate
from netconform.checks.gateway_routes import Expected, GatewayRequest, check_replies
from netconform.checks.gateway_translation import DeclaredRoute
from netconform.l7 import UNNAMED_PATH, l7_requests
from netconform.spec import HttpRule, load
from netconform.verdict import Verdict
from netconform.workloads import RunNamespaces
from tests.certs import sign, write_ca

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
ARCH = load(ROOT / "architecture.yaml")
LAYOUT = RunNamespaces("lab")
ROUTES = gateway.declared_routes(ARCH, LAYOUT)
HTTPS = next(r for r in ROUTES if r.protocol == "HTTPS")
FLOW = next(f for f in ARCH.policy.flows if f.http)
L7 = L7Flow(f"{LAYOUT.namespace('prod')}:{FLOW.to}:{FLOW.ports[0].port}", tuple(FLOW.http))


def backend_of(route: DeclaredRoute) -> str:
    namespace, group, _ = route.cluster.split(":")
    return f"{namespace}/{group}"


def expected_requests() -> dict[GatewayRequest, Expected]:
    """The Gateway's routes and unknown hosts, and the L7 flow's rules at its stand-in."""
    namespace, group, _ = L7.backend.split(":")
    return {
        **gateway.route_requests(ARCH, LAYOUT),
        **l7_requests(L7.rules, group, L7_PORT, f"{namespace}/{group}"),
    }


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Certificate | Path]:
    """The run's CA and its certificate for the HTTPS listener, and the broken variants."""
    made: dict[str, Certificate | Path] = {}
    ours, other = tmp_path_factory.mktemp("ca"), tmp_path_factory.mktemp("other-ca")
    made["ca"] = write_ca(ours)
    write_ca(other)
    host = str(HTTPS.hostname)
    for name, directory, san, days in (
        ("good", ours, [f"DNS:{host}"], 2),
        ("other CA", other, [f"DNS:{host}"], 2),
        ("expired", ours, [f"DNS:{host}"], -1),
        ("no SAN", ours, ["DNS:elsewhere.home.arpa"], 2),
    ):
        certs = sign(directory, name.replace(" ", "-"), f"/CN={host}", san, days=days)
        made[name] = Certificate(certs.cert, certs.key)
    return made


def judge(lab: GatewayLab, ca: Path) -> Verdict:
    expected = expected_requests()
    replies = check_replies(expected, lab.ask(list(expected)))
    served = lab.served_certificate(
        GatewayRequest(HTTPS.name, "https", str(HTTPS.hostname), HTTPS.port)
    )
    now = datetime.datetime.now(datetime.UTC)
    return Verdict.all(
        [replies, check_certificate(served, ca.read_bytes(), str(HTTPS.hostname), now)]
    )


def test_the_healthy_gateway_and_proxy_pass(certificates: dict) -> None:
    with gateway_lab(ROUTES, {str(HTTPS.hostname): certificates["good"]}, L7) as lab:
        verdict = judge(lab, certificates["ca"])
    assert verdict.ok, str(verdict)
    assert "requests: all" in verdict.summary and "from the run's CA, valid" in verdict.summary


WRONG_BACKEND = next(r for r in ROUTES if r.protocol == "HTTP")
OTHER_GROUP = "backend"
MUTATIONS = {
    "a route to the wrong backend": (
        f"{WRONG_BACKEND.name}: GET http://{WRONG_BACKEND.hostname}:{WRONG_BACKEND.port}/ "
        f"expected 200 from {backend_of(WRONG_BACKEND)}, got 200 from "
        f"{LAYOUT.namespace('prod')}/{OTHER_GROUP}"
    ),
    "a certificate from another CA": "not issued by the run's CA",
    "an expired certificate": "expired at",
    "a certificate without the listener's name": f"no DNS name for {HTTPS.hostname}",
    "an HTTPS listener that answers a name it does not serve": (
        f"unknown host: GET https://{gateway.UNKNOWN_HOST}:{HTTPS.port}/ expected a refused "
        "connection or TLS handshake (not a timeout), got 404"
    ),
    "an L7 rule that lets a denied request through": (
        f"l7 other path: GET http://{OTHER_GROUP}:{L7_PORT}{UNNAMED_PATH} expected 403, got 200"
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_mutation_fails_naming_what_broke(certificates: dict, mutation: str) -> None:
    routes, cert, l7, reject = list(ROUTES), certificates["good"], L7, True
    if mutation == "a route to the wrong backend":
        wrong = WRONG_BACKEND.cluster.replace(":frontend:", f":{OTHER_GROUP}:")
        routes = [replace(r, cluster=wrong) if r == WRONG_BACKEND else r for r in routes]
    elif mutation == "a certificate from another CA":
        cert = certificates["other CA"]
    elif mutation == "an expired certificate":
        cert = certificates["expired"]
    elif mutation == "a certificate without the listener's name":
        cert = certificates["no SAN"]
    elif mutation == "an HTTPS listener that answers a name it does not serve":
        reject = False
    else:
        l7 = replace(L7, rules=(*L7.rules, HttpRule(method="*", path="/")))
    with gateway_lab(routes, {str(HTTPS.hostname): cert}, l7, reject) as lab:
        verdict = judge(lab, certificates["ca"])
    assert not verdict.ok
    assert MUTATIONS[mutation] in str(verdict), str(verdict)
