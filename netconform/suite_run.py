"""`netconform test`: the packaged suites, run by pytest from any directory.

The suites, their plugin (fixtures, options, markers) and their pytest settings are package
data, so an installed netconform runs them from the user's repository; `make test` is the
checkout's spelling of the same command. The spec is found from where the command runs, and
the node ids stay `suites/test_*.py::...` however netconform was installed (results.json and
`netconform diff` compare runs by them).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from pathlib import Path

import pytest

SUITES = Path(str(importlib.resources.files("netconform.suites")))


def pytest_args(
    spec: str, images: str | None, marker: str | None, tests: Sequence[str], extra: Sequence[str]
) -> list[str]:
    """The pytest command line of a run: every option a user gives after the known ones is
    pytest's (or the suites' plugin's: --cluster, --kube-context, --keep-cluster, ...)."""
    args = [str(SUITES), "-c", str(SUITES / "pytest.ini"), "--rootdir", str(SUITES.parent)]
    args += ["-p", "no:cacheprovider", f"--spec={Path(spec).resolve()}"]
    args += [f"--images={images}"] if images else []
    args += ["-m", marker] if marker else []
    args += [f"--test={pattern}" for pattern in tests]
    return [*args, *extra]


def run(
    spec: str, images: str | None, marker: str | None, tests: Sequence[str], extra: Sequence[str]
) -> int:
    return int(pytest.main(pytest_args(spec, images, marker, tests, extra)))
