"""One documented set of waits, each overridable by its own flag."""

from __future__ import annotations

from pathlib import Path

from netconform import cluster
from netconform.spec import load
from netconform.timeouts import DEFAULT, Timeouts
from netconform.versions import load_versions

ROOT = Path(__file__).resolve().parents[2]


def test_every_wait_has_a_flag_named_after_it() -> None:
    flags = {flag: name for flag, name, _ in Timeouts.options()}
    assert flags["--timeout-convergence"] == "convergence"
    assert flags["--timeout-workloads-ready"] == "workloads_ready"
    assert len(flags) == len(vars(DEFAULT))


def test_an_override_changes_only_what_was_given() -> None:
    changed = DEFAULT.overridden({"convergence": 5.0, "hubble": None})
    assert changed.convergence == 5.0 and changed.hubble == DEFAULT.hubble


def test_the_bring_up_waits_as_long_as_the_timeouts_say(tmp_path: Path) -> None:
    arch = load(ROOT / "architecture.yaml")
    short = DEFAULT.overridden({"cilium_rollout": 42.0, "nodes_ready": 7.0})
    steps = cluster.up_plan(arch, load_versions(), tmp_path, False, short)
    plan = cluster.render_plan(steps)
    assert "rollout status daemonset/cilium --timeout=42s" in plan
    assert "--for=condition=Ready nodes --all --timeout=7s" in plan


def test_the_bring_up_waits_for_mutual_authentication_only_where_spire_is_installed(
    tmp_path: Path,
) -> None:
    arch = load(ROOT / "architecture.yaml")
    waits = [
        step.what
        for step in cluster.up_plan(arch, load_versions(), tmp_path, False)
        if step.what.startswith("wait until mutual authentication can work")
    ]
    assert len(waits) == 1
    without = arch.model_copy(update={"mutual_auth": arch.mutual_auth.model_copy(
        update={"required_for": []})})  # fmt: skip
    assert not any(
        step.what.startswith("wait until mutual authentication")
        for step in cluster.up_plan(without, load_versions(), tmp_path, False)
    )
