"""`make bench` runs every benchmark even after one misses its goal, then says which missed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import bench.__main__ as bench_all


def test_a_missed_goal_does_not_hide_the_figures_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "missing_goal.py").write_text("print('first: 9 s (goal 1 s: MISSED)'); exit(1)\n")
    (tmp_path / "meeting_goal.py").write_text("print('second: 1 s (goal 2 s: met)')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{':'.join(sys.path)}")
    monkeypatch.setattr(bench_all, "BENCHMARKS", ("missing_goal", "meeting_goal"))
    assert bench_all.main() == 1
    out = capfd.readouterr().out
    assert "first: 9 s" in out and "second: 1 s" in out
    assert out.strip().endswith("missed a goal or failed: missing_goal (every figure is above)")
