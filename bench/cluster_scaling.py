"""`make bench-cluster`: how a run's cost grows with the architecture, on the local kind cluster.

For each size of bench.scaled_architecture (8, 16, 32, 64 workloads) on one cluster: the time
to deploy the probe workloads, the time the reference policies take to converge, one matrix
round (and against the probe timeout T), a sample of cells probed one `kubectl exec` each
(scaled to all cells), the nodes' used memory, the agents' and a probe pod's resident memory,
and the agents' own policy regeneration time. One line per size; the figures as JSON and a
picture of the curves beside them. A size that cannot run ends the run, saying what ended it.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from bench.matrix_on_cluster import one_kubectl_exec_per_probe
from bench.scaled_architecture import SIZES, architecture, scaled
from netconform import cluster
from netconform.checks.reachability import wrong_cells
from netconform.convergence import Convergence, converge
from netconform.docker_cli import docker
from netconform.kube import Kube
from netconform.matrix import expected_matrix
from netconform.podexec import PodExec
from netconform.policy_run import PolicyRun, on_kind
from netconform.probing import MatrixProber
from netconform.spec import Architecture
from netconform.timeouts import DEFAULT as DEFAULT_TIMEOUTS
from netconform.versions import load_versions, probe_image, tool, version

ROOT = Path(__file__).resolve().parents[1]
GOAL_SLACK = 10.0
MIB = 1024 * 1024
# The agents' histogram of the time an endpoint's regeneration takes, by scope.
REGENERATION = "cilium_endpoint_regeneration_time_stats_seconds"
WRONG_SHOWN = 8


@dataclass
class SizeFigures:
    workloads: int
    pods: int
    policies: int
    cells: int
    deploy_s: float
    convergence_s: float
    round_s: float
    timeout_s: float
    exec_sample: int
    exec_sample_s: float
    exec_all_s: float
    nodes_used_mib: float
    agent_rss_mib: float
    probe_rss_mib: float
    regeneration_p90_ms: float
    wrong_cells: int
    # The last round's wrong cells (at most WRONG_SHOWN), each with what was seen.
    wrong_seen: list[str]

    @property
    def goal_s(self) -> float:
        return 3 * self.timeout_s + GOAL_SLACK

    def line(self) -> str:
        met = "met" if self.round_s <= self.goal_s and not self.wrong_cells else "MISSED"
        return (
            f"{self.workloads:3d} workloads ({self.pods} pods, {self.policies} policies): "
            f"deploy {self.deploy_s:.0f}s, converge {self.convergence_s:.1f}s, "
            f"round {self.round_s:.2f}s = {self.round_s / self.timeout_s:.2f} x T for "
            f"{self.cells} cells (goal {self.goal_s:.0f}s: {met}), exec per probe "
            f"{self.exec_all_s:.0f}s = {self.exec_all_s / self.round_s:.0f} x batched "
            f"({self.exec_sample} cells in {self.exec_sample_s:.0f}s, scaled), nodes "
            f"{self.nodes_used_mib:.0f} MiB, agent {self.agent_rss_mib:.0f} MiB, probe pod "
            f"{self.probe_rss_mib:.0f} MiB, regeneration p90 {self.regeneration_p90_ms:.0f} ms, "
            f"{self.wrong_cells} wrong cells"
        ) + "".join(f"\n    wrong: {seen}" for seen in self.wrong_seen)


# Every process of the container but the shell that reads them.
EVERY_PROCESS = 'for p in /proc/[0-9]*; do [ "$p" = /proc/$$ ] || cat "$p/status"; done'


def _rss_mib(site: PodExec) -> float:
    """The container's resident memory (the agent; a probing pod's netprobe server and its
    probe session)."""
    status = site.run(["sh", "-c", EVERY_PROCESS], timeout=30).stdout
    kib = [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")]
    return sum(kib) / 1024


def _agents(kube: Kube) -> list[PodExec]:
    pods = kube.list("v1", "Pod", "kube-system", "k8s-app=cilium")
    return [
        PodExec(kube.core(), "kube-system", p["metadata"]["name"], container="cilium-agent")
        for p in pods
    ]


def regeneration_p90_ms(agents: list[PodExec]) -> float:
    """The agents' own 90th percentile of an endpoint regeneration's total time, as `cilium-dbg
    metrics list` gives it (their histogram since they started), the largest over agents."""
    found = [0.0]
    for agent in agents:
        argv = ["cilium-dbg", "metrics", "list", "-o", "json", "-p", REGENERATION]
        for metric in json.loads(agent.run(argv, timeout=60).stdout or "[]"):
            labels = metric.get("labels") or {}
            if labels.get("scope") == "total" and labels.get("status") == "success":
                found.append(1000 * float(metric["value"]))
    return max(found)


def nodes_used_mib(arch: Architecture) -> float:
    """What kind's node containers use, as the engine accounts it (`docker stats`)."""
    names = cluster.kind_node_names(arch)
    out = docker("stats", "--no-stream", "--format", "{{json .}}", *names)
    return (
        sum(_bytes(json.loads(line)["MemUsage"].split("/")[0]) for line in out.splitlines()) / MIB
    )


