"""Benchmark: how long `netconform validate` of the default spec takes, as a user runs it.

Prints `cli validate: <s>` (median of 5 runs, a fresh interpreter each); the goal is under
0.3 s, which holds only while the CLI imports the Kubernetes client where it is used.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 0.3


def main() -> int:
    times = []
    for _ in range(5):
        start = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "netconform.cli", "validate", str(ROOT / "architecture.yaml")],
            check=True,
            capture_output=True,
        )
        times.append(time.monotonic() - start)
    median = statistics.median(times)
    met = median < GOAL_SECONDS
    print(
        f"cli validate: {median:.3f}s (median of {len(times)} runs; goal {GOAL_SECONDS}s: "
        f"{'met' if met else 'MISSED'})"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
