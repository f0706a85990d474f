"""Every verdict of netprobe, produced by real packets between lab namespaces.

A client probes a server across the lab bridge; nftables on the server makes
drops and rejects, dnsmasq answers DNS, netprobe's own HTTPS echo answers TLS.
All probes go in one batch, so this also shows a batch costs about one timeout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from lab.topology import Lab
from netconform.probe_client import HOST_NETPROBE_ARGV, ProbeSite
from tests.certs import make_certs

pytestmark = pytest.mark.lab

SERVER, DNS, WWW = "198.18.2.2", "198.18.2.53", "198.18.2.80"
TIMEOUT = 1.0
SERVER_RULES = """
table inet verdicts {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 9001 drop
    tcp dport 9002 reject with tcp reset
    tcp dport 9006 reject with icmp type admin-prohibited
    udp dport 9004 drop
  }
}
"""

PROBES = {
    "tcp open": ({"tcp": f"{SERVER}:8080", "read": True}, "connected"),
    "tcp policy drop": ({"tcp": f"{SERVER}:9001"}, "dropped"),
    "tcp policy reject": ({"tcp": f"{SERVER}:9002"}, "refused"),
    "tcp closed port": ({"tcp": f"{SERVER}:9003"}, "refused"),
    "tcp admin-prohibited": ({"tcp": f"{SERVER}:9006"}, "unreachable"),
    "tcp no route": ({"tcp": "[fd00:198:18::1]:80"}, "unreachable"),
    "udp answer": ({"udp": f"{SERVER}:5353", "payload": "hello"}, "connected"),
    "udp policy drop": ({"udp": f"{SERVER}:9004"}, "dropped"),
    "udp closed port": ({"udp": f"{SERVER}:9005"}, "refused"),
    "http 200": ({"http": f"http://{SERVER}:8081/x", "host": "www.home.arpa"}, "http-200"),
    "http 404": ({"http": f"http://{SERVER}:8081/status/404"}, "http-404"),
    "https 200": ({"http": f"https://{SERVER}:8443/", "sni": "echo.lab", "ca": "CA"}, "http-200"),
    "https wrong ca": (
        {"http": f"https://{SERVER}:8443/", "sni": "echo.lab", "ca": "WRONG"},
        "tls-error",
    ),
    "https wrong name": (
        {"http": f"https://{SERVER}:8443/", "sni": "other.lab", "ca": "CA"},
        "tls-error",
    ),
    "dns answer": ({"dns": "www.home.arpa", "server": f"{DNS}:53"}, "connected"),
    "dns over tcp": ({"dns": "www.home.arpa", "server": f"{DNS}:53", "tcp": True}, "connected"),
    "dns nxdomain": ({"dns": "nope.home.arpa", "server": f"{DNS}:53"}, "dns-error:NXDOMAIN"),
    "dns refused": ({"dns": "example.org", "server": f"{DNS}:53"}, "dns-error:REFUSED"),
}


@pytest.fixture(scope="module")
def verdict_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict, float]]:
    tmp = tmp_path_factory.mktemp("certs")
    certs = make_certs(tmp, ["echo.lab"])
    wrong = make_certs(tmp_path_factory.mktemp("wrong"), ["echo.lab"])
    with Lab() as lab:
        client = lab.host("client", "198.18.2.1")
        server = lab.host("server", SERVER)
        dns = lab.host("dns", DNS)
        echo = lab.spawn(
            server,
            [
                "env",
                "POD_NAME=server",
                "POD_NAMESPACE=lab",
                *HOST_NETPROBE_ARGV,
                "serve",
                "--bind",
                "0.0.0.0",
                "--tcp",
                "8080",
                "--udp",
                "5353",
                "--http",
                "8081",
                "--https",
                "8443",
                "--cert",
                str(certs.cert),
                "--key",
                str(certs.key),
            ],
        )
        dnsmasq = lab.spawn(
            dns,
            [
                "dnsmasq",
                "--no-daemon",
                "--no-resolv",
                "--no-hosts",
                "--pid-file=",
                f"--listen-address={DNS}",
                "--bind-interfaces",
                "--local=/home.arpa/",
                f"--address=/www.home.arpa/{WWW}",
            ],
        )
        lab.nft(server, SERVER_RULES)
        lab.wait_listening(server, [8080, 8081, 8443], echo)
        lab.wait_listening(dns, [53], dnsmasq)
        probes = []
        for name, (probe, _) in PROBES.items():
            probe = dict(probe, id=name, timeout=TIMEOUT)
            if "ca" in probe:
                probe["ca"] = str(certs.ca if probe["ca"] == "CA" else wrong.ca)
            probes.append(probe)
        start = time.monotonic()
        results = ProbeSite(client.exec, HOST_NETPROBE_ARGV).by_id(probes, timeout=30)
        yield results, time.monotonic() - start


@pytest.mark.parametrize("name", PROBES)
def test_verdict_on_real_packets(verdict_run: tuple[dict, float], name: str) -> None:
    results, _ = verdict_run
    assert results[name]["verdict"] == PROBES[name][1], results[name]


def test_echo_reports_who_answered_and_what_it_saw(verdict_run: tuple[dict, float]) -> None:
    results, _ = verdict_run
    assert results["tcp open"]["response"]["pod"] == "server"
    assert results["tcp open"]["response"]["client"].startswith("198.18.2.1:")
    assert results["udp answer"]["response"]["payload"] == "hello"
    http = results["http 200"]["response"]
    assert (http["host"], http["path"], http["namespace"]) == ("www.home.arpa", "/x", "lab")
    assert results["https 200"]["response"]["sni"] == "echo.lab"
    assert results["dns answer"]["answers"] == [WWW]
    assert results["dns over tcp"]["answers"] == [WWW]


def test_a_batch_costs_about_one_timeout(verdict_run: tuple[dict, float]) -> None:
    results, elapsed = verdict_run
    dropped = [r for r in results.values() if r["verdict"] == "dropped"]
    assert len(dropped) == 2 and all(r["elapsed_ms"] >= TIMEOUT * 1000 * 0.9 for r in dropped)
    assert elapsed < TIMEOUT * 2 + 1.0
