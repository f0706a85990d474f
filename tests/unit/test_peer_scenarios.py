"""The upstream scenarios the bench sets beside netconform's matrix: their model in netconform's
terms, their policies as the API server takes them, and their truth tables."""

from __future__ import annotations

from bench.peer_scenarios import SCENARIOS, model
from netconform.checks.policy_input import problems
from netconform.matrix import expected_matrix


def _denied(name: str) -> set[str]:
    scenario = next(s for s in SCENARIOS if s.policy["metadata"]["name"] == name)
    cells = expected_matrix(model()).cells
    return {f"{c.source.name}>{c.destination.name}" for c in cells if not scenario.allowed(c)}


def test_the_model_is_three_namespaces_of_three_pods_serving_80() -> None:
    """Every pair of the nine workloads but a workload to itself (their hairpin is ignored)."""
    cells = expected_matrix(model()).cells
    assert len(cells) == 9 * 8 and {str(c.port) for c in cells} == {"80/TCP"}


def test_the_policies_are_valid_and_the_truth_tables_are_theirs() -> None:
    assert problems([s.policy for s in SCENARIOS], "scenarios") == []
    assert len(_denied("deny-ingress")) == 3 * 8
    assert all(pair.split(">")[1].startswith("x/") for pair in _denied("deny-ingress"))
    assert len(_denied("deny-all")) == 9 * 8 - 6 * 5  # only y's and z's among themselves stay
    assert _denied("x-a-from-x") == {f"{ns}/{pod}>x/a" for ns in "yz" for pod in "abc"}
