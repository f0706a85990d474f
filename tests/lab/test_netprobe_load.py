"""A batch of many probes to one open port is all `connected`: nothing overflows.

An overflowed accept queue drops the SYN, which looks exactly like a policy
drop, so a leaked flow would pass as a correct deny. Probed across the lab
bridge, with one port dropped by nftables beside it so the batch also shows
that the drops still cost one timeout and are still seen as drops.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest

from lab.topology import Host, Lab
from netconform.probe_client import HOST_NETPROBE_ARGV, ProbeSite

pytestmark = pytest.mark.lab

SERVER = "198.18.3.2"
TIMEOUT = 1.0
DROP_RULES = """
table inet load {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 9001 drop
  }
}
"""


@pytest.fixture(scope="module")
def client() -> Iterator[Host]:
    with Lab() as lab:
        client = lab.host("client", "198.18.3.1")
        server = lab.host("server", SERVER)
        echo = lab.spawn(
            server, [*HOST_NETPROBE_ARGV, "serve", "--bind", "0.0.0.0", "--tcp", "8080"]
        )
        lab.nft(server, DROP_RULES)
        lab.wait_listening(server, [8080], echo)
        yield client


def probe(client: Host, probes: list[dict]) -> tuple[Counter[str], float]:
    start = time.monotonic()
    results = ProbeSite(client.exec, HOST_NETPROBE_ARGV).probe(probes, timeout=60)
    return Counter(r["verdict"] for r in results), time.monotonic() - start


def test_a_thousand_concurrent_probes_to_one_open_port_all_connect(client: Host) -> None:
    verdicts, _ = probe(client, [{"tcp": f"{SERVER}:8080", "timeout": TIMEOUT}] * 1500)
    assert verdicts == Counter({"connected": 1500})


def test_opens_and_drops_in_one_large_batch_cost_about_one_timeout(client: Host) -> None:
    opens = [{"tcp": f"{SERVER}:8080", "timeout": TIMEOUT}] * 1000
    drops = [{"tcp": f"{SERVER}:9001", "timeout": TIMEOUT}] * 1000
    verdicts, elapsed = probe(client, opens + drops)
    assert verdicts == Counter({"connected": 1000, "dropped": 1000})
    assert elapsed < 3 * TIMEOUT
