"""The disruption checker: gaps measured from the last good answer to the next, a denied probe
that connects once is a leak, and a run that measured nothing never passes."""

from __future__ import annotations

import pytest

from netconform.checks.disruption import (
    ANSWERED,
    DENIED,
    Attempt,
    Series,
    check_disruption,
    figures,
    longest_gap,
)


def attempts(*pattern: tuple[float, bool]) -> tuple[Attempt, ...]:
    return tuple(Attempt(at, good, "connected" if good else "dropped") for at, good in pattern)


def test_a_gap_runs_from_the_last_good_answer_to_the_next() -> None:
    series = attempts((0, True), (1, True), (2, False), (3, False), (4.5, True), (5, True))
    assert longest_gap(series) == 3.5


def test_the_longest_of_several_gaps_counts() -> None:
    series = attempts((0, True), (1, False), (2, True), (3, False), (4, False), (7, True))
    assert longest_gap(series) == 5


@pytest.mark.parametrize(
    ("pattern", "gap"),
    [
        (((0, False), (1, False), (2, True)), 2),  # failing from the start
        (((0, True), (1, False), (3, False)), 3),  # still failing at the end
        (((0, False), (4, False)), 4),  # never good
        (((0, True), (1, True)), 0),
        ((), 0),
    ],
)
def test_gaps_at_the_edges_are_bounded_by_the_first_and_last_attempt(
    pattern: tuple[tuple[float, bool], ...], gap: float
) -> None:
    assert longest_gap(attempts(*pattern)) == gap


def test_figures_name_the_first_failure() -> None:
    series = Series("a -> b 80/TCP", ANSWERED, attempts((0, True), (1.25, False), (2, True)))
    got = figures(series)
    assert (got.attempts, got.failed, got.longest_gap) == (3, 1, 2)
    assert got.first_failure == "1.2 s: dropped"


def test_an_undisturbed_run_passes_with_its_figures() -> None:
    steady = attempts((0, True), (1, True), (2, True))
    verdict = check_disruption(
        [Series("allowed", ANSWERED, steady), Series("denied", DENIED, steady)]
    )
    assert verdict.ok, verdict
    assert "6 attempts, 0 failed, no gap, 0 leaks" in verdict.summary


def test_a_denied_probe_that_connects_once_fails_the_run() -> None:
    leaked = (Attempt(0, True, "dropped"), Attempt(1, False, "connected"))
    verdict = check_disruption([Series("prod/db -> prod/frontend 8080/TCP", DENIED, leaked)])
    assert not verdict.ok
    assert "1 denied probe(s) got through: prod/db -> prod/frontend 8080/TCP (1x)" in str(verdict)


def test_an_outage_fails_only_past_the_given_budget() -> None:
    series = [Series("lb", ANSWERED, attempts((0, True), (1, False), (4, True)))]
    assert check_disruption(series).ok
    assert check_disruption(series, max_gap=5).ok
    over = check_disruption(series, max_gap=2)
    assert not over.ok
    assert "1 probe(s) out longer than 2 s: lb (4.0 s)" in over.summary


def test_nothing_measured_never_passes() -> None:
    assert not check_disruption([]).ok
    hardly = check_disruption([Series("lb", ANSWERED, attempts((0, True)))])
    assert not hardly.ok
    assert "tried fewer than 2 times: lb" in hardly.summary


def test_the_evidence_lists_the_disturbed_probes_worst_first() -> None:
    series = [
        Series("dns", ANSWERED, attempts((0, True), (1, True))),
        Series("lb", ANSWERED, attempts((0, True), (1, False), (2, True))),
        Series("pod", ANSWERED, attempts((0, True), (1, False), (2, False), (5, True))),
    ]
    lines = check_disruption(series).evidence.splitlines()
    assert lines[1].split() == ["probe", "wants", "attempts", "failed", "longest", "gap", "first",
                                "failure"]  # fmt: skip
    assert lines[2].split()[:5] == ["pod", "answered", "4", "2", "5.0"]
    assert lines[3].split()[:5] == ["lb", "answered", "3", "1", "2.0"]
    assert lines[4:] == ["1 probes never disturbed"]
