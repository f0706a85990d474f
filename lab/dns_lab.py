"""Split DNS on real CoreDNS: the cluster's resolver with its forward zones, the internal zone
servers and the external resolver, each in its own namespace at the spec's address.

The resolver runs the Corefile `netconform.dns_config.cluster_corefile` renders for
the cluster (over a minimal stand-in for kubeadm's); the servers run the zone
files and Corefile rendered for the containers next to kind. A client asks
through the real netprobe, as pods do. Each server's query log shows which
server a query reached.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lab.topology import Host, Lab
from netconform import dns_config as render
from netconform.checks.dns import Answer, Question
from netconform.dns_probing import ask
from netconform.dns_servers import UPSTREAM, zone_files
from netconform.probe_client import HOST_NETPROBE_ARGV, ProbeSite
from netconform.spec import Dns

BASE_COREFILE = """.:53 {
    errors
    forward . /etc/resolv.conf
    cache 30
}
"""
RESOLVER, CLIENT = "198.18.53.2", "198.18.53.3"


@dataclass
class DnsLab:
    lab: Lab
    client: Host
    resolver: Host
    servers: dict[str, Host]  # zone name, or UPSTREAM -> its server
    logs: dict[str, Path]

    def ask(
        self, questions: Mapping[Question, str], timeout: float = 3.0
    ) -> dict[Question, Answer]:
        """Each question of its server's address, from the client."""
        return ask(ProbeSite(self.client.exec, HOST_NETPROBE_ARGV), dict(questions), timeout)

    def logged(self) -> dict[str, set[str]]:
        """The names each server's query log shows."""
        return {server: render.logged_names(path.read_text()) for server, path in self.logs.items()}


@dataclass(frozen=True)
class Servers:
    """What each server runs: its zone files (zone -> file text)."""

    zones: Mapping[str, Mapping[str, str]]  # server -> zone -> zone file
    addresses: Mapping[str, str]  # server -> address


def spec_servers(dns: Dns) -> Servers:
    """The healthy servers: each zone's inside records at its first forward_to address, the
    outside records at the first upstream."""
    addresses = {zone.name: str(zone.forward_to[0]) for zone in dns.zones}
    addresses[UPSTREAM] = str(dns.upstream[0])
    return Servers(zone_files(dns), addresses)


@contextmanager
def dns_lab(
    dns: Dns,
    corefile: str,
    servers: Servers,
    coredns: Path,
    stopped: Sequence[str] = (),
) -> Iterator[DnsLab]:
    """The resolver runs `corefile`; every server of `servers` but the `stopped` ones runs."""
    with tempfile.TemporaryDirectory(prefix="netconform-dns-") as tmp, Lab() as lab:
        workdir = Path(tmp)
        client = lab.host("client", CLIENT)
        resolver = lab.host("resolver", RESOLVER)
        (workdir / "resolver").mkdir()
        (workdir / "resolver" / "Corefile").write_text(corefile)
        process = lab.spawn(
            resolver, [str(coredns), "-conf", str(workdir / "resolver" / "Corefile")]
        )
        lab.wait_listening(resolver, [53], process)
        hosts, logs = {}, {}
        for server, zones in servers.zones.items():
            hosts[server] = lab.host(server.replace(".", "-"), servers.addresses[server])
            if server in stopped:
                continue
            directory = workdir / server
            corefile_path = render.write_server(directory, zones, str(directory))
            logs[server] = directory / "query.log"
            argv = [str(coredns), "-conf", str(corefile_path)]
            started = lab.spawn(hosts[server], argv, log=logs[server])
            lab.wait_listening(hosts[server], [53], started)
        yield DnsLab(lab, client, resolver, hosts, logs)
