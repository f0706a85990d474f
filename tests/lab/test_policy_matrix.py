"""The reachability engine over the default architecture's full matrix, on real packets.

The healthy lab must pass; each mutation of the nftables ground truth must
fail naming exactly the cell it broke.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lab.policy_lab import TABLE, PolicyLab, policy_lab
from netconform.checks.connection_tracking import check_held
from netconform.convergence import Convergence
from netconform.engine import ReachabilityEngine
from netconform.matrix import (
    ALLOWED,
    AUTH_DROP,
    DENIED,
    Cell,
    ExpectedMatrix,
    Observed,
    expected_matrix,
    restrict,
)
from netconform.spec import load
from netconform.verdict import Verdict

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
ARCH = load(ROOT / "architecture.yaml")
EXPECTED = expected_matrix(ARCH)
PROBE_TIMEOUT = 0.8
SETTLE = Convergence(timeout=2, consistent_rounds=2)


@pytest.fixture(scope="module")
def lab() -> Iterator[PolicyLab]:
    with policy_lab(ARCH, EXPECTED) as made:
        yield made


@pytest.fixture
def healthy(lab: PolicyLab) -> Iterator[PolicyLab]:
    lab.apply(lab.healthy())
    yield lab
    lab.apply(lab.healthy())


def a_cell(expect, destination_kind: str = "workload") -> Cell:
    return next(
        c
        for c, e in sorted(EXPECTED.cells.items())
        if e == expect and c.destination.kind == destination_kind
    )


def wrong_lines(evidence: str) -> list[str]:
    return [line for line in evidence.splitlines() if line.startswith(("! wrong", "~ flapping"))]


def test_matrix_is_big_and_mostly_denied() -> None:
    assert len(EXPECTED.cells) >= 60
    assert EXPECTED.count(DENIED) / len(EXPECTED.cells) >= 0.4


def test_healthy_lab_passes(healthy: PolicyLab) -> None:
    verdict = ReachabilityEngine(healthy.prober(PROBE_TIMEOUT), SETTLE).check(EXPECTED)
    assert verdict.ok, str(verdict)
    assert f"all {len(EXPECTED.cells)} cells as expected" in verdict.summary


def test_ten_healthy_rounds_observe_identical_matrices(healthy: PolicyLab) -> None:
    prober = healthy.prober(PROBE_TIMEOUT)
    rounds = [{c: o.verdict for c, o in prober.observe(EXPECTED.cells).items()} for _ in range(10)]
    assert all(r == rounds[0] for r in rounds[1:])
    assert rounds[0] == {c: min(e.verdicts) for c, e in EXPECTED.cells.items()}


MUTATIONS: dict[str, tuple[Callable[[], Cell], str, str]] = {
    # name: (the cell to break, nftables action, verdict the check must name)
    "leaked deny": (lambda: a_cell(DENIED), "accept", "expected dropped, got connected"),
    "deny done as reject": (lambda: a_cell(DENIED), "reject", "expected dropped, got refused"),
    "blocked allowed flow": (lambda: a_cell(ALLOWED), "drop", "expected connected, got dropped"),
    "egress leak to the world": (
        lambda: a_cell(DENIED, "external"),
        "accept",
        "expected dropped, got connected",
    ),
    "dns blocked": (lambda: a_cell(ALLOWED, "service"), "drop", "expected connected, got dropped"),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_mutation_fails_naming_exactly_that_cell(healthy: PolicyLab, mutation: str) -> None:
    pick, action, words = MUTATIONS[mutation]
    cell = pick()
    healthy.apply({**healthy.healthy(), cell: action})
    verdict = ReachabilityEngine(healthy.prober(PROBE_TIMEOUT), SETTLE).check(EXPECTED)
    assert not verdict.ok
    assert verdict.summary.startswith(f"reachability: 1 of {len(EXPECTED.cells)} cells wrong")
    lines = wrong_lines(verdict.evidence)
    assert len(lines) == 1 and lines[0].startswith(f"! wrong: {cell} {words}"), verdict.evidence
    assert f"reproduce: ip netns exec {healthy.hosts[cell.source].netns} " in verdict.evidence


class Flipping:
    """Toggles one leak before every round: a policy that never settles."""

    def __init__(self, lab: PolicyLab, cell: Cell) -> None:
        self.lab, self.cell, self.rounds = lab, cell, 0
        self.prober = lab.prober(PROBE_TIMEOUT)

    def observe(self, cells) -> Observed:
        self.rounds += 1
        action = "accept" if self.rounds % 2 else "drop"
        self.lab.apply({**self.lab.healthy(), self.cell: action})
        return self.prober.observe(cells)


def test_a_flow_that_flips_between_rounds_is_reported_flapping(healthy: PolicyLab) -> None:
    cell = a_cell(DENIED)
    flipping = Flipping(healthy, cell)
    prober = healthy.prober(PROBE_TIMEOUT)
    prober.observe = flipping.observe  # type: ignore[method-assign]
    verdict = ReachabilityEngine(prober, Convergence(timeout=4, consistent_rounds=3)).check(
        EXPECTED
    )
    assert not verdict.ok and flipping.rounds >= 3
    assert "1 flapping" in verdict.summary
    assert wrong_lines(verdict.evidence)[-1].startswith(
        f"~ flapping: {cell} over the last 3 rounds:"
    )


def test_a_restricted_matrix_checks_only_its_slice(healthy: PolicyLab) -> None:
    egress = restrict(EXPECTED, (c for c in EXPECTED.cells if c.destination.kind == "external"))
    verdict = ReachabilityEngine(healthy.prober(PROBE_TIMEOUT), SETTLE).check(egress)
    assert verdict.ok and f"all {len(egress.cells)} cells" in verdict.summary


def test_a_drop_for_another_reason_than_the_expected_one_fails_naming_both(
    healthy: PolicyLab,
) -> None:
    """The lab's drops carry no reason of their own: the reasons stand in for Hubble's."""
    denied = a_cell(DENIED)
    named = ExpectedMatrix({**EXPECTED.cells, denied: AUTH_DROP})
    prober = healthy.prober(PROBE_TIMEOUT)

    def policy_drops(cell: Cell) -> list[str]:
        return ["POLICY_DENIED"]

    wrong = ReachabilityEngine(prober, SETTLE, drop_reasons=policy_drops).check(named)
    assert not wrong.ok
    assert "drop reasons: 1 of 1 cells dropped for another reason or not seen" in wrong.summary
    assert (
        f"! {denied}: expected a AUTH_REQUIRED drop; Hubble's newest drop: POLICY_DENIED"
        in wrong.evidence
    )
    right = ReachabilityEngine(prober, SETTLE, drop_reasons=lambda cell: ["AUTH_REQUIRED"])
    assert right.check(named).ok
    unseen = ReachabilityEngine(prober, SETTLE, drop_reasons=lambda cell: []).check(named)
    assert "Hubble saw no drop" in unseen.evidence
    blind = ReachabilityEngine(prober, SETTLE).check(named)
    assert not blind.ok and "Hubble relay is not installed" in blind.summary


def _held_across(healthy: PolicyLab, cell: Cell, change: Callable[[], None]) -> Verdict:
    """A connection held on `cell` for 3 s while `change` runs a second in (a restart)."""
    prober = healthy.prober(PROBE_TIMEOUT)
    probe = {"id": "held", "hold": f"{prober.address(cell)}:{cell.port.port}", "every_ms": 100,
             "timeout": 3.0}  # fmt: skip
    with ThreadPoolExecutor(1) as pool:
        holding = pool.submit(prober.sites[cell.source].probe, [probe], 10.0)
        time.sleep(1.0)
        change()
        return check_held(holding.result(), [("the lab's firewall", 1.0, 1.2)])


def test_a_held_connection_lives_through_a_ruleset_reload_that_keeps_conntrack(
    healthy: PolicyLab,
) -> None:
    """Like an agent restart: the rules are written again, established connections go on."""
    cell = next(c for c in EXPECTED.cells if EXPECTED.cells[c] == ALLOWED and c.port.port == 5432)
    verdict = _held_across(healthy, cell, lambda: healthy.apply(healthy.healthy()))
    assert verdict.ok, verdict


def test_a_reload_that_resets_established_connections_fails_naming_when(
    healthy: PolicyLab,
) -> None:
    cell = next(c for c in EXPECTED.cells if EXPECTED.cells[c] == ALLOWED and c.port.port == 5432)
    source = healthy.hosts[cell.source].address
    reset = (
        f"insert rule inet {TABLE} input ip saddr {source} tcp dport {cell.port.port} "
        "reject with tcp reset\n"
    )
    verdict = _held_across(
        healthy, cell, lambda: healthy.lab.nft(healthy.hosts[cell.destination], reset)
    )
    assert not verdict.ok
    assert "held: refused after " in verdict.evidence
    assert "while the lab's firewall restarted" in verdict.evidence


def test_a_service_address_that_bypasses_policy_fails_naming_its_cells(healthy: PolicyLab) -> None:
    """The Service suite's claim, on real packets: the matrix through each workload's Service
    address equals the one to its pods; an address that accepts what the pod's rules drop
    fails naming exactly the cells through it, while the pod addresses stay healthy."""
    prober = healthy.prober(PROBE_TIMEOUT)
    through = prober.through(healthy.vips, sources=healthy.vips)
    matrix = restrict(EXPECTED, (c for c in EXPECTED.cells if c.destination in healthy.vips))
    matrix = through.probed(matrix)
    assert ReachabilityEngine(through, SETTLE).check(matrix).ok
    victim = next(c.destination for c, e in sorted(matrix.cells.items()) if e == DENIED)
    healthy.apply(healthy.healthy(), open_vips={victim})
    verdict = ReachabilityEngine(through, SETTLE).check(matrix)
    leaked = {str(c) for c, e in matrix.cells.items() if c.destination == victim and e == DENIED}
    assert not verdict.ok and leaked
    assert {wrong.cell for wrong in verdict.wrong} == leaked
    assert {(wrong.expected, wrong.got) for wrong in verdict.wrong} == {("dropped", "connected")}
    assert ReachabilityEngine(prober, SETTLE).check(EXPECTED).ok
