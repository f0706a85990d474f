"""Gateway API through Cilium's Envoy, from outside the cluster: every declared route answered
by its backend (the echo names who answered) N rounds in a row, a host no listener names 404,
the HTTPS listeners' certificates from the run's CA with the listener's name, and the TCP
route reaching its backend. On the local-images path it skips: no Envoy can be built there
(the controller's translation is checked there instead, in tests/controlplane)."""

from __future__ import annotations

import datetime

import pytest
from netconform.fixtures.gateway import GatewayUnderTest

from netconform import gateway
from netconform.checks.certificates import check_certificate
from netconform.checks.gateway_routes import check_replies
from netconform.convergence import Convergence, converge
from netconform.spec import Architecture
from netconform.timeouts import Timeouts

pytestmark = [pytest.mark.requires("gateway"), pytest.mark.xdist_group("cluster-policy")]


def test_every_route_reaches_its_backend_and_unknown_hosts_get_404(
    spec: Architecture, gateway_under_test: GatewayUnderTest, timeouts: Timeouts
) -> None:
    expected = gateway.route_requests(spec, gateway_under_test.run.layout)
    history = converge(
        lambda: check_replies(expected, {r: gateway_under_test.ask(r) for r in expected}),
        lambda verdict: verdict.ok,
        Convergence(timeouts.gateway, timeouts.consistent_rounds),
    ).history
    assert history[-1].ok, str(history[-1])


def test_https_listeners_serve_the_run_cas_certificate_for_their_name(
    spec: Architecture, gateway_under_test: GatewayUnderTest
) -> None:
    https = [lis for lis in spec.gateway.listeners if lis.protocol == "HTTPS"]
    if not https:
        pytest.skip("architecture.yaml declares no HTTPS listener")
    for listener in https:
        assert listener.hostname
        served = gateway_under_test.served_certificate(listener.hostname, listener.port)
        now = datetime.datetime.now(datetime.UTC)
        verdict = check_certificate(
            served, gateway_under_test.certificates.ca, listener.hostname, now
        )
        assert verdict.ok, str(verdict)


def test_tcp_routes_reach_their_backend(
    spec: Architecture, gateway_under_test: GatewayUnderTest, timeouts: Timeouts
) -> None:
    routes = [r for r in gateway.declared_routes(spec, gateway_under_test.run.layout) if not r.http]
    if not routes:
        pytest.skip("architecture.yaml declares no TCP route")
    for route in routes:
        namespace, group, _ = route.cluster.split(":")
        answered = gateway_under_test.tcp_backend(route.port, timeouts.exec_slack)
        assert answered == f"{namespace}/{group}", f"{route}: answered by {answered}"
