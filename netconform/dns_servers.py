"""The spec's DNS servers next to kind: one CoreDNS container per internal zone and one for the
external resolver, on kind's network, serving the zone files `netconform.dns_config` renders.

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
from typing import TYPE_CHECKING

from netconform import dns_config as render
from netconform.docker_cli import docker
from netconform.external_targets import address_of, placed, remove, run_labels
from netconform.spec import Dns

if TYPE_CHECKING:
    from netconform.lan import Lan

UPSTREAM = "upstream"
CONFIG_DIR = "/etc/coredns"


@dataclass(frozen=True)
class DnsServers:
    containers: dict[str, str]  # zone name, or UPSTREAM -> container
    addresses: dict[str, str]  # the same keys -> address beside kind
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


def declared_addresses(dns: Dns) -> dict[str, str]:
    """Where the spec says each server is: a zone's first forward target, the first upstream."""
    found = {zone.name: str(zone.forward_to[0]) for zone in dns.zones}
    if dns.upstream:
        found[UPSTREAM] = str(dns.upstream[0])
    return found


def start(dns: Dns, run: str, image: str, lan: Lan | None = None) -> DnsServers:
    """Every server running, at its declared address on the LAN beside kind where there is
    one, else on kind's network; or none: a failure removes what was started."""
    files = Path(tempfile.mkdtemp(prefix="netconform-dns-"))
    containers: dict[str, str] = {}
    declared = declared_addresses(dns)
    addresses: dict[str, str] = {}
    try:
        for server, zones in zone_files(dns).items():
            directory = files / server
            render.write_server(directory, zones, CONFIG_DIR)
            container = f"netconform-{run}-dns-{server.replace('.', '-')}"
            docker(
                *("run", "-d", "--rm", "--name", container, *placed(lan, declared.get(server))),
                *run_labels(run),
                *("-v", f"{directory}:{CONFIG_DIR}:ro"),
                *(image, "-conf", f"{CONFIG_DIR}/Corefile"),
            )
            containers[server] = container
            addresses[server] = address_of(container, lan, declared.get(server))
    except (RuntimeError, OSError):
        remove(*containers.values())
        shutil.rmtree(files, ignore_errors=True)
        raise
    return DnsServers(containers, addresses, files)


def stop(servers: DnsServers) -> None:
    remove(*servers.containers.values())
    shutil.rmtree(servers.files, ignore_errors=True)
