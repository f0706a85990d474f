"""Probes that keep running while the cluster changes under them, so that disruption is
measured rather than guessed: the whole matrix round after round (allowed and denied cells;
each 53/UDP cell is a real DNS question to kube-dns), plus any cell the caller adds, such as
a LoadBalancer address reached from outside.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from netconform.checks.disruption import ANSWERED, DENIED, Attempt, Series
from netconform.matrix import ALLOWED, CONNECTED, Cell, ExpectedMatrix
from netconform.probing import MatrixProber

# Between rounds, so the exec transport is not saturated by a busy loop.
PAUSE = 0.2


class SteadyProbes:
    """Observes `expected`'s cells round after round in a thread until stopped; keeps every
    attempt with its time, and marks (what happened when) for the timeline."""

    def __init__(self, prober: MatrixProber, expected: ExpectedMatrix) -> None:
        self.prober, self.expected = prober, expected
        self.attempts: dict[Cell, list[Attempt]] = defaultdict(list)
        self.marks: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._started = 0.0
        self.rounds = 0

    def now(self) -> float:
        return time.monotonic() - self._started

    def mark(self, what: str) -> None:
        self.marks.append((self.now(), what))

    def __enter__(self) -> SteadyProbes:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        cells = list(self.expected.cells)
        while not self._stop.is_set():
            at = self.now()
            for cell, observation in self.prober.observe(cells).items():
                allowed = self.expected.cells[cell] == ALLOWED
                # A denied cell fails only by connecting: anything else is no leak.
                good = (observation.verdict == CONNECTED) is allowed
                self.attempts[cell].append(Attempt(at, good, observation.verdict))
            self.rounds += 1
            self._stop.wait(PAUSE)

    def series(self) -> list[Series]:
        return [
            Series(
                str(cell),
                ANSWERED if self.expected.cells[cell] == ALLOWED else DENIED,
                tuple(self.attempts[cell]),
            )
            for cell in sorted(self.expected.cells)
        ]
