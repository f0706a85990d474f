"""High availability on the real cluster: connections across nodes live through a restart of
the Cilium agent at either end, no denied cell connects while an agent is away, and new
connections resume (the longest gap is measured, printed and kept in results.json)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.requires("policies"), pytest.mark.xdist_group("cluster-policy")]


def test_connections_and_policies_live_through_agent_restarts(
    agent_restarts, with_policies, capsys: pytest.CaptureFixture[str], record_property
) -> None:
    outcome = agent_restarts.restart_both_ends()
    record_property("agent_restart", outcome.figure)
    with capsys.disabled():
        print(f"\n{outcome.figure}")
    assert outcome.held.ok, outcome.held
    assert outcome.disruption.ok, outcome.disruption
    assert outcome.recovered.ok, f"the matrix after the restarts: {outcome.recovered}"
