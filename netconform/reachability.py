"""The engine a suite drives: probe a matrix until it converges, judge it, explain it."""

from __future__ import annotations

import logging

from netconform.checks.reachability import check_matrix, wrong_cells
from netconform.convergence import Convergence, converge
from netconform.matrix import Expected
from netconform.probing import MatrixProber, Observed
from netconform.verdict import Verdict

log = logging.getLogger(__name__)


class Reachability:
    def __init__(self, prober: MatrixProber, convergence: Convergence) -> None:
        self.prober = prober
        self.convergence = convergence

    def check(self, expected: Expected) -> Verdict:
        def observe() -> Observed:
            return self.prober.observe(expected.cells)

        def matches(observed: Observed) -> bool:
            return not wrong_cells(expected, observed)

        def progress(round_: int, matched: bool) -> None:
            log.info("reachability round %d: %s", round_, "as expected" if matched else "differs")

        rounds = converge(observe, matches, self.convergence, progress)
        return check_matrix(
            expected,
            rounds.history,
            self.convergence.consistent_rounds,
            self.prober.timeout,
            self.prober.reproduce,
        )

    def assert_converges(self, expected: Expected) -> None:
        verdict = self.check(expected)
        assert verdict.ok, str(verdict)
