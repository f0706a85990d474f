"""Differential testing of the analyzer against real Cilium: random policy sets
(tests/localcluster/random_policies.py), each applied to the local cluster, its observed
matrix held against the prediction on every decided cell, same-node and cross-node. CI runs a
fixed-seed sample; `make fuzz-policies` a longer run (NETCONFORM_FUZZ_SETS sets from
NETCONFORM_FUZZ_SEED). A disagreement names its seed and the set, to keep as a reproducer.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import yaml
from netconform.fixtures.policy import ReachabilitySuite

from netconform.analyze import predicted_matrix, predictions
from netconform.checks.policy_analyzer import UNDECIDED
from netconform.policy_run import PolicyRun
from tests.localcluster.random_policies import policy_set

SETS = int(os.environ.get("NETCONFORM_FUZZ_SETS", "4"))
FIRST_SEED = int(os.environ.get("NETCONFORM_FUZZ_SEED", "1"))


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + SETS))
def test_a_random_policy_set_does_what_the_analyzer_predicts(
    seed: int,
    policy_run: PolicyRun,
    reachability: ReachabilitySuite,
    record_property: Callable[[str, object], None],
) -> None:
    manifests = policy_set(seed, policy_run.layout, policy_run.externals)
    predicted = predictions(
        policy_run.arch, manifests, policy_run.layout, policy_run.probed_addresses
    )
    decided = reachability.probed(predicted_matrix(predicted))
    undecided = sum(1 for p in predicted.values() if p.verdict == UNDECIDED)
    record_property("cells", f"{len(decided.cells)} decided, {undecided} undecided")
    print(
        f"seed {seed}: {len(manifests)} policies, {len(decided.cells)} cells decided, "
        f"{undecided} undecided"
    )
    policy_run.apply_policies(manifests)
    try:
        verdict = reachability.engine.check(decided)
    finally:
        policy_run.remove_policies()
    assert verdict.ok, (
        f"seed {seed}: the analyzer's prediction is not what Cilium does for\n"
        f"{yaml.safe_dump_all(manifests, sort_keys=False)}\n{verdict}"
    )
