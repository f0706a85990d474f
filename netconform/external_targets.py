"""Containers next to a kind cluster, on kind's Docker network: egress targets running the
netprobe here, and the Docker plumbing the router fixture shares.

The spec's external CIDRs are the production intent; on kind the suite stands
up one container per external and tests the same policy against its address.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from netconform.docker_cli import docker
from netconform.lan import Lan, probe_address
from netconform.manifest import MANAGED_BY
from netconform.probe_client import NETPROBE_ARGV, NETPROBE_FILE, mounted
from netconform.spec import Architecture
from netconform.workloads import RUN_LABEL

KIND_NETWORK = "kind"


def container_name(run: str, external: str) -> str:
    return f"netconform-{run}-{external}"


def run_labels(run: str) -> list[str]:
    """`docker run` flags that let cleanup find a container of this run."""
    return [
        arg for k, v in {**MANAGED_BY, RUN_LABEL: run}.items() for arg in ("--label", f"{k}={v}")
    ]


def kind_address(container: str) -> str:
    return docker(
        "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container
    )


def placed(lan: Lan | None, address: str | None) -> list[str]:
    """`docker run` flags: at `address` on the LAN beside kind where it has a network for it,
    else anywhere on kind's network."""
    if lan is not None and address and lan.segment_of(address):
        return lan.placed(address)
    return ["--network", KIND_NETWORK]


def address_of(container: str, lan: Lan | None, address: str | None) -> str:
    return (
        address
        if lan is not None and address and lan.segment_of(address)
        else kind_address(container)
    )


def remove(*containers: str) -> None:
    for container in containers:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)


def start(
    arch: Architecture, run: str, image: str, netprobe: Path = NETPROBE_FILE, lan: Lan | None = None
) -> dict[str, str]:
    """One serving container per external, at its declared address on the LAN beside kind
    where there is one, else on kind's network; returns name -> address."""
    addresses = {}
    for name, external in arch.externals.items():
        tcp = ",".join(str(p.port) for p in external.ports if p.protocol == "TCP")
        udp = ",".join(str(p.port) for p in external.ports if p.protocol == "UDP")
        serve = ["serve", *(["--tcp", tcp] if tcp else []), *(["--udp", udp] if udp else [])]
        container = container_name(run, name)
        declared = probe_address(external)
        docker(
            *("run", "-d", "--rm", "--name", container, *placed(lan, declared)),
            *run_labels(run),
            *("-e", f"POD_NAME={name}", *mounted(netprobe)),
            *(image, *NETPROBE_ARGV, *serve),
        )
        addresses[name] = address_of(container, lan, declared)
    return addresses


def stop(run: str, externals: Mapping[str, str]) -> None:
    remove(*(container_name(run, name) for name in externals))


def remove_leftovers() -> list[str]:
    """Outside containers of any run (for `make clean`); none where Docker does not answer."""
    if not shutil.which("docker"):
        return []
    label = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        check=False,
    )
    containers = listed.stdout.split() if listed.returncode == 0 else []
    remove(*containers)
    return [f"container {c}" for c in containers]
