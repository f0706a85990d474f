"""Three scenarios of the upstream NetworkPolicy e2e tests, the same policies on the same model
(namespaces x, y and z, pods a, b and c, port 80/TCP), probed by netconform's batched matrix
on the bench's local cluster and set beside the upstream tests' own first rounds, which `make
peer-netpol` wrote to reports/peer-netpol.json.

    python -m bench.peer_scenarios [--timeout T] [--keep-cluster]

Per scenario: the policy applied, rounds until three in a row show exactly the scenario's truth
table, then the median round of that streak.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.cluster_scaling import cluster_command, ensure_cluster
from bench.scaled_architecture import SIZES
from bench.scaled_architecture import architecture as scaled_architecture
from netconform import cluster
from netconform.checks.reachability import wrong_cells
from netconform.convergence import Convergence, converge
from netconform.kube import Kube
from netconform.manifest import Manifest
from netconform.matrix import ALLOWED, DENIED, Cell, ExpectedMatrix, expected_matrix
from netconform.policy_run import PolicyRun, on_kind
from netconform.probing import MatrixProber
from netconform.spec import Architecture
from netconform.timeouts import DEFAULT as DEFAULT_TIMEOUTS
from netconform.versions import load_versions, probe_image

ROOT = Path(__file__).resolve().parents[1]
NAMESPACES = {"x": "peer-x", "y": "peer-y", "z": "peer-z"}
PODS = ("a", "b", "c")
SETTLED = Convergence(timeout=120, consistent_rounds=3, interval=0)


def model() -> Architecture:
    """Their model in netconform's terms: every pod serves 80/TCP (a flow to it declares the
    port); the flows' policies are never applied, only each scenario's."""
    return Architecture.model_validate(
        {
            "version": 1,
            "cluster": {"name": scaled_architecture(max(SIZES)).cluster.name},
            "environments": {env: {"namespace": ns} for env, ns in NAMESPACES.items()},
            "groups": {
                pod: {"labels": {"pod": pod}, "environments": list(NAMESPACES)} for pod in PODS
            },
            "policy": {
                "default": "allow",
                "flows": [
                    {"name": f"to-{pod}", "from": "a", "to": pod, "ports": ["80/TCP"]}
                    for pod in PODS
                ],
            },
        }
    )


def _policy(name: str, spec: dict) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": NAMESPACES["x"]},
        "spec": spec,
    }


@dataclass(frozen=True)
class Scenario:
    upstream: str  # the upstream spec's name contains this
    policy: Manifest
    allowed: Callable[[Cell], bool]


def _env(cell: Cell) -> tuple[str | None, str | None]:
    return cell.source.environment, cell.destination.environment


SCENARIOS = (
    Scenario(
        "should support a 'default-deny-ingress' policy",
        _policy("deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        lambda cell: _env(cell)[1] != "x",
    ),
    Scenario(
        "should support a 'default-deny-all' policy",
        _policy("deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        lambda cell: "x" not in _env(cell),
    ),
    Scenario(
        "should enforce policy to allow traffic from pods within server namespace based on "
        "PodSelector",
        _policy(
            "x-a-from-x",
            {
                "podSelector": {"matchLabels": {"pod": "a"}},
                "ingress": [{"from": [{"podSelector": {}}]}],
                "policyTypes": ["Ingress"],
            },
        ),
        lambda cell: (cell.destination.name != "x/a") or _env(cell)[0] == "x",
    ),
)


def upstream_round(scenario: Scenario, report: Path) -> str:
    if not report.is_file():
        return "upstream: no reports/peer-netpol.json (run make peer-netpol)"
    for spec in json.loads(report.read_text())["specs"]:
        if scenario.upstream in spec["name"] and spec.get("first_round"):
            r = spec["first_round"]
            return (
                f"upstream {r['cells']} cells in {r['seconds']:.1f} s ({r['execs']} execs, T 3 s) "
                f"= {r['seconds'] / r['cells']:.3f} s a cell"
            )
    return "upstream: no first round recorded for this spec"


def settled_round(
    prober: MatrixProber, run: PolicyRun, scenario: Scenario, cells: list[Cell]
) -> float | None:
    """The median round of the first streak that shows the scenario's truth table."""
    expected = ExpectedMatrix({c: ALLOWED if scenario.allowed(c) else DENIED for c in cells})
    rounds: list[tuple[bool, float]] = []

    def observe() -> dict:
        begun = time.monotonic()
        observed = prober.observe(expected.cells)
        rounds.append((not wrong_cells(expected, observed), time.monotonic() - begun))
        return observed

    run.apply_policies([scenario.policy])
    try:
        streak = converge(observe, lambda _: rounds[-1][0], SETTLED).streak()
    finally:
        run.remove_policies()
    if streak < SETTLED.consistent_rounds:
        return None
    return statistics.median(seconds for _, seconds in rounds[-streak:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=1.0, help="probe timeout T in seconds")
    parser.add_argument("--keep-cluster", action="store_true")
    args = parser.parse_args()
    largest = scaled_architecture(max(SIZES))
    workdir = cluster.workdir_for(largest)
    workdir.mkdir(parents=True, exist_ok=True)
    made = ensure_cluster(largest, workdir / "spec.yaml")
    kube = Kube.from_kubeconfig(workdir / "kubeconfig")
    arch = model()
    missed = False
    try:
        with on_kind(
            kube, arch, probe_image(load_versions()), DEFAULT_TIMEOUTS.workloads_ready
        ) as run:
            prober = run.prober(args.timeout, DEFAULT_TIMEOUTS.exec_slack)
            cells = [
                c
                for c in prober.probed(expected_matrix(arch)).cells
                if c.destination.kind == "workload"
            ]
            for scenario in SCENARIOS:
                name = scenario.policy["metadata"]["name"]
                seconds = settled_round(prober, run, scenario, cells)
                if seconds is None:
                    missed = True
                    print(f"{name}: never matched the truth table", flush=True)
                    continue
                print(
                    f"{name}: netconform {len(cells)} cells in {seconds:.2f} s (batched, "
                    f"T {args.timeout:g} s) = {seconds / len(cells):.4f} s a cell; "
                    f"{upstream_round(scenario, ROOT / 'reports' / 'peer-netpol.json')}",
                    flush=True,
                )
    finally:
        if made and not args.keep_cluster:
            cluster_command("down", workdir / "spec.yaml")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
