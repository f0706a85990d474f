"""netprobe's one client, against the real netprobe on this machine: results in the
probes' order, and a netprobe that answers nothing usable is named, never read as verdicts."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator

import pytest

from netconform.exec import LocalExec
from netconform.probe_client import HOST_NETPROBE_ARGV, NetprobeUnanswered, ProbeSite

SITE = ProbeSite(LocalExec(), HOST_NETPROBE_ARGV)


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_results_come_in_the_probes_order_and_by_their_ids(listening: int) -> None:
    probes = [
        {"id": "open", "tcp": f"127.0.0.1:{listening}", "timeout": 1.0},
        {"id": "bad", "tcp": "127.0.0.1:notaport", "timeout": 1.0},
    ]
    with pytest.raises(NetprobeUnanswered, match="netprobe exit 2"):
        SITE.probe(probes, timeout=20)
    results = SITE.by_id(probes[:1], timeout=20)
    assert results["open"]["verdict"] == "connected"


def test_an_agent_that_prints_no_results_is_named() -> None:
    silent = ProbeSite(LocalExec(), (sys.executable, "-c", "print('hello')"))
    with pytest.raises(NetprobeUnanswered, match="netprobe exit 0: hello"):
        silent.probe([{"tcp": "127.0.0.1:1"}], timeout=20)


def test_a_call_past_its_timeout_is_named() -> None:
    stuck = ProbeSite(LocalExec(), (sys.executable, "-c", "import time; time.sleep(5)"))
    with pytest.raises(NetprobeUnanswered):
        stuck.probe([{"tcp": "127.0.0.1:1"}], timeout=0.5)


def test_the_command_line_runs_one_probe_as_the_site_would() -> None:
    line = SITE.command_line({"tcp": "127.0.0.1:1"})
    assert line.endswith(' probe <<< \'{"tcp": "127.0.0.1:1"}\''), line
    assert HOST_NETPROBE_ARGV[1] in line
