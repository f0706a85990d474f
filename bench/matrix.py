"""Benchmark: what one pass over the default matrix costs, in units of the probe timeout T.

Runs on the lab (root). Prints, for the batched engine (one netprobe call per
source, all sources at once) and for probing one cell at a time:
    matrix batched: <x> x T
    matrix sequential: <y> x T
    matrix 10k: <z> x T          (one source, 10,000 probes in one netprobe call)
plus how stable the healthy matrix is over repeated rounds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lab.policy_lab import policy_lab
from netconform.checks.reachability import flapping_cells, wrong_cells
from netconform.matrix import DENIED, Observed, expected_matrix
from netconform.probing import MatrixProber
from netconform.spec import load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=1.0, help="probe timeout T in seconds")
    parser.add_argument(
        "--rounds", type=int, default=10, help="healthy rounds for the stability figure"
    )
    parser.add_argument(
        "--spec", default=str(Path(__file__).resolve().parents[1] / "architecture.yaml")
    )
    args = parser.parse_args()

    arch = load(args.spec)
    expected = expected_matrix(arch)
    denied = expected.count(DENIED)
    print(
        f"matrix: {len(expected.cells)} probes, {denied} expected dropped "
        f"({100 * denied / len(expected.cells):.0f} %), probe timeout T = {args.timeout:g}s"
    )
    with policy_lab(arch, expected) as lab:
        prober = lab.prober(args.timeout)
        prober.observe(expected.cells)  # warm caches (interpreter, page cache)

        rounds, times = [], []
        for _ in range(args.rounds):
            start = time.monotonic()
            rounds.append(prober.observe(expected.cells))
            times.append(time.monotonic() - start)
        wrong = sum(len(wrong_cells(expected, r)) for r in rounds)
        flapping = len(flapping_cells(expected, rounds))
        batched = sorted(times)[len(times) // 2]
        print(
            f"matrix batched: {batched / args.timeout:.2f} x T "
            f"(median of {len(times)} rounds: {batched:.2f}s, "
            f"min {min(times):.2f}s, max {max(times):.2f}s)"
        )
        print(
            f"healthy rounds: {len(rounds)}, identical: {'no' if flapping else 'yes'}, "
            f"wrong cells: {wrong}, flapping cells: {flapping}"
        )

        large, disagree = large_batch(prober, rounds[-1], LARGE_BATCH)
        print(
            f"matrix 10k: {large / args.timeout:.2f} x T ({large:.2f}s for {LARGE_BATCH} probes, "
            f"{disagree} verdicts differ from the matrix's)"
        )

        start = time.monotonic()
        prober.observe_one_by_one(expected.cells)
        sequential = time.monotonic() - start
        print(f"matrix sequential: {sequential / args.timeout:.2f} x T ({sequential:.1f}s)")
    goals = {
        "healthy rounds identical and right": not flapping and not wrong and not disagree,
        f"batched <= {BATCHED_GOAL:g} x T": batched / args.timeout <= BATCHED_GOAL,
        f"10k <= {LARGE_GOAL:g} x T": large / args.timeout <= LARGE_GOAL,
    }
    for goal, met in goals.items():
        print(f"goal {goal}: {'met' if met else 'MISSED'}")
    return 0 if all(goals.values()) else 1


BATCHED_GOAL, LARGE_GOAL = 2.0, 3.0


LARGE_BATCH = 10_000


def large_batch(prober: MatrixProber, observed: Observed, size: int) -> tuple[float, int]:
    """One source's cells repeated to `size` probes in one call: seconds, and how many verdicts
    differ from the same cell's verdict in the matrix round (an overflow shows as a drop)."""
    source = min(cell.source for cell in observed)
    cells = [cell for cell in observed if cell.source == source]
    batch = [dict(prober.probe(cells[i % len(cells)]), id=i) for i in range(size)]
    start = time.monotonic()
    results = prober.sites[source].probe(batch, timeout=120)
    elapsed = time.monotonic() - start
    disagree = sum(r["verdict"] != observed[cells[r["id"] % len(cells)]].verdict for r in results)
    return elapsed, disagree


if __name__ == "__main__":
    sys.exit(main())
