"""The command line: actionable messages and exit codes, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from netconform import preflight
from netconform.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_preflight_names_every_missing_tool_and_how_to_get_it() -> None:
    absent = preflight.missing(
        preflight.KIND_TOOLS, lambda name: None if name in {"docker", "helm"} else "/x"
    )
    assert [t.name for t in absent] == ["docker", "helm"]
    text = preflight.report(absent)
    assert (
        "2 tool(s) missing" in text and "docker (runs the kind nodes)" in text and "helm.sh" in text
    )


def test_preflight_without_tools_exits_non_zero_quickly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "netconform.cli", "preflight"],
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path)},
        cwd=ROOT,
        timeout=20,
    )
    assert done.returncode == 2
    assert "docker" in done.stderr and "Traceback" not in done.stderr


def test_validate_accepts_the_default_and_reports_a_bad_file(tmp_path: Path, capsys) -> None:
    assert main(["validate", str(ROOT / "architecture.yaml")]) == 0
    assert "ok (7 workloads, 5 flows)" in capsys.readouterr().out
    bad = tmp_path / "arch.yaml"
    bad.write_text("version: 1\ncluster: {name: x, nodes: 3}\n")
    assert main(["validate", str(bad)]) == 2
    assert f"{bad}: cluster.nodes: unknown key" in capsys.readouterr().err
