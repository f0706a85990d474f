"""The split-DNS configuration rendered from the spec: the cluster's Corefile with a forward
block per internal zone, and the zone files and Corefile of the servers standing in for the
internal zone servers and the external resolver.

Every server is CoreDNS (`file` answers authoritatively, `log` writes the query
log that shows which server a query reached). One renderer serves the lab's
namespaces and the containers next to kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from netconform.spec import Dns

ROOT_ZONE = "."
SOA_SERIAL = 1
# `log` writes: [INFO] 198.18.53.2:40123 - 4321 "A IN nas.home.arpa. udp 42 false 512" NOERROR ...
_LOGGED = re.compile(r'"\S+ IN (\S+?)\.? (?:udp|tcp) ')
# The TTL every rendered record carries: short, so a cached answer never outlives a test.
TTL = 5


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else f"{name}."


def zone_file(zone: str, records: Iterable[tuple[str, str, Sequence[str]]]) -> str:
    """An authoritative zone: SOA and NS, then (name, type, addresses) for names in it."""
    origin = _fqdn(zone) if zone != ROOT_ZONE else ROOT_ZONE
    lines = [
        f"$ORIGIN {origin}",
        f"$TTL {TTL}",
        f"@ IN SOA ns.netconform. hostmaster.netconform. {SOA_SERIAL} 3600 600 86400 {TTL}",
        "@ IN NS ns.netconform.",
    ]
    for name, rtype, addresses in records:
        lines += [f"{_fqdn(name)} IN {rtype} {address}" for address in addresses]
    return "\n".join(lines) + "\n"


def inside_zones(dns: Dns) -> dict[str, str]:
    """The zone files of the internal zone servers (zone -> file): each zone's inside records."""
    return {
        zone.name: zone_file(
            zone.name,
            (
                (r.name, r.type, [str(a) for a in r.inside])
                for r in dns.records
                if dns.zone_of(r.name) == zone
            ),
        )
        for zone in dns.zones
    }


def outside_zone(dns: Dns) -> str:
    """The external resolver's one root zone: every name's outside records."""
    return zone_file(
        ROOT_ZONE, ((r.name, r.type, [str(a) for a in r.outside]) for r in dns.records)
    )


def zone_file_name(zone: str) -> str:
    return f"db.{zone.strip('.') or 'root'}"


def server_corefile(zones: Iterable[str], directory: str = "/etc/coredns") -> str:
    """A CoreDNS server authoritative for `zones` from their files in `directory`, logging
    every query; any other name is REFUSED, as an authoritative server does."""
    return "".join(
        f"{zone}:53 {{\n    log\n    errors\n"
        f"    file {directory}/{zone_file_name(zone)} {zone}\n}}\n"
        for zone in zones
    )


def write_server(directory: Path, zones: Mapping[str, str], config_dir: str) -> Path:
    """A server's zone files (zone -> file) and Corefile into `directory`, which the server
    sees as `config_dir`; returns the Corefile."""
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    for zone, text in zones.items():
        (directory / zone_file_name(zone)).write_text(text)
    corefile = directory / "Corefile"
    corefile.write_text(server_corefile(zones, config_dir))
    return corefile


_DEFAULT_FORWARD = re.compile(r"^(\s*)forward\s+\.\s+[^{\n]*?(\s*\{)?$", re.MULTILINE)


def cluster_corefile(
    original: str, dns: Dns, zone_servers: Mapping[str, Sequence[str]], upstream: Sequence[str]
) -> str:
    """The cluster's Corefile with a server block per internal zone forwarding to its servers,
    and its catch-all `forward .` sent to the upstream resolvers. `zone_servers` and
    `upstream` are the addresses really used (containers on kind, lab namespaces)."""
    edited, count = _DEFAULT_FORWARD.subn(
        lambda m: f"{m.group(1)}forward . {' '.join(upstream)}{m.group(2) or ''}", original, count=1
    )
    if count != 1:
        raise ValueError("the Corefile has no `forward .` line to point at the upstream")
    blocks = [
        f"{zone.name}:53 {{\n    errors\n    cache {TTL}\n"
        f"    forward . {' '.join(zone_servers[zone.name])}\n}}"
        for zone in dns.zones
    ]
    return edited.rstrip("\n") + "\n" + "\n".join(blocks) + "\n"


def logged_names(log: str) -> set[str]:
    """The names a CoreDNS server's query log (the `log` plugin) shows it was asked."""
    return set(_LOGGED.findall(log))