def _bytes(text: str) -> float:
    units = {"KiB": 1024, "MiB": MIB, "GiB": 1024 * MIB, "kB": 1e3, "MB": 1e6, "GB": 1e9, "B": 1}
    text = text.strip()
    unit = next(u for u in units if text.endswith(u))
    return float(text[: -len(unit)]) * units[unit]


def _converge_time(prober: MatrixProber, run: PolicyRun) -> tuple[float, list[str], float]:
    """(seconds from the policies' apply to the first round of the final matching streak,
    the last round's wrong cells as seen, median seconds of a round once converged)."""
    expected = prober.probed(expected_matrix(run.arch))
    started = time.monotonic()
    run.apply_policies()
    marks: list[tuple[bool, float, float]] = []
    wrong: list[str] = []

    def observe() -> dict:
        begun = time.monotonic()
        observed = prober.observe(expected.cells)
        took = time.monotonic() - begun
        wrong[:] = [
            f"{cell}: expected {expected.cells[cell]}, saw {observed[cell].verdict} "
            f"{observed[cell].detail}".strip()
            for cell in wrong_cells(expected, observed)
        ]
        marks.append((not wrong, begun, took))
        first = f" (first: {wrong[0]})" if wrong else ""
        print(f"   round {len(marks)}: {took:.1f}s, {len(wrong)} wrong cells{first}", flush=True)
        return observed

    policy = Convergence(DEFAULT_TIMEOUTS.convergence * 4, DEFAULT_TIMEOUTS.consistent_rounds)
    rounds = converge(observe, lambda _: marks[-1][0], policy)
    streak = rounds.streak()
    first = marks[-streak][1] if streak else time.monotonic()
    rounds_s = [seconds for _, _, seconds in marks[-streak:]] or [marks[-1][2]]
    return first - started, wrong, statistics.median(rounds_s)


def measure(
    kube: Kube, arch: Architecture, timeout: float, sample: int, kubectl: list[str]
) -> SizeFigures:
    image = probe_image(load_versions())
    agents = _agents(kube)
    started = time.monotonic()
    with on_kind(kube, arch, image, DEFAULT_TIMEOUTS.workloads_ready) as run:
        deploy_s = time.monotonic() - started
        prober = run.prober(timeout, DEFAULT_TIMEOUTS.exec_slack)
        cells = sorted(prober.probed(expected_matrix(arch)).cells)
        convergence_s, wrong, round_s = _converge_time(prober, run)
        chosen = random.Random(arch.cluster.name).sample(cells, min(sample, len(cells)))
        begun = time.monotonic()
        one_kubectl_exec_per_probe(prober, chosen, kubectl)
        exec_sample_s = time.monotonic() - begun
        pods = run.running_pods()
        some_pod = next(iter(prober.sites.values())).exec
        assert isinstance(some_pod, PodExec)
        return SizeFigures(
            workloads=len(pods),
            pods=sum(len(p) for p in pods.values()),
            policies=len(run.policy_manifests()),
            cells=len(cells),
            deploy_s=deploy_s,
            convergence_s=convergence_s,
            round_s=round_s,
            timeout_s=timeout,
            exec_sample=len(chosen),
            exec_sample_s=exec_sample_s,
            exec_all_s=exec_sample_s * len(cells) / len(chosen),
            nodes_used_mib=nodes_used_mib(arch),
            agent_rss_mib=max(_rss_mib(agent) for agent in agents),
            probe_rss_mib=_rss_mib(some_pod),
            regeneration_p90_ms=regeneration_p90_ms(agents),
            wrong_cells=len(wrong),
            wrong_seen=wrong[:WRONG_SHOWN],
        )


