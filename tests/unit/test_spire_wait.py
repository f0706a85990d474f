"""Waiting for mutual authentication: a server that lost its entries is restarted once, and a
wait that runs out names what is missing."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from netconform.checks.mutual_auth import SpireState
from netconform.spire import MutualAuthNotReady, wait_ready
from netconform.timeouts import Timeouts

READY = SpireState(
    trust_domain="spiffe.cilium",
    namespace="cilium-spire",
    server="",
    server_restarts=0,
    entries=frozenset(
        f"spiffe://spiffe.cilium{p}"
        for p in ("/ns/cilium-spire/sa/spire-agent", "/cilium-agent", "/cilium-operator")
    ),
    attested={"w": "spiffe://spiffe.cilium/spire/agent/k8s_psat/default/u"},
    nodes=("w",),
    delegates={"cilium-a on w": ""},
)
LOST = replace(
    READY, server_restarts=1, entries=frozenset(), delegates={"cilium-a on w": "no identity"}
)
FAST = Timeouts(spire=0.3, poll=0.01)


@dataclass
class FakeSpire:
    """Lost its entries until restarted; ready after."""

    restarts: int = 0

    def state(self, identities: dict[str, str] | None = None) -> SpireState:
        return READY if self.restarts else LOST

    def restart_server(self) -> None:
        self.restarts += 1


def test_a_server_that_lost_its_entries_is_restarted_once_and_then_ready() -> None:
    spire = FakeSpire()
    said: list[str] = []
    verdict = wait_ready(spire, FAST, progress=said.append)  # type: ignore[arg-type]
    assert verdict.ok and spire.restarts == 1
    assert said == [
        "SPIRE server restarted 1 time(s) after its entries were made, and nothing makes them "
        "again: restarting it and the Cilium operator"
    ]


def test_a_wait_that_runs_out_names_what_is_missing() -> None:
    class NeverReady(FakeSpire):
        def state(self, identities: dict[str, str] | None = None) -> SpireState:
            return replace(READY, delegates={"cilium-a on w": "no identity issued"})

    with pytest.raises(MutualAuthNotReady) as raised:
        wait_ready(NeverReady(), FAST, progress=lambda _: None)  # type: ignore[arg-type]
    assert str(raised.value).startswith("after 0.3 s: mutual authentication not ready: 1 missing")
    assert (
        "! Cilium agent cilium-a on w: SPIRE delegate stream not established: no identity issued"
    ) in str(raised.value).splitlines()
