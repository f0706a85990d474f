"""`make bench`: every benchmark runs and prints its figures and goals, whatever another one
did; the exit status says, after all have run, whether any missed its goal or failed."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("bench.cli", "bench.matrix", "bench.capture")


def main() -> int:
    missed = []
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        if subprocess.run([sys.executable, "-m", module], check=False).returncode:
            missed.append(module)
    if missed:
        print(f"missed a goal or failed: {', '.join(missed)} (every figure is above)")
        return 1
    print(f"every goal met ({len(BENCHMARKS)} benchmarks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
