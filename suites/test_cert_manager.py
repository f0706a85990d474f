"""cert-manager issues the Gateway's certificates: each HTTPS listener's Certificate is Ready,
its Secret holds a certificate from the run's CA with the listener's name, and a renewal
triggered as `cmctl renew` does (the Issuing condition) produces a new one. On the
local-images path it skips: cert-manager's controller cannot be built there (its Issuer and
Certificates are dry-run against its CRDs in tests/controlplane instead)."""

from __future__ import annotations

import pytest
from netconform.fixtures.gateway import WITHOUT_CERT_MANAGER, GatewayUnderTest, skip_on_local_images

from netconform.spec import Architecture, Listener
from netconform.timeouts import Timeouts

pytestmark = [pytest.mark.gateway, pytest.mark.xdist_group("cluster-policy")]


@pytest.fixture(scope="session")
def https(pytestconfig: pytest.Config, spec: Architecture) -> list[Listener]:
    skip_on_local_images(pytestconfig, WITHOUT_CERT_MANAGER)
    listeners = [lis for lis in spec.gateway.listeners if lis.protocol == "HTTPS"]
    if not listeners:
        pytest.skip("architecture.yaml declares no HTTPS listener: nothing to issue")
    return listeners


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
