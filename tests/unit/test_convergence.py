"""The convergence loop, driven by a fake clock: no sleeping, no timing in tests."""

from __future__ import annotations

import pytest

from netconform.convergence import Convergence, converge


class Clock:
    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(snapshots: list[bool], policy: Convergence, step: float = 1.0):
    feed = iter(snapshots)
    clock = Clock(step)
    return converge(lambda: next(feed), bool, policy, clock=clock, sleep=clock.sleep)


def test_passes_after_n_consecutive_matches_following_convergence() -> None:
    rounds = run([False, False, True, True, True], Convergence(timeout=60, consistent_rounds=3))
    assert rounds.matched == [False, False, True, True, True] and rounds.streak() == 3


def test_one_lucky_round_is_not_enough() -> None:
    rounds = run([True, False] * 20, Convergence(timeout=10, consistent_rounds=2))
    assert rounds.streak() == 0
    assert len(rounds.history) <= 12


def test_gives_up_at_the_timeout_without_a_streak() -> None:
    rounds = run([False] * 100, Convergence(timeout=5, consistent_rounds=3))
    assert rounds.streak() == 0 and len(rounds.history) == 5 and rounds.elapsed == 5


def test_a_streak_under_way_may_finish_after_the_deadline() -> None:
    rounds = run([False, False, True, True, True], Convergence(timeout=3.5, consistent_rounds=3))
    assert rounds.streak() == 3


@pytest.mark.parametrize("bad", [{"consistent_rounds": 0}, {"timeout": -1}, {"interval": -2}])
def test_rejects_nonsense_settings(bad) -> None:
    with pytest.raises(ValueError, match="invalid convergence settings"):
        Convergence(**bad)
