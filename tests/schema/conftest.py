"""The upstream schemas, loaded once per session; skipped without them, except on CI.

A developer without shared/crds gets a skip that says how to point at them; CI must
never pass by skipping, so there a missing schema directory stops the run.
"""

from __future__ import annotations

import pytest
from netconform.fixtures.prerequisites import skip_or_stop

from tests.schema.validation import HELM_VALUES, MANIFESTS, Schemas, crd_dir


@pytest.fixture(scope="session")
def schemas() -> Schemas:
    return Schemas.load(crd_dir())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    directory = crd_dir()
    needing = [item for item in items if "schemas" in getattr(item, "fixturenames", ())]
    if not needing or directory.is_dir():
        return
    reason = f"upstream schemas not found at {directory}: set NETCONFORM_CRDS"
    skip_or_stop(needing, "the schema tests", reason)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A CI log shows how much was validated; tests record counts only when they pass, and
    xdist carries a worker's user_properties to the controller."""
    counts = {MANIFESTS: 0, HELM_VALUES: 0}
    for report in terminalreporter.stats.get("passed", []):
        for name, value in report.user_properties:
            if name in counts:
                counts[name] += value
    if any(counts.values()):
        terminalreporter.write_line(
            f"validated {counts[MANIFESTS]} manifests and {counts[HELM_VALUES]} sets of Helm"
            " values against upstream schemas"
        )
