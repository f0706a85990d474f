"""The engine a suite drives: probe a matrix until it converges, judge it, explain it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from netconform.checks.drop_reasons import check_drop_reasons
from netconform.checks.reachability import check_matrix, wrong_cells
from netconform.convergence import Convergence, converge
from netconform.matrix import Cell, ExpectedMatrix, Observed
from netconform.probing import MatrixProber
from netconform.verdict import Verdict

log = logging.getLogger(__name__)


class ReachabilityEngine:
    def __init__(
        self,
        prober: MatrixProber,
        convergence: Convergence,
        evidence: Callable[[Cell], Sequence[str]] | None = None,
        drop_reasons: Callable[[Cell], Sequence[str]] | None = None,
    ) -> None:
        """`drop_reasons`: Hubble's reasons for a cell's drops, for expectations that name one
        (without it such an expectation cannot be judged and fails saying so)."""
        self.prober = prober
        self.convergence = convergence
        self.evidence = evidence
        self.drop_reasons = drop_reasons
        # The last round of the last check, every cell: what a report draws.
        self.last: Observed = {}

    def explain(self, cell: Cell) -> list[str]:
        """What a person needs for a wrong cell: the command to reproduce it, then evidence."""
        return [
            f"reproduce: {self.prober.reproduce(cell)}",
            *(self.evidence(cell) if self.evidence else []),
        ]

    def check(self, expected: ExpectedMatrix) -> Verdict:
        def observe() -> Observed:
            return self.prober.observe(expected.cells)

        def matches(observed: Observed) -> bool:
            return not wrong_cells(expected, observed)

        def progress(round_: int, matched: bool) -> None:
            log.info("reachability round %d: %s", round_, "as expected" if matched else "differs")

        rounds = converge(observe, matches, self.convergence, progress)
        self.last = rounds.history[-1] if rounds.history else {}
        verdict = check_matrix(
            expected,
            rounds.history,
            self.convergence.consistent_rounds,
            self.prober.timeout,
            self.explain,
        )
        named = [cell for cell, e in expected.cells.items() if e.reason]
        if not verdict.ok or not named:
            return verdict
        if self.drop_reasons is None:
            return Verdict(False, f"{len(named)} cells name a drop reason, but Hubble relay is "
                                  "not installed to tell one")  # fmt: skip
        reasons = {cell: self.drop_reasons(cell) for cell in named}
        return Verdict.all([verdict, check_drop_reasons(expected, reasons)])
