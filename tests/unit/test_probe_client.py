"""netprobe's one client, against the real netprobe on this machine: results in the
probes' order, and a netprobe that answers nothing usable is named, never read as verdicts."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from netconform.exec import Channel, LocalExec
from netconform.probe_client import (
    HOST_NETPROBE_ARGV,
    NetprobeUnanswered,
    ProbeSession,
    ProbeSite,
)

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


# A stand-in netprobe: `probe` answers at once; `session` answers each line after a pause,
# and only its first line when FAKE_ONCE is set (a pod that restarted between batches).
FAKE = """
import json, os, sys, time
def answer(line):
    return json.dumps({"results": [{"pid": os.getpid()} for _ in json.loads(line)["probes"]]})
if sys.argv[-1] == "probe":
    print(answer(sys.stdin.read()))
    sys.exit()
for line in sys.stdin:
    time.sleep(float(sys.argv[-2]))
    print(answer(line), flush=True)
    if sys.argv[-3] == "once":
        sys.exit()
"""


class Counting(LocalExec):
    """This host, counting the sessions it starts."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[Sequence[str]] = []

    def open(self, argv: Sequence[str]) -> Channel:
        self.opened.append(argv)
        return super().open(argv)


def fake_session(pause: float = 0.0, once: bool = False) -> tuple[ProbeSession, Counting]:
    exec_ = Counting()
    argv = (sys.executable, "-c", FAKE, "once" if once else "always", str(pause))
    return ProbeSession(exec_, argv), exec_


def pids(session: ProbeSession, timeout: float = 20) -> set[int]:
    return {r["pid"] for r in session.probe([{"tcp": "127.0.0.1:1"}] * 3, timeout)}


def test_a_session_answers_batch_after_batch_from_one_process() -> None:
    session, exec_ = fake_session()
    try:
        seen = [pids(session) for _ in range(4)]
    finally:
        session.close()
    assert len(set.union(*seen)) == 1, seen
    assert len(exec_.opened) == 1


def test_the_real_netprobe_keeps_a_session(listening: int) -> None:
    session = ProbeSession(LocalExec(), HOST_NETPROBE_ARGV)
    try:
        for _ in range(3):
            [result] = session.probe([{"tcp": f"127.0.0.1:{listening}", "timeout": 1.0}], 20)
            assert result["verdict"] == "connected"
        with pytest.raises(NetprobeUnanswered, match=r"session answered.*bad port"):
            session.probe([{"tcp": "127.0.0.1:notaport"}], 20)
        [result] = session.probe([{"tcp": f"127.0.0.1:{listening}", "timeout": 1.0}], 20)
        assert result["verdict"] == "connected"  # a bad batch ends no session
    finally:
        session.close()


def test_a_session_that_ended_between_batches_is_started_again_once() -> None:
    session, exec_ = fake_session(once=True)
    try:
        first, second = pids(session), pids(session)
    finally:
        session.close()
    assert first != second
    assert len(exec_.opened) == 2


def test_a_session_past_its_timeout_is_named_and_not_read_again() -> None:
    session, exec_ = fake_session(pause=1.5)
    try:
        with pytest.raises(NetprobeUnanswered, match=r"no answer within 0\.5s"):
            pids(session, timeout=0.5)
        pids(session, timeout=20)  # its own answer, not the late one of the batch before
    finally:
        session.close()
    assert len(exec_.opened) == 2


def test_a_batch_beside_a_running_one_goes_by_an_exec_of_its_own() -> None:
    session, exec_ = fake_session(pause=2.0)
    try:
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(pids, session)
            time.sleep(0.5)
            beside = pids(session)
            assert beside.isdisjoint(running.result())
    finally:
        session.close()
    assert len(exec_.opened) == 1
