"""cert-manager issues the Gateway's certificates: each HTTPS listener's Certificate is Ready,
its Secret holds a certificate from the run's CA with the listener's name, and a renewal
triggered as `cmctl renew` does (the Issuing condition) produces a new one. On the
local-images path it skips: cert-manager's controller cannot be built there (its Issuer and
Certificates are dry-run against its CRDs in tests/controlplane instead)."""

from __future__ import annotations

import datetime

import pytest

from fixtures.gateway import WITHOUT_CERT_MANAGER, GatewayUnderTest, skip_on_local_images
from netconform import gateway
from netconform.checks.certificates import check_certificate, check_renewed
from netconform.convergence import Convergence, converge
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
    now = datetime.datetime.now(datetime.UTC)
    for listener in https:
        assert listener.hostname
        history = converge(
            lambda lis=listener: check_certificate(
                gateway_under_test.certificate_secret(lis.name),
                gateway_under_test.ca,
                str(lis.hostname),
                now,
            ),
            lambda verdict: verdict.ok,
            Convergence(timeouts.gateway, consistent_rounds=1, interval=5),
        ).history
        assert history[-1].ok, str(history[-1])


def test_a_certificate_due_for_renewal_is_renewed(
    https: list[Listener], gateway_under_test: GatewayUnderTest, timeouts: Timeouts
) -> None:
    listener = https[0]
    served = gateway_under_test.served
    before = gateway_under_test.certificate_secret(listener.name)
    assert before, f"no certificate in {served.secrets[listener.name]} to renew"
    name = served.certificates[listener.name]
    condition = {
        **gateway.ISSUING,
        "lastTransitionTime": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    gateway_under_test.run.kube.set_condition(
        gateway.CERT_MANAGER, "Certificate", name, served.namespace, condition
    )
    history = converge(
        lambda: check_renewed(before, gateway_under_test.certificate_secret(listener.name)),
        lambda verdict: verdict.ok,
        Convergence(timeouts.gateway, consistent_rounds=1, interval=5),
    ).history
    assert history[-1].ok, str(history[-1])
