"""cert-manager issues the Gateway's certificates: each HTTPS listener's Certificate is Ready,
its Secret holds a certificate from the run's CA with the listener's name, and a renewal
triggered as `cmctl renew` does (the Issuing condition) produces a new one. On the
local-images path it skips: cert-manager's controller cannot be built there (its Issuer and
Certificates are dry-run against its CRDs in tests/controlplane instead)."""

from __future__ import annotations

import pytest
from netconform.fixtures.gateway import GatewayUnderTest

from netconform.spec import Architecture, Listener
from netconform.timeouts import Timeouts

pytestmark = [
    pytest.mark.requires("gateway", "certificates"),
    pytest.mark.xdist_group("cluster-policy"),
]


@pytest.fixture(scope="session")
def https(spec: Architecture) -> list[Listener]:
    return [lis for lis in spec.gateway.listeners if lis.protocol == "HTTPS"]


def test_each_certificate_is_issued_by_the_run_ca_for_its_listener(
    https: list[Listener], gateway_under_test: GatewayUnderTest, timeouts: Timeouts
) -> None:
    for listener in https:
        verdict = gateway_under_test.issued(listener, timeouts)
        assert verdict.ok, str(verdict)


def test_a_certificate_due_for_renewal_is_renewed(
    https: list[Listener], gateway_under_test: GatewayUnderTest, timeouts: Timeouts
) -> None:
    verdict = gateway_under_test.renewed(https[0], timeouts)
    assert verdict.ok, str(verdict)
