"""Throwaway certificates made with the openssl CLI, for TLS tests and the control plane.

The extensions are the ones strict X.509 verification (which netprobe applies
on every Python version) demands.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from netconform.run_ca import make_ca

EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path


def _openssl(directory: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)


def write_ca(directory: Path) -> Path:
    """ca.pem and ca.key in the directory: a CA as the run makes one, for `sign` to use."""
    cert, key = make_ca("netconform test CA")
    (directory / "ca.key").write_bytes(key)
    (directory / "ca.pem").write_bytes(cert)
    return directory / "ca.pem"


def sign(
    directory: Path,
    name: str,
    subject: str,
    san: Sequence[str] = (),
    usage: str = "serverAuth",
    days: int = 2,
) -> Certs:
    """<name>.pem/<name>.key signed by the directory's CA; san like ["DNS:x", "IP:198.18.0.1"].
    `days` < 0: already expired (valid until that many days before now)."""
    _openssl(
        directory, "req", *EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject
    )
    extensions = [
        "authorityKeyIdentifier=keyid",
        "keyUsage=critical,digitalSignature",
        f"extendedKeyUsage={usage}",
    ]
    if san:
        extensions.append(f"subjectAltName={','.join(san)}")
    (directory / f"{name}.ext").write_text("\n".join(extensions) + "\n")
    ca = ("-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-extfile", f"{name}.ext")
    _openssl(
        directory,
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        *ca,
        "-days",
        str(days),
        "-out",
        f"{name}.pem",
    )
    return Certs(directory / "ca.pem", directory / f"{name}.pem", directory / f"{name}.key")


def make_certs(directory: Path, names: Sequence[str], ips: Sequence[str] = ()) -> Certs:
    """A CA, and a server certificate it signs for the given DNS names and IPs."""
    write_ca(directory)
    san = [*(f"DNS:{n}" for n in names), *(f"IP:{ip}" for ip in ips)]
    return sign(directory, "server", f"/CN={names[0]}", san)
