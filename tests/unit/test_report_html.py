"""The report a person reads, opened in a real headless browser (Debian's Chromium): it
renders, with the matrix and its wrong cell visible."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from netconform.fixtures.prerequisites import skip_or_stop

from netconform import results
from netconform.verdict import WrongCell

BROWSER = "chromium-headless-shell"
WRONG = "prod/frontend -> prod/db 5432/TCP [cross-node]"


def cell(source: str, destination: str, expected: str, observed: str) -> dict[str, str]:
    ok = "true" if expected == observed else "false"
    return {
        "source": source,
        "destination": destination,
        "port": "5432/TCP",
        "placement": "cross-node",
        "expected": expected,
        "observed": observed,
        "ok": ok,
    }


def failing_run() -> dict:
    matrix = (
        cell("prod/backend", "prod/db", "connected", "connected"),
        cell("prod/frontend", "prod/db", "dropped", "connected"),
    )
    evidence = f"! wrong: {WRONG} expected dropped, got connected\n  reproduce: kubectl exec ..."
    check = results.Check(
        "suites/test_default_deny.py::test_only_declared_flows_once_policies_apply",
        "test_default_deny",
        "failed",
        "reachability: 1 of 2 cells wrong",
        evidence,
        1.5,
        (WrongCell(WRONG, "dropped", "connected"),),
        matrix,
    )
    return results.document("20261130T100000Z", "2026-11-30T10:00:00+00:00",
                            {"cilium": "v1.20.0"}, "0" * 64, [check])  # fmt: skip


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> str:
    found = shutil.which(BROWSER)
    if not found:
        skip_or_stop([request.node], "the report's browser test", f"apt-get install {BROWSER}")
    return str(found)


def test_the_page_renders_with_the_wrong_cell_marked(tmp_path: Path, browser: str) -> None:
    folder = results.write(tmp_path / "run", failing_run())
    page = folder / "index.html"
    flags = ["--no-sandbox", "--disable-gpu", "--headless"]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60
    ).stdout
    assert f'class="wrong" data-cell="{WRONG.replace(">", "&gt;")}"' in dom
    assert "reachability: 1 of 2 cells wrong" in dom and "reproduce: kubectl exec" in dom
    shot = tmp_path / "report.png"
    size = "--window-size=1000,700"
    argv = [browser, *flags, f"--screenshot={shot}", size, page.as_uri()]
    subprocess.run(argv, capture_output=True, timeout=60, check=False)
    assert shot.stat().st_size > 5000
