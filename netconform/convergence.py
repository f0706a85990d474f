"""Poll until reality matches, then insist it keeps matching.

Policies, routes and gateways converge some time after a change. A check
re-observes until its expectation holds, then requires N consecutive
matching rounds (the Gateway API conformance pattern) so that one lucky
round never passes. Every round is kept: a cell that flips between rounds is
reported as flapping, not retried away. tenacity's retry model (stop on the
first success) does not express "N in a row", hence this small loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Snapshot = TypeVar("Snapshot")


@dataclass(frozen=True)
class Convergence:
    timeout: float = 60.0
    consistent_rounds: int = 3
    interval: float = 0.0

    def __post_init__(self) -> None:
        if self.consistent_rounds < 1 or self.timeout < 0 or self.interval < 0:
            raise ValueError(f"invalid convergence settings: {self}")


@dataclass
class Rounds(Generic[Snapshot]):
    history: list[Snapshot] = field(default_factory=list)
    matched: list[bool] = field(default_factory=list)
    elapsed: float = 0.0

    def streak(self) -> int:
        count = 0
        for matched in reversed(self.matched):
            if not matched:
                break
            count += 1
        return count


def converge(
    observe: Callable[[], Snapshot],
    matches: Callable[[Snapshot], bool],
    policy: Convergence,
    progress: Callable[[int, bool], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Rounds[Snapshot]:
    """Observe until `consistent_rounds` matches in a row, or the timeout with no streak going."""
    start = clock()
    rounds: Rounds[Snapshot] = Rounds()
    while True:
        snapshot = observe()
        rounds.history.append(snapshot)
        rounds.matched.append(matches(snapshot))
        rounds.elapsed = clock() - start
        if progress:
            progress(len(rounds.history), rounds.matched[-1])
        if rounds.streak() >= policy.consistent_rounds:
            return rounds
        # A streak under way may finish after the deadline; a mismatch may not retry past it.
        if rounds.elapsed >= policy.timeout and not rounds.matched[-1]:
            return rounds
        sleep(policy.interval)