def plot(figures: list[SizeFigures], path: Path) -> None:
    """Seconds and memory against workloads, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"
    from matplotlib import pyplot

    sizes = [f.workloads for f in figures]
    fig, (seconds, memory) = pyplot.subplots(1, 2, figsize=(11, 4.2))
    curves: dict[str, Callable[[SizeFigures], float]] = {
        "deploy": lambda f: f.deploy_s,
        "policy convergence": lambda f: f.convergence_s,
        "matrix round (batched)": lambda f: f.round_s,
        "goal 3 x T + 10 s": lambda f: f.goal_s,
    }
    for label, value in curves.items():
        seconds.plot(sizes, [value(f) for f in figures], marker="o", label=label)
    seconds.set(xlabel="workloads", ylabel="seconds", title="time", xscale="log", xticks=sizes)
    seconds.set_xticklabels([str(s) for s in sizes])
    mib: dict[str, Callable[[SizeFigures], float]] = {
        "nodes used": lambda f: f.nodes_used_mib,
        "largest agent RSS": lambda f: f.agent_rss_mib,
        "probe pods RSS (all)": lambda f: f.probe_rss_mib * f.pods,
    }
    for label, value in mib.items():
        memory.plot(sizes, [value(f) for f in figures], marker="o", label=label)
    memory.set(xlabel="workloads", ylabel="MiB", title="memory", xscale="log", xticks=sizes)
    memory.set_xticklabels([str(s) for s in sizes])
    for axes in (seconds, memory):
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def cluster_command(action: str, spec_file: Path, *more: str) -> None:
    argv = [sys.executable, "-m", "netconform.cli", "cluster", action, "--spec", str(spec_file)]
    subprocess.run([*argv, *more], check=action == "up")


def ensure_cluster(arch: Architecture, spec_file: Path) -> bool:
    """The bench's cluster, made from the largest spec when absent; whether it was made here."""
    if arch.cluster.name in cluster.kind_clusters():
        return False
    spec_file.write_text(yaml.safe_dump(scaled(max(SIZES)), sort_keys=False))
    cluster_command("up", spec_file, "--images=local")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), choices=SIZES)
    parser.add_argument("--timeout", type=float, default=1.0, help="probe timeout T in seconds")
    parser.add_argument("--exec-sample", type=int, default=500, help="cells probed one exec each")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench-cluster.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "bench" / "cluster-scaling.svg")
    parser.add_argument("--keep-cluster", action="store_true")
    args = parser.parse_args()

    largest = architecture(max(args.sizes))
    workdir = cluster.workdir_for(largest)
    workdir.mkdir(parents=True, exist_ok=True)
    made = ensure_cluster(largest, workdir / "spec.yaml")
    kube = Kube.from_kubeconfig(workdir / "kubeconfig")
    versions = load_versions()
    kubectl = [
        tool("kubectl", version(versions, "kubernetes")),
        f"--kubeconfig={workdir}/kubeconfig",
    ]
    figures: list[SizeFigures] = []
    ended = ""
    try:
        for size in sorted(args.sizes):
            print(f"-- {size} workloads: deploying", flush=True)
            try:
                figures.append(
                    measure(kube, architecture(size), args.timeout, args.exec_sample, kubectl)
                )
            except Exception as error:
                ended = f"{size} workloads did not run: {type(error).__name__}: {error}"
                print(ended.splitlines()[0], flush=True)
                break
            print(figures[-1].line(), flush=True)
    finally:
        if made and not args.keep_cluster:
            cluster_command("down", workdir / "spec.yaml")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"sizes": [asdict(f) for f in figures], "ended": ended}, indent=2)
    )
    if figures:
        plot(figures, args.plot)
        print(f"figures in {args.out}, curves in {args.plot}")
    missed = [f for f in figures if f.round_s > f.goal_s or f.wrong_cells]
    return 1 if ended or missed else 0


if __name__ == "__main__":
    sys.exit(main())
