"""The default architecture's endpoints as lab hosts, with nftables as the policy.

Every endpoint is a namespace running the real netprobe. The policy ground truth
is an nftables ruleset on each destination's input hook, generated from a
truth table: `accept` for allowed cells, `drop` (what Cilium does) or
`reject` (a misconfiguration: the packet reached the host) for the rest.
Mutations edit the truth table and re-apply it. Each workload also answers at a second
address, its Service's, judged by the same rules unless a mutation opens that address alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from lab.topology import Host, Lab
from netconform.matrix import ALLOWED, Cell, Endpoint, ExpectedMatrix
from netconform.probe_client import HOST_NETPROBE_ARGV, ProbeSite
from netconform.probing import MatrixProber
from netconform.spec import Architecture

TABLE = "netconform_lab"
VIP_BASE = "198.18.2.10"


def lab_address(arch: Architecture, endpoint: Endpoint, index: int) -> str:
    """Workloads and services get 198.18.1.x; an external sits inside its own CIDR."""
    if endpoint.kind == "external":
        network = arch.externals[endpoint.name].cidr
        return str(network.network_address + (10 if network.num_addresses > 10 else 0))
    return str(ipaddress.ip_address("198.18.1.10") + index)


@dataclass
class PolicyLab:
    lab: Lab
    expected: ExpectedMatrix
    hosts: dict[Endpoint, Host]
    actions: dict[Cell, str] = field(default_factory=dict)
    vips: dict[Endpoint, str] = field(default_factory=dict)
    open_vips: frozenset[Endpoint] = frozenset()

    def prober(self, timeout: float) -> MatrixProber:
        sites = {e: ProbeSite(h.exec, HOST_NETPROBE_ARGV) for e, h in self.hosts.items()}
        addresses = {e: h.address for e, h in self.hosts.items()}
        return MatrixProber(sites, addresses, timeout)

    def healthy(self) -> dict[Cell, str]:
        return {c: "accept" if e == ALLOWED else "drop" for c, e in self.expected.cells.items()}

    def apply(self, actions: Mapping[Cell, str], open_vips: Collection[Endpoint] = ()) -> None:
        """Replace every destination's ruleset with the one this truth table implies; the
        Service addresses of `open_vips` accept everything (a path that bypasses policy)."""
        self.actions = dict(actions)
        self.open_vips = frozenset(open_vips)
        for destination, host in self.hosts.items():
            self.lab.nft(host, self._ruleset(destination))

    def _ruleset(self, destination: Endpoint) -> str:
        rules = (
            [f"ip daddr {self.vips[destination]} accept"] if destination in self.open_vips else []
        )
        for cell, action in sorted(self.actions.items()):
            if cell.destination != destination or action == "drop":
                continue
            proto = cell.port.protocol.lower()
            verb = "reject with tcp reset" if action == "reject" and proto == "tcp" else action
            source = self.hosts[cell.source].address
            rules.append(f"ip saddr {source} {proto} dport {cell.port.port} {verb}")
        body = "\n    ".join(rules)
        return (
            f"table inet {TABLE}\ndelete table inet {TABLE}\n"
            f"table inet {TABLE} {{\n  chain input {{\n"
            "    type filter hook input priority 0; policy accept;\n"
            "    ct state established,related accept\n"
            '    iifname "lo" accept\n'
            f"    {body}\n"
            "    meta l4proto { tcp, udp } drop\n"
            "  }\n}\n"
        )


@contextmanager
def policy_lab(arch: Architecture, expected: ExpectedMatrix) -> Iterator[PolicyLab]:
    endpoints = sorted({c.source for c in expected.cells} | {c.destination for c in expected.cells})
    tcp = sorted({c.port.port for c in expected.cells if c.port.protocol == "TCP"})
    udp = sorted({c.port.port for c in expected.cells if c.port.protocol == "UDP"})
    with Lab() as lab:
        hosts: dict[Endpoint, Host] = {}
        for index, endpoint in enumerate(endpoints):
            name = endpoint.name.replace("/", "-")
            hosts[endpoint] = lab.host(name, lab_address(arch, endpoint, index))
        agents = {}
        for endpoint, host in hosts.items():
            env = {"POD_NAME": endpoint.name, "POD_NAMESPACE": endpoint.environment or ""}
            agents[host] = lab.spawn(
                host,
                [
                    "env",
                    *(f"{k}={v}" for k, v in env.items()),
                    *HOST_NETPROBE_ARGV,
                    "serve",
                    "--bind",
                    "0.0.0.0",
                    "--tcp",
                    ",".join(map(str, tcp)),
                    "--udp",
                    ",".join(map(str, udp)),
                ],
            )
        for host, agent in agents.items():
            lab.wait_listening(host, tcp, agent)
        vips = {
            endpoint: str(ipaddress.ip_address(VIP_BASE) + index)
            for index, endpoint in enumerate(endpoints)
            if endpoint.kind == "workload"
        }
        for endpoint, vip in vips.items():
            lab.alias(hosts[endpoint], vip)
        made = PolicyLab(lab, expected, hosts, vips=vips)
        made.apply(made.healthy())
        yield made
