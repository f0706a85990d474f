"""The cluster benchmark's reading of what it measured: the engine's memory figures, the goal of
each size's line, and the picture of the curves."""

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from bench.cluster_scaling import SizeFigures, _bytes, plot

FIGURES = SizeFigures(
    workloads=8,
    pods=16,
    policies=24,
    cells=400,
    deploy_s=40.0,
    convergence_s=5.0,
    round_s=2.5,
    timeout_s=1.0,
    exec_sample=100,
    exec_sample_s=110.0,
    exec_all_s=440.0,
    nodes_used_mib=3000.0,
    agent_rss_mib=250.0,
    probe_rss_mib=20.0,
    regeneration_p90_ms=12.0,
    wrong_cells=0,
    wrong_seen=[],
)


@pytest.mark.parametrize(
    ("text", "value"),
    [("512MiB", 512 * 2**20), ("1.5GiB", 1.5 * 2**30), ("900KiB", 900 * 1024), ("2GB", 2e9)],
)
def test_the_engines_memory_figures_are_read_in_their_units(text, value):
    assert _bytes(f" {text} ") == value


def test_a_round_over_three_probe_timeouts_and_ten_seconds_misses_its_goal():
    assert "goal 13s: met" in FIGURES.line()
    assert "goal 13s: MISSED" in replace(FIGURES, round_s=13.5).line()
    wrong = replace(
        FIGURES, wrong_cells=1, wrong_seen=["a -> b 80/TCP: expected allowed, saw timeout"]
    )
    assert "MISSED" in wrong.line()
    assert wrong.line().endswith("\n    wrong: a -> b 80/TCP: expected allowed, saw timeout")
    assert "176 x batched" in FIGURES.line()


def test_the_curves_are_drawn_against_every_size(tmp_path):
    sizes = [replace(FIGURES, workloads=n, deploy_s=10.0 * n) for n in (8, 16, 32)]
    plot(sizes, tmp_path / "curves.svg")
    texts = {t.text for t in ET.parse(tmp_path / "curves.svg").iter() if t.tag.endswith("text")}
    assert {"8", "16", "32", "deploy", "policy convergence", "nodes used"} <= texts
