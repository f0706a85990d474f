"""The random policy sets the differential test applies to Cilium: reproducible from their
seed, valid as the API server takes them, confined to the run's pods, varied, and mostly
decidable by the analyzer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from netconform.analyze import predictions
from netconform.checks.policy_analyzer import UNDECIDED
from netconform.checks.policy_input import problems
from netconform.spec import load
from netconform.workloads import RunNamespaces
from tests.localcluster.random_policies import policy_set

ROOT = Path(__file__).resolve().parents[2]
ARCH = load(ROOT / "architecture.yaml")
LAYOUT = RunNamespaces("fuzz")
EXTERNALS = {"partner-api": "198.18.200.10", "internet": "198.18.201.1"}
SEEDS = range(1, 201)


def test_a_seed_draws_the_same_set_and_another_seed_another() -> None:
    assert policy_set(7, LAYOUT, EXTERNALS) == policy_set(7, LAYOUT, EXTERNALS)
    assert policy_set(7, LAYOUT, EXTERNALS) != policy_set(8, LAYOUT, EXTERNALS)


def test_every_set_is_valid_and_touches_only_the_runs_pods() -> None:
    for seed in SEEDS:
        made = policy_set(seed, LAYOUT, EXTERNALS)
        assert problems(made, f"seed {seed}") == []
        for policy in made:
            if policy["kind"] == "CiliumClusterwideNetworkPolicy":
                assert policy["spec"]["endpointSelector"]["matchLabels"].items() >= (
                    LAYOUT.default_deny_selector()["matchLabels"].items()
                )
            else:
                assert policy["metadata"]["namespace"].startswith("netconform-fuzz-")


def test_the_sets_vary_and_the_analyzer_decides_most_cells() -> None:
    kinds: Counter[str] = Counter()
    decided = undecided = 0
    for seed in SEEDS:
        made = policy_set(seed, LAYOUT, EXTERNALS)
        kinds.update(policy["kind"] for policy in made)
        verdicts = [p.verdict for p in predictions(ARCH, made, LAYOUT, EXTERNALS).values()]
        undecided += verdicts.count(UNDECIDED)
        decided += len(verdicts) - verdicts.count(UNDECIDED)
    assert min(kinds.values()) > 50 and len(kinds) == 3, kinds
    assert undecided < decided / 20, (decided, undecided)
