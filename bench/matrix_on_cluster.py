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
import statistics
import subprocess
import sys
import time
from pathlib import Path

from netconform import cluster
from netconform.checks.reachability import flapping_cells, wrong_cells
from netconform.convergence import Convergence
from netconform.engine import ReachabilityEngine
from netconform.kube import Kube
from netconform.matrix import Cell, expected_matrix
from netconform.podexec import PodExec
from netconform.policy_run import on_kind
from netconform.probe_client import NETPROBE_ARGV
from netconform.probing import MatrixProber
from netconform.spec import load
from netconform.timeouts import DEFAULT as DEFAULT_TIMEOUTS
from netconform.versions import load_versions, probe_image, tool, version

ROOT = Path(__file__).resolve().parents[1]


def one_kubectl_exec_per_probe(prober: MatrixProber, cells: list[Cell], kubectl: list[str]) -> None:
    """Every cell as its own `kubectl exec`, one after the other: the baseline's cost."""
    for cell in cells:
        site = prober.sites[cell.source].exec
        assert isinstance(site, PodExec)
        argv = [*kubectl, "-n", site.namespace, "exec", "-i", site.pod, "--"]
        argv += [*NETPROBE_ARGV, "probe"]
        subprocess.run(argv, input=json.dumps(prober.probe(cell)), capture_output=True, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "architecture.yaml"))
    parser.add_argument("--timeout", type=float, default=1.0, help="probe timeout T in seconds")
    parser.add_argument("--rounds", type=int, default=10, help="rounds for the stability figure")
    args = parser.parse_args()

    arch = load(args.spec)
    versions = load_versions()
    workdir = cluster.workdir_for(arch)
    if arch.cluster.name not in cluster.kind_clusters():
        print(f"no kind cluster {arch.cluster.name}: run netconform cluster up first")
        return 2
    kube = Kube.from_kubeconfig(workdir / "kubeconfig")
    image = probe_image(versions)
    with on_kind(kube, arch, image, DEFAULT_TIMEOUTS.workloads_ready) as run:
        run.apply_policies()
        prober = run.prober(args.timeout, DEFAULT_TIMEOUTS.exec_slack)
        expected = prober.probed(expected_matrix(arch))
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
        kubectl = [tool("kubectl", version(versions, "kubernetes"))]
        kubectl.append(f"--kubeconfig={workdir / 'kubeconfig'}")
        start = time.monotonic()
        one_kubectl_exec_per_probe(prober, sorted(expected.cells), kubectl)
        naive = time.monotonic() - start
        print(
            f"cluster matrix kubectl exec per probe: {naive:.1f}s "
            f"({naive / batched:.0f} x the batched pass)"
        )
        return 0 if not wrong and not flapping else 1


if __name__ == "__main__":
    sys.exit(main())
