"""Results as data: a suites run writes a results.json that validates, and `netconform diff`
names what changed between two runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netconform import results
from netconform.cli import main
from netconform.verdict import WrongCell

ROOT = Path(__file__).resolve().parents[2]
SUITE = """
import pytest

from netconform.fixtures.policy import WRONG_CELLS_PROPERTY

def test_holds():
    pass

def test_breaks(record_property):
    wrong = {"cell": "prod/backend -> prod/db 5432/TCP [cross-node]", "expected": "connected",
             "got": "dropped"}
    record_property(WRONG_CELLS_PROPERTY, [wrong])
    # Worded any way at all: the cells reach results.json as data.
    raise AssertionError("reachability: 1 of 4 cells wrong\\nbackend cannot reach its db")

def test_cannot_run_here():
    pytest.skip("this machine's kernel has no WireGuard module")
"""


def run_suites(tmp_path: Path, body: str) -> dict:
    """A pytest run of a `suites/` folder with the results plugin, as `make test` runs it."""
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "test_example.py").write_text(body)
    shutil.copy(ROOT / "architecture.yaml", tmp_path / "architecture.yaml")
    reports = tmp_path / "reports"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NETCONFORM_REPORTS": str(reports)}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "netconform.fixtures.results",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path / "suites")],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    [folder] = list(reports.iterdir())
    assert (folder / "summary.md").read_text().startswith(f"# netconform run {folder.name}")
    return results.load(folder / "results.json")


def test_a_run_leaves_valid_results_with_every_check_and_its_wrong_cells(tmp_path: Path) -> None:
    run = run_suites(tmp_path, SUITE)
    outcomes = {c["id"].split("::")[1]: c["outcome"] for c in run["checks"]}
    assert outcomes == {
        "test_holds": "passed",
        "test_breaks": "failed",
        "test_cannot_run_here": "skipped",
    }
    broken = next(c for c in run["checks"] if c["outcome"] == "failed")
    assert broken["summary"].startswith("AssertionError: reachability: 1 of 4 cells wrong")
    assert broken["wrong_cells"] == [
        {"cell": "prod/backend -> prod/db 5432/TCP [cross-node]", "expected": "connected",
         "got": "dropped"}
    ]  # fmt: skip
    skipped = next(c for c in run["checks"] if c["outcome"] == "skipped")
    assert skipped["summary"] == "this machine's kernel has no WireGuard module"
    assert run["versions"]["cilium"] == "v1.20.0" and len(run["spec_sha256"]) == 64


def test_diff_names_the_changed_checks_cells_and_versions(tmp_path: Path, capsys) -> None:
    check = results.Check("suites/test_a.py::test_matrix", "test_a", "passed", "all as expected")
    wrong = WrongCell("prod/frontend -> prod/db 5432/TCP [same-node]", "dropped", "connected")
    broken = results.Check("suites/test_a.py::test_matrix", "test_a", "failed", "1 cell wrong",
                           wrong_cells=(wrong,))  # fmt: skip
    baseline = results.document(
        "base", "2026-11-30T00:00:00+00:00", {"cilium": "v1.20.0"}, "0" * 64, [check]
    )
    candidate = results.document(
        "cand", "2026-11-30T01:00:00+00:00", {"cilium": "v1.20.2"}, "0" * 64, [broken]
    )
    lines, worse = results.diff(baseline, candidate)
    assert worse
    assert lines == [
        "version cilium: v1.20.0 -> v1.20.2",
        "check suites/test_a.py::test_matrix: passed -> failed",
        "cell now wrong: prod/frontend -> prod/db 5432/TCP [same-node] (got connected)",
    ]
    for name, run in (("base", baseline), ("cand", candidate)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(run))
    assert main(["diff", str(tmp_path / "base"), str(tmp_path / "cand")]) == 1
    assert "cell now wrong" in capsys.readouterr().out
    assert main(["diff", str(tmp_path / "cand"), str(tmp_path / "base")]) == 0
    assert "cell now right" in capsys.readouterr().out


def test_a_file_that_is_not_results_is_refused_with_where(tmp_path: Path, capsys) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"format": 1, "run": "x", "started": "", "versions": {},
                                "spec_sha256": "abc", "checks": []}))  # fmt: skip
    assert main(["results", str(path)]) == 2
    assert "spec_sha256: 'abc' does not match" in capsys.readouterr().err
    with pytest.raises(results.ResultsError):
        results.validate({"format": 2}, "made up")
