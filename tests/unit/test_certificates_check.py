"""The certificate checker on certificates from a real CA made with openssl: chain, names,
validity, renewal; and the gateway replies checker telling a 403 from a drop."""

from __future__ import annotations

import base64
import datetime
import time
from dataclasses import replace
from pathlib import Path
from typing import cast

from netconform.fixtures.gateway import CertificatesUnderTest

from netconform.checks.certificates import check_certificate, check_renewed
from netconform.checks.gateway_routes import (
    DENIED_BY_PROXY,
    GatewayRequest,
    Reply,
    check_replies,
    routed_to,
)
from netconform.gateway import Served
from netconform.kube import Kube
from netconform.manifest import Manifest
from netconform.spec import Listener
from netconform.timeouts import Timeouts
from tests.certs import sign, write_ca

HOST = "secure.home.arpa"


def now() -> datetime.datetime:
    """After the certificates are made: openssl starts their validity at the second it signs."""
    return datetime.datetime.now(datetime.UTC)


def test_a_certificate_is_judged_on_issuer_name_and_validity(tmp_path: Path) -> None:
    ca = write_ca(tmp_path).read_bytes()
    good = sign(tmp_path, "good", f"/CN={HOST}", [f"DNS:{HOST}"]).cert.read_bytes()
    assert check_certificate(good, ca, HOST, now()).ok
    wildcard = sign(tmp_path, "wild", "/CN=w", ["DNS:*.home.arpa"]).cert.read_bytes()
    assert check_certificate(wildcard, ca, HOST, now()).ok
    assert not check_certificate(wildcard, ca, "a.b.home.arpa", now()).ok
    later = check_certificate(good, ca, HOST, now() + datetime.timedelta(days=3))
    assert not later.ok and "expired at" in later.summary
    other = tmp_path / "other"
    other.mkdir()
    write_ca(other)
    foreign = sign(other, "x", f"/CN={HOST}", [f"DNS:{HOST}"]).cert.read_bytes()
    verdict = check_certificate(foreign, ca, HOST, now())
    assert not verdict.ok and "not issued by the run's CA" in verdict.summary


def test_a_renewal_is_a_new_serial_valid_from_later_even_with_the_same_expiry(
    tmp_path: Path,
) -> None:
    """A CA issuer caps every certificate at its CA's expiry: a renewal may expire when the
    first one did (here both for the same 2 days, a second apart)."""
    write_ca(tmp_path)
    first = sign(tmp_path, "a", f"/CN={HOST}", [f"DNS:{HOST}"]).cert.read_bytes()
    time.sleep(1.1)
    second = sign(tmp_path, "b", f"/CN={HOST}", [f"DNS:{HOST}"]).cert.read_bytes()
    assert check_renewed(first, second).ok
    assert "the same serial" in check_renewed(first, first).summary
    assert "does not start later" in check_renewed(second, first).summary
    assert "holds none" in check_renewed(first, b"").summary


def test_no_certificate_yet_is_a_verdict_to_wait_for_not_an_error(tmp_path: Path) -> None:
    ca = write_ca(tmp_path).read_bytes()
    verdict = check_certificate(b"", ca, HOST, now())
    assert not verdict.ok and verdict.summary == f"certificate for {HOST}: none issued yet"


def test_a_drop_is_never_a_403() -> None:
    request = GatewayRequest("l7 other path", "http", "backend", 8080, "/admin")
    verdict = check_replies({request: DENIED_BY_PROXY}, {request: Reply(None, error="timed out")})
    assert not verdict.ok
    assert "expected 403, got no answer (timed out)" in verdict.evidence
    body = {"pod": "backend-5d8f-xk2p", "namespace": "netconform-ab-prod"}
    assert Reply(200, body).backend() == "netconform-ab-prod/backend"
    assert check_replies({request: routed_to("netconform-ab-prod/backend")},
                         {request: Reply(200, body)}).ok  # fmt: skip
    assert not check_replies({}, {}).ok


class _IssuingLater:
    """A Secret cert-manager fills only after the wait began: its certificate starts then."""

    def __init__(self, directory: Path, delay: float) -> None:
        self.directory, self.ready_at = directory, time.monotonic() + delay

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Manifest | None:
        if time.monotonic() < self.ready_at:
            return None
        leaf = sign(self.directory, "issued", f"/CN={HOST}", [f"DNS:{HOST}"]).cert.read_bytes()
        return {"data": {"tls.crt": base64.b64encode(leaf).decode()}}


def test_a_certificate_issued_while_waited_for_is_judged_valid_when_read(tmp_path: Path) -> None:
    ca = write_ca(tmp_path).read_bytes()
    served = Served("gw", "ns", {"secure": "gw-secure"}, {"secure": "gw-secure"})
    kube = cast(Kube, _IssuingLater(tmp_path, delay=1.5))
    certificates = CertificatesUnderTest(kube, ca, served)
    listener = Listener(name="secure", protocol="HTTPS", port=443, hostname=HOST)
    verdict = certificates.issued(listener, replace(Timeouts(), gateway=10, poll=0.2))
    assert verdict.ok, str(verdict)
