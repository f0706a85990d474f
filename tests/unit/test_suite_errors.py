"""A suite run that cannot start says why once, in one message, and exits 2: no fixture
tracebacks, no crash at session end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_suites(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`netconform test`, as `make test` runs it."""
    return subprocess.run(
        [sys.executable, "-m", "netconform.cli", "test", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_a_bad_spec_is_said_once(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncluster: {name: x}\n")
    done = run_suites("--spec", str(bad))
    assert done.returncode == 2
    assert done.stdout.count("environments: required key is missing") == 1
    assert "Traceback" not in done.stdout + done.stderr


def test_an_existing_cluster_without_kubeconfig_is_one_message(tmp_path: Path) -> None:
    done = run_suites("--cluster=existing", env={"KUBECONFIG": str(tmp_path / "none")})
    assert done.returncode == 2
    assert done.stdout.count("no usable kubeconfig for --cluster=existing") == 1
    assert "ConfigException" not in done.stdout and len(done.stdout.splitlines()) < 30
