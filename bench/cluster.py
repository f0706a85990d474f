"""Benchmark on a running kind cluster with Cilium: the suite's batched matrix against one
`kubectl exec` per probe (the way the Kubernetes netpol e2e tests probe), and how stable the
matrix is over consecutive rounds once the reference policies have converged.

Needs the cluster (`netconform cluster up --images=local`, or the registry path). Prints:
    cluster matrix batched: <s> (<x> x T) for <n> cells
    cluster matrix kubectl exec per probe: <s> (<r> x the batched pass)
    cluster stability: <rounds> rounds, <w> wrong cells, <f> flapping cells
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

from netconform import cluster, external_targets
from netconform.checks.reachability import flapping_cells, wrong_cells
from netconform.convergence import Convergence
from netconform.engine import ReachabilityEngine
from netconform.kube import Kube
from netconform.matrix import Cell, ExpectedMatrix, by_placement, expected_matrix, restrict
from netconform.podexec import PodExec
from netconform.policy_run import PolicyRun, Target
from netconform.probing import MatrixProber
from netconform.spec import load
from netconform.timeouts import DEFAULT as DEFAULT_TIMEOUTS
from netconform.workloads import RunNamespaces

ROOT = Path(__file__).resolve().parents[1]


def one_kubectl_exec_per_probe(prober: MatrixProber, cells: list[Cell], kubectl: list[str]) -> None:
    """Every cell as its own `kubectl exec`, one after the other: the baseline's cost."""
    for cell in cells:
        site = prober.sites[cell.source].exec
        assert isinstance(site, PodExec)
        argv = [*kubectl, "-n", site.namespace, "exec", "-i", site.pod, "--"]
        argv += ["python3", "/agent/agent.py", "probe"]
        subprocess.run(argv, input=json.dumps(prober.probe(cell)), capture_output=True, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "architecture.yaml"))
    parser.add_argument("--timeout", type=float, default=1.0, help="probe timeout T in seconds")
    parser.add_argument("--rounds", type=int, default=10, help="rounds for the stability figure")
    args = parser.parse_args()

    arch = load(args.spec)
    versions = cluster.load_versions()
    workdir = cluster.workdir_for(arch)
    if arch.cluster.name not in cluster.kind_clusters():
        print(f"no kind cluster {arch.cluster.name}: run netconform cluster up first")
        return 2
    kube = Kube.from_kubeconfig(workdir / "kubeconfig")
    layout = RunNamespaces(secrets.token_hex(3))
    image = cluster.probe_image(versions)
    externals = external_targets.start(arch, layout.run, image)
    run = PolicyRun(Target(kube, None, True), arch, layout, image, externals)
    try:
        run.deploy()
        run.wait_ready(DEFAULT_TIMEOUTS.workloads_ready)
        run.apply_policies()
        prober = run.prober(args.timeout, DEFAULT_TIMEOUTS.exec_slack)
        spec_cells = expected_matrix(arch)
        known = [c for c in spec_cells.cells if c.destination in prober.addresses]
        expected: ExpectedMatrix = by_placement(restrict(spec_cells, known), prober.placed)
        convergence = Convergence(DEFAULT_TIMEOUTS.convergence, DEFAULT_TIMEOUTS.consistent_rounds)
        converged = ReachabilityEngine(prober, convergence).check(expected)
        if not converged.ok:
            print(converged)
            return 1
        times, rounds = [], []
        for _ in range(args.rounds):
            start = time.monotonic()
            rounds.append(prober.observe(expected.cells))
            times.append(time.monotonic() - start)
        batched = statistics.median(times)
        print(
            f"cluster matrix batched: {batched:.2f}s ({batched / args.timeout:.2f} x T) "
            f"for {len(expected.cells)} cells (median of {len(times)} rounds)"
        )
        wrong = sum(len(wrong_cells(expected, observed)) for observed in rounds)
        flapping = len(flapping_cells(expected, rounds))
        print(
            f"cluster stability: {len(rounds)} rounds, {wrong} wrong cells, "
            f"{flapping} flapping cells"
        )
        kubectl = [cluster.tool("kubectl", cluster.version(versions, "kubernetes"))]
        kubectl.append(f"--kubeconfig={workdir / 'kubeconfig'}")
        start = time.monotonic()
        one_kubectl_exec_per_probe(prober, sorted(expected.cells), kubectl)
        naive = time.monotonic() - start
        print(
            f"cluster matrix kubectl exec per probe: {naive:.1f}s "
            f"({naive / batched:.0f} x the batched pass)"
        )
        return 0 if not wrong and not flapping else 1
    finally:
        external_targets.stop(layout.run, externals)
        run.cleanup()


if __name__ == "__main__":
    sys.exit(main())
