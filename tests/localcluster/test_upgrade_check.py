"""`netconform upgrade-check` on the local cluster: Cilium upgraded in place v1.20.0 -> v1.20.2
(both built here from the module proxy) and back, under steady probes, with the figures
printed; and the disruption checks shown to bite on real breakage under the same probes."""

from __future__ import annotations

import os

import pytest

from netconform import cluster, upgrade
from netconform.checks.disruption import check_disruption, figures
from netconform.policy_run import PolicyRun, Target
from netconform.spec import Architecture
from netconform.timeouts import Timeouts
from netconform.versions import load_versions, version


@pytest.fixture(scope="module")
def candidate() -> str:
    """The version to upgrade to: the Makefile names it and builds its images before pytest
    starts (a cold build outlasts any per-test timeout)."""
    named = os.environ.get("NETCONFORM_UPGRADE_CANDIDATE")
    if not named:
        pytest.fail("NETCONFORM_UPGRADE_CANDIDATE is not set: run these tests with make test-local")
    return named


def _print(capsys: pytest.CaptureFixture[str], text: str) -> None:
    with capsys.disabled():
        print(f"\n{text}")


def test_an_upgrade_and_its_rollback_are_measured_without_a_leak(
    target: Target,
    spec: Architecture,
    timeouts: Timeouts,
    candidate: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    versions = load_versions()
    pinned = version(versions, "cilium")
    workdir = cluster.workdir_for(spec)
    assert upgrade.running_version(target.kube) == pinned
    try:
        up = upgrade.check(spec, versions, workdir, candidate, True, timeouts, progress=print)
        _print(capsys, up.text().split("\n\n")[0])
        assert up.verdict.ok, up.text()
        assert upgrade.running_version(target.kube) == candidate
        assert up.rounds >= 10 and len(up.figures) > 200
        back = upgrade.check(spec, versions, workdir, pinned, True, timeouts, progress=print)
        _print(capsys, back.text().split("\n\n")[0])
        assert back.verdict.ok, back.text()
    finally:
        if upgrade.running_version(target.kube) != pinned:
            steps = upgrade.plan(spec, versions, workdir, pinned, True, timeouts)
            cluster.run_plan(steps.upgrade)


def test_leaks_and_outages_under_the_steady_probes_are_named(
    target: Target, spec: Architecture, timeouts: Timeouts
) -> None:
    def without_policies_and_lb_backends(
        run: PolicyRun, lb: upgrade.OutsideLb
    ) -> list[cluster.Step]:
        return [
            cluster.Step("remove the reference policies", (), action=run.remove_policies),
            cluster.Step(
                "delete the LoadBalancer's backends",
                (),
                action=lambda: lb.scenario.remove_backend(timeouts.workloads_ready),
            ),
        ]

    versions = load_versions()
    measured = upgrade.measure(
        target.kube, spec, versions, without_policies_and_lb_backends, timeouts, progress=print
    )
    verdict = check_disruption(measured.series, max_gap=5.0)
    assert not verdict.ok
    assert "denied probe(s) got through: " in verdict.summary
    leaked = {f.name for f in map(figures, measured.series) if f.leaked}
    assert "prod/frontend -> prod/db 5432/TCP [cross-node]" in leaked, verdict
    lb = next(f for f in map(figures, measured.series) if f.name.startswith("outside -> lb "))
    assert lb.failed > 0 and lb.longest_gap > 5.0, lb
    assert f"out longer than 5 s: {lb.name}" in verdict.summary or lb.name in verdict.evidence
