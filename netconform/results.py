"""A run's results as data (`reports/<run>/results.json`, with `summary.md` and the page a
person reads, `index.html`) and what changed between two runs.

Every check of a suites run, with its outcome, its verdict's summary and
evidence, and the matrix cells it found wrong, plus the versions of everything
that ran and the spec's hash: enough for `netconform diff` to say what a
version bump changed. The format is versioned and described by a JSON Schema
(`results.schema.json` beside this file); every file is validated as written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from netconform import report_html
from netconform.verdict import WrongCell

FORMAT = 1
SCHEMA = json.loads(Path(__file__).with_name("results.schema.json").read_text())


@dataclass(frozen=True)
class Check:
    id: str
    suite: str
    outcome: str  # passed, failed, skipped, error
    summary: str
    evidence: str = ""
    seconds: float = 0.0
    wrong_cells: tuple[WrongCell, ...] = field(default_factory=tuple)
    # Every cell of the matrix the check asserted, as last observed (reachability checks).
    matrix: tuple[Mapping[str, str], ...] = field(default_factory=tuple)


class ResultsError(ValueError):
    """A results file that is not one: the message names the file and the first problem."""


def document(
    run: str,
    started: str,
    versions: Mapping[str, str],
    spec_sha256: str,
    checks: Sequence[Check],
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    made: dict[str, Any] = {
        "format": FORMAT,
        "run": run,
        "started": started,
        "versions": dict(versions),
        "spec_sha256": spec_sha256,
        "checks": [
            {
                **asdict(check),
                "wrong_cells": [asdict(w) for w in check.wrong_cells],
                "matrix": [dict(cell) for cell in check.matrix],
            }
            for check in checks
        ],
    }
    if configuration is not None:
        made["configuration"] = dict(configuration)
    validate(made, run)
    return made


def validate(data: Any, source: str) -> None:
    try:
        jsonschema.validate(data, SCHEMA)
    except jsonschema.ValidationError as error:
        where = "/".join(map(str, error.absolute_path)) or "(top level)"
        raise ResultsError(f"{source}: {where}: {error.message}") from None


def write(folder: Path, run: Mapping[str, Any]) -> Path:
    """results.json and summary.md into `folder`; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(run, indent=1) + "\n")
    failed = [c for c in run["checks"] if c["outcome"] in ("failed", "error")]
    lines = [f"# netconform run {run['run']}", "", summary(run)]
    lines += (
        ["", "## Failures", *(f"- `{c['id']}`: {c['summary']}" for c in failed)] if failed else []
    )
    (folder / "summary.md").write_text("\n".join(lines) + "\n")
    (folder / "index.html").write_text(report_html.render(run))
    return folder


def load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise ResultsError(f"{path}: cannot read: {error.strerror}") from None
    except ValueError as error:
        raise ResultsError(
            f"{path}: not a results file (results.json of a run): not JSON ({error})"
        ) from None
    validate(data, str(path))
    return data


def _outcomes(run: Mapping[str, Any]) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in run["checks"]}


def _cells(run: Mapping[str, Any]) -> dict[str, str]:
    return {w["cell"]: w["got"] for c in run["checks"] for w in c["wrong_cells"]}


def diff(baseline: Mapping[str, Any], candidate: Mapping[str, Any]) -> tuple[list[str], bool]:
    """What changed from `baseline` to `candidate`, a line each, and whether anything got
    worse (a check that no longer passes, a cell newly wrong)."""
    lines: list[str] = []
    before, after = baseline["versions"], candidate["versions"]
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            lines.append(f"version {key}: {before.get(key, '-')} -> {after.get(key, '-')}")
    if baseline["spec_sha256"] != candidate["spec_sha256"]:
        lines.append("the spec changed")
    worse = False
    old, new = _outcomes(baseline), _outcomes(candidate)
    for check in sorted(set(old) | set(new)):
        if old.get(check) != new.get(check):
            lines.append(f"check {check}: {old.get(check, 'absent')} -> {new.get(check, 'absent')}")
            worse |= old.get(check) == "passed" and new.get(check) != "passed"
    old_cells, new_cells = _cells(baseline), _cells(candidate)
    for cell in sorted(set(old_cells) | set(new_cells)):
        if cell not in old_cells:
            lines.append(f"cell now wrong: {cell} (got {new_cells[cell]})")
            worse = True
        elif cell not in new_cells:
            lines.append(f"cell now right: {cell} (was {old_cells[cell]})")
        elif old_cells[cell] != new_cells[cell]:
            lines.append(
                f"cell still wrong, differently: {cell}: {old_cells[cell]} -> {new_cells[cell]}"
            )
    return lines, worse


def summary(run: Mapping[str, Any]) -> str:
    """One line per suite, for a CI job summary."""
    by_suite: dict[str, list[str]] = {}
    for check in run["checks"]:
        by_suite.setdefault(check["suite"], []).append(check["outcome"])
    return "\n".join(
        f"{suite}: " + ", ".join(f"{outcomes.count(o)} {o}" for o in dict.fromkeys(outcomes))
        for suite, outcomes in sorted(by_suite.items())
    )
