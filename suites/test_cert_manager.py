"""cert-manager issues the Gateway's certificates: each HTTPS listener's Certificate is Ready,
its Secret holds a certificate from the run's CA with the listener's name, and a renewal
triggered as `cmctl renew` does (the Issuing condition) produces a new one. Where the Gateway
runs, these are its listeners' own Certificates; on the local-images path (no Envoy), the
same issuers and Certificates without the Gateway, issued by the cert-manager built there."""

from __future__ import annotations

import pytest
from netconform.fixtures.gateway import CertificatesUnderTest

from netconform.spec import Architecture, Listener
from netconform.timeouts import Timeouts

pytestmark = [
    pytest.mark.requires("certificates"),
    pytest.mark.xdist_group("cluster-policy"),
]


@pytest.fixture(scope="session")
def https(spec: Architecture) -> list[Listener]:
    return [lis for lis in spec.gateway.listeners if lis.protocol == "HTTPS"]


def test_each_certificate_is_issued_by_the_run_ca_for_its_listener(
    https: list[Listener], certificates_under_test: CertificatesUnderTest, timeouts: Timeouts
) -> None:
    for listener in https:
        verdict = certificates_under_test.issued(listener, timeouts)
        assert verdict.ok, str(verdict)


def test_a_certificate_due_for_renewal_is_renewed(
    https: list[Listener], certificates_under_test: CertificatesUnderTest, timeouts: Timeouts
) -> None:
    verdict = certificates_under_test.renewed(https[0], timeouts)
    assert verdict.ok, str(verdict)
