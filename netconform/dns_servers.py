"""The spec's DNS servers next to kind: one CoreDNS container per internal zone and one for the
external resolver, on kind's network, serving the zone files `netconform.dns` renders.

The spec's `forward_to` and `upstream` addresses are the production intent; on
kind the cluster's CoreDNS is pointed at these containers' addresses instead,
as externals are probed at theirs. Each server logs every query it gets:
`docker logs` is the evidence of which server a query reached.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from netconform import dns as render
from netconform.external_targets import KIND_NETWORK, docker, kind_address, remove, run_labels
from netconform.spec import Dns

UPSTREAM = "upstream"
CONFIG_DIR = "/etc/coredns"


@dataclass(frozen=True)
class DnsServers:
    containers: dict[str, str]  # zone name, or UPSTREAM -> container
    addresses: dict[str, str]  # the same keys -> address on kind's network
    files: Path

    def logged(self) -> dict[str, set[str]]:
        """The names each server's query log shows."""
        return {
            server: render.logged_names(docker("logs", container))
            for server, container in self.containers.items()
        }


def zone_files(dns: Dns) -> dict[str, dict[str, str]]:
    """server -> zone -> zone file: each internal zone's server, and the upstream's root."""
    files = {zone: {zone: text} for zone, text in render.inside_zones(dns).items()}
    files[UPSTREAM] = {render.ROOT_ZONE: render.outside_zone(dns)}
    return files


def start(dns: Dns, run: str, image: str) -> DnsServers:
    """Every server running, or none: a failure removes what was started."""
    files = Path(tempfile.mkdtemp(prefix="netconform-dns-"))
    containers: dict[str, str] = {}
    try:
        for server, zones in zone_files(dns).items():
            directory = files / server
            render.write_server(directory, zones, CONFIG_DIR)
            container = f"netconform-{run}-dns-{server.replace('.', '-')}"
            docker(
                *("run", "-d", "--rm", "--name", container, "--network", KIND_NETWORK),
                *run_labels(run),
                *("-v", f"{directory}:{CONFIG_DIR}:ro"),
                *(image, "-conf", f"{CONFIG_DIR}/Corefile"),
            )
            containers[server] = container
        addresses = {server: kind_address(c) for server, c in containers.items()}
    except (RuntimeError, OSError):
        remove(*containers.values())
        shutil.rmtree(files, ignore_errors=True)
        raise
    return DnsServers(containers, addresses, files)


def stop(servers: DnsServers) -> None:
    remove(*servers.containers.values())
    shutil.rmtree(servers.files, ignore_errors=True)
