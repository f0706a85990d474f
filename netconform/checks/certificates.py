"""A listener's certificate as the architecture needs it: issued by the run's CA, naming the
listener's hostname, valid now; and renewed when its renewal is due (a new serial that
expires later).

Pure: takes PEM bytes and the time to judge at.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from netconform.verdict import Verdict


@dataclass(frozen=True)
class Facts:
    subject: str
    issuer: str
    names: tuple[str, ...]  # the DNS SANs
    not_before: datetime.datetime
    not_after: datetime.datetime
    serial: int

    def __str__(self) -> str:
        return (
            f"subject {self.subject}, issuer {self.issuer}, DNS names "
            f"{', '.join(self.names) or 'none'}, valid {self.not_before:%Y-%m-%d %H:%M} to "
            f"{self.not_after:%Y-%m-%d %H:%M} UTC, serial {self.serial:x}"
        )


def facts(pem: bytes) -> Facts:
    """The first certificate of a PEM chain (the leaf)."""
    cert = x509.load_pem_x509_certificates(pem)[0]
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns = tuple(names.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        dns = ()
    return Facts(
        cert.subject.rfc4514_string(),
        cert.issuer.rfc4514_string(),
        dns,
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        cert.serial_number,
    )


def _issued_by(leaf: bytes, ca: bytes) -> bool:
    try:
        x509.load_pem_x509_certificates(leaf)[0].verify_directly_issued_by(
            x509.load_pem_x509_certificate(ca)
        )
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _matches(pattern: str, hostname: str) -> bool:
    if pattern.startswith("*."):
        return hostname.count(".") == pattern.count(".") and hostname.endswith(pattern[1:])
    return pattern.lower() == hostname.lower()


def check_certificate(leaf: bytes, ca: bytes, hostname: str, now: datetime.datetime) -> Verdict:
    """`leaf`: the PEM the listener served (or cert-manager stored), leaf first; empty while
    none is there yet."""
    if not leaf.strip():
        return Verdict(False, f"certificate for {hostname}: none issued yet")
    seen = facts(leaf)
    problems = []
    if not _issued_by(leaf, ca):
        problems.append(f"not issued by the run's CA ({seen.issuer})")
    if not any(_matches(name, hostname) for name in seen.names):
        problems.append(f"no DNS name for {hostname} ({', '.join(seen.names) or 'none'})")
    if now >= seen.not_after:
        problems.append(f"expired at {seen.not_after:%Y-%m-%d %H:%M} UTC")
    elif now < seen.not_before:
        problems.append(f"not valid before {seen.not_before:%Y-%m-%d %H:%M} UTC")
    if problems:
        return Verdict(False, f"certificate for {hostname}: {'; '.join(problems)}", str(seen))
    return Verdict(True, f"certificate for {hostname}: from the run's CA, valid", str(seen))


def check_renewed(before: bytes, after: bytes) -> Verdict:
    """A renewal: another certificate (serial) whose validity starts later, for the same
    names. Not a later expiry: a CA issuer caps every certificate at its CA's own expiry."""
    if not after.strip():
        return Verdict(False, "certificate not renewed: its Secret holds none")
    old, new = facts(before), facts(after)
    evidence = f"before: {old}\nafter: {new}"
    if new.serial == old.serial:
        return Verdict(False, "certificate not renewed: the same serial is served", evidence)
    if new.not_before <= old.not_before:
        return Verdict(False, "certificate renewed but its validity does not start later", evidence)
    if set(new.names) != set(old.names):
        return Verdict(False, "renewed certificate names other hosts", evidence)
    return Verdict(True, "certificate renewed: a new serial, valid from later", evidence)
