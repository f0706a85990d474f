"""A throwaway CA and server certificate made with the openssl CLI, for TLS tests.

The extensions are the ones strict X.509 verification (which the agent applies
on every Python version) demands.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path


def make_certs(directory: Path, names: Sequence[str], ips: Sequence[str] = ()) -> Certs:
    """A CA, and a server certificate it signs for the given DNS names and IPs."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    ca_files = ("-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=netconform test CA")
    usage = ("-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-x509", "-days", "2", *EC_KEY, *ca_files, *usage)
    openssl(
        "req", *EC_KEY, "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={names[0]}"
    )
    san = ",".join([*(f"DNS:{n}" for n in names), *(f"IP:{ip}" for ip in ips)])
    (directory / "server.ext").write_text(
        f"subjectAltName={san}\n"
        "authorityKeyIdentifier=keyid\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
    )
    sign = ("-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-extfile", "server.ext")
    openssl("x509", "-req", "-in", "server.csr", *sign, "-days", "2", "-out", "server.pem")
    return Certs(directory / "ca.pem", directory / "server.pem", directory / "server.key")
