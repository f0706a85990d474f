"""`netconform upgrade-check`: upgrade Cilium in place with Helm while steady probes run, and
say per probe what the upgrade cost (failed attempts, longest gap) and whether any denied
cell leaked even once. No other tool measures this, and it is what a Renovate bump of
Cilium must pass before it merges.

The probes: the spec's whole matrix under its reference policies (allowed and denied cells,
same node and across nodes; every 53/UDP cell asks kube-dns a real question), and a
LoadBalancer Service reached from a container beside kind through a static route via one
node, as a router would send it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netconform import cluster, external_targets
from netconform.checks.disruption import Figures, Series, check_disruption, figures
from netconform.convergence import Convergence
from netconform.docker_cli import docker
from netconform.engine import ReachabilityEngine
from netconform.exec import DockerExec
from netconform.kube import Kube
from netconform.lb_scenario import LbScenario
from netconform.matrix import ALLOWED, Cell, Endpoint, ExpectedMatrix, expected_matrix
from netconform.policy_run import PolicyRun, on_kind
from netconform.probe_client import ProbeSite, mounted
from netconform.probing import MatrixProber
from netconform.spec import Architecture, PortSpec
from netconform.steady_probes import SteadyProbes
from netconform.timeouts import Timeouts
from netconform.verdict import Verdict
from netconform.versions import probe_image, router_image, tool, version, with_version

# A lab address of its own: no suite's pool or scenario range uses it.
POOL_CIDR = "198.18.243.0/30"
LB_PORT = 80
# Steady probes run this long before the first upgrade step and after the last.
MARGIN = 10.0
LOCAL_DEVIATION = (
    "both releases built here from the Go module proxy; the candidate's images loaded into "
    "the nodes and installed with the pinned version's chart, image tags overridden (the "
    "candidate's own chart is not on this machine)"
)


class UpgradeError(RuntimeError):
    """The upgrade check cannot start or finish; the message says why."""


def running_version(kube: Kube) -> str:
    """The tag of the agent image Cilium's DaemonSet runs."""
    daemonset = kube.get("apps/v1", "DaemonSet", "cilium", "kube-system")
    if daemonset is None:
        raise UpgradeError("no Cilium DaemonSet in kube-system: install Cilium first")
    containers = daemonset["spec"]["template"]["spec"]["containers"]
    image = next(c["image"] for c in containers if c["name"] == "cilium-agent")
    return image.split("@")[0].rsplit(":", 1)[-1]


@dataclass(frozen=True)
class UpgradePlan:
    """`prepare` runs before the probes start (images built and loaded), `upgrade` under them."""

    prepare: list[cluster.Step]
    upgrade: list[cluster.Step]
    deviation: str


def plan(
    arch: Architecture,
    versions: Mapping[str, Mapping[str, str]],
    workdir: Path,
    candidate: str,
    local: bool,
    timeouts: Timeouts,
) -> UpgradePlan:
    kubeconfig = workdir / "kubeconfig"
    kubectl = (
        tool("kubectl", version(versions, "kubernetes")),
        f"--kubeconfig={kubeconfig}",
    )
    helm = (
        tool("helm", version(versions, "helm")),
        f"--kubeconfig={kubeconfig}",
    )
    prepare: list[cluster.Step] = []
    if local:
        from netconform.offline import cilium_images

        target = with_version(versions, "cilium", candidate)
        images = cilium_images.image_names(target)
        kind = tool("kind", version(versions, "kind"))
        prepare = [
            cluster.Step(
                f"build Cilium {candidate}'s images here (cached)",
                ("python", "-m", "netconform.offline.local_images", "--cilium", candidate),
                action=lambda: cilium_images.build(target, log=lambda _: None) and None,
            ),
            cluster.Step(
                "load them into the kind nodes",
                (
                    kind,
                    "load",
                    "docker-image",
                    images.agent,
                    images.operator,
                    images.relay,
                    f"--name={arch.cluster.name}",
                ),
            ),
        ]
        chart: tuple[str, ...] = (str(cluster.local_chart(versions)),)
        chart += tuple(
            arg
            for key in ("image.tag", "operator.image.tag", "hubble.relay.image.tag")
            for arg in ("--set", f"{key}={candidate}")
        )
    else:
        repo = versions["cilium"]["chart_repository"]
        chart = ("cilium", "--repo", repo, "--version", candidate.removeprefix("v"))
    upgrade = [
        cluster.Step(
            f"upgrade Cilium to {candidate} in place with Helm",
            (*helm, "upgrade", "cilium", *chart, "--namespace", "kube-system", "--reuse-values"),
        ),
        *cluster.cilium_ready(kubectl, timeouts),
    ]
    return UpgradePlan(prepare, upgrade, LOCAL_DEVIATION if local else "")


@dataclass
class OutsideLb:
    """A LoadBalancer Service with echo backends, and a container beside kind whose route to
    its address goes via one node."""

    scenario: LbScenario
    container: str
    address: str
    via: str

    def cell(self) -> Cell:
        outside = Endpoint("outside", "external", "outside")
        service = Endpoint(f"lb {self.address}", "service", "lb")
        return Cell(outside, service, PortSpec(LB_PORT, "TCP"))


def _node_address(kube: Kube) -> tuple[str, str]:
    """A worker's name and InternalIP (the control plane where there is no worker)."""
    nodes = sorted(
        kube.list("v1", "Node"),
        key=lambda n: "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"],
    )
    node = nodes[0]
    address = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    return node["metadata"]["name"], address


@contextmanager
def outside_lb(
    kube: Kube, versions: Mapping[str, Mapping[str, str]], timeouts: Timeouts
) -> Iterator[OutsideLb]:
    run = secrets.token_hex(3)
    image = probe_image(versions)
    scenario = LbScenario(kube, namespace=f"netconform-upgrade-{run}")
    container = external_targets.container_name(run, "outside")
    try:
        scenario.create_namespace()
        scenario.pool("upgrade", POOL_CIDR)
        scenario.deploy_backend(image, 2, timeouts.workloads_ready)
        service = scenario.service("lb", port=LB_PORT)
        kube.wait_for(
            f"an address for {service}",
            lambda: kube.get("v1", "Service", "lb", scenario.namespace),
            lambda _: bool(scenario.addresses(service)),
            timeouts.workloads_ready,
        )
        address = scenario.addresses(service)[0]
        node, via = _node_address(kube)
        docker(
            *("run", "-d", "--rm", "--name", container, "--network", external_targets.KIND_NETWORK),
            *external_targets.run_labels(run),
            *mounted(),
            *(image, "sleep", "infinity"),
        )
        # The probe image has no `ip`; the router image has, and shares the container's netns.
        docker(
            *("run", "--rm", "--network", f"container:{container}", "--cap-add", "NET_ADMIN"),
            *("--entrypoint", "ip", router_image(versions)),
            *("route", "add", f"{address}/32", "via", via),
        )
        yield OutsideLb(scenario, container, address, f"{node} ({via})")
    finally:
        external_targets.remove(container)
        scenario.cleanup()


def with_outside(prober: MatrixProber, lb: OutsideLb) -> MatrixProber:
    """The run's prober plus the outside container as one more source."""
    cell = lb.cell()
    sites = {**prober.sites, cell.source: ProbeSite(DockerExec(lb.container))}
    addresses = {**prober.addresses, cell.destination: lb.address}
    return MatrixProber(
        sites, addresses, prober.timeout, prober.dns_query, prober.placed, prober.exec_slack
    )


@dataclass
class UpgradeReport:
    current: str
    candidate: str
    deviation: str
    verdict: Verdict
    figures: list[Figures]
    marks: list[tuple[float, str]]
    seconds: float
    rounds: int
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        marks = "\n".join(f"  {at:7.1f} s  {what}" for at, what in self.marks)
        lines = [
            f"Cilium {self.current} -> {self.candidate}: "
            f"{'PASS' if self.verdict.ok else 'FAIL'}: {self.verdict.summary}",
            *(f"note: {note}" for note in [self.deviation, *self.notes] if note),
            f"{self.rounds} rounds in {self.seconds:.0f} s; timeline:",
            marks,
            "",
            self.verdict.evidence,
        ]
        return "\n".join(lines)

    def as_data(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "candidate": self.candidate,
            "ok": self.verdict.ok,
            "summary": self.verdict.summary,
            "deviation": self.deviation,
            "notes": self.notes,
            "seconds": round(self.seconds, 1),
            "rounds": self.rounds,
            "timeline": [{"at": round(at, 1), "what": what} for at, what in self.marks],
            "probes": [
                {
                    "probe": f.name,
                    "wants": f.wants,
                    "attempts": f.attempts,
                    "failed": f.failed,
                    "longest_gap": round(f.longest_gap, 1),
                    "first_failure": f.first_failure,
                }
                for f in self.figures
            ],
        }

    def markdown(self) -> str:
        worst = sorted(self.figures, key=lambda f: (-f.failed, f.name))
        rows = [
            f"| {f.name} | {f.wants} | {f.attempts} | {f.failed} | {f.longest_gap:.1f} s |"
            for f in worst
            if f.failed
        ]
        return "\n".join(
            [
                f"## Cilium upgrade {self.current} → {self.candidate}: "
                f"{'✅' if self.verdict.ok else '❌'}",
                "",
                self.verdict.summary,
                "",
                *([f"_{self.deviation}_", ""] if self.deviation else []),
                "| probe | wants | attempts | failed | longest gap |",
                "|---|---|---|---|---|",
                *(rows or ["| every probe | | | 0 | 0.0 s |"]),
            ]
        )

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "upgrade.json").write_text(json.dumps(self.as_data(), indent=2) + "\n")
        (folder / "summary.md").write_text(self.markdown() + "\n")
        return folder


def _converged(prober: MatrixProber, expected: ExpectedMatrix, timeouts: Timeouts) -> None:
    convergence = Convergence(timeouts.convergence, timeouts.consistent_rounds)
    before = ReachabilityEngine(prober, convergence).check(expected)
    if not before.ok:
        raise UpgradeError(f"the matrix does not hold before the change:\n{before}")


@dataclass
class Measured:
    """The steady probes' record of one change: every attempt, the timeline, and whether the
    change's own steps failed."""

    series: list[Series]
    marks: list[tuple[float, str]]
    seconds: float
    rounds: int
    failure: str
    lb: OutsideLb


def _run_marked(
    steady: SteadyProbes, steps: Sequence[cluster.Step], progress: Callable[[str], None]
) -> str:
    """Run `steps` with MARGIN of steady probing either side, marking each; returns why they
    failed, if they did."""
    time.sleep(MARGIN)

    def marked(line: str) -> None:
        steady.mark(line.split("] ", 1)[-1])
        progress(line)

    failure = ""
    try:
        cluster.run_plan(steps, progress=marked)
        steady.mark("change done")
    except cluster.StepFailed as error:
        failure = str(error)
        steady.mark("change failed")
    progress(f"probing {MARGIN:g} s more")
    time.sleep(MARGIN)
    return failure


def measure(
    kube: Kube,
    arch: Architecture,
    versions: Mapping[str, Mapping[str, str]],
    change: Callable[[PolicyRun, OutsideLb], Sequence[cluster.Step]],
    timeouts: Timeouts,
    probe_timeout: float = 1.0,
    progress: Callable[[str], None] = print,
) -> Measured:
    """Probe workloads under the reference policies and a LoadBalancer Service, the matrix
    converged first; then `change`'s steps under steady probes. Everything removed after."""
    image = probe_image(versions)
    progress("deploying the probe workloads, the reference policies and a LoadBalancer Service")
    with (
        on_kind(kube, arch, image, timeouts.workloads_ready) as run,
        outside_lb(kube, versions, timeouts) as lb,
    ):
        run.apply_policies()
        prober = with_outside(run.prober(probe_timeout, timeouts.exec_slack), lb)
        expected = prober.probed(expected_matrix(arch))
        expected = ExpectedMatrix({**expected.cells, lb.cell(): ALLOWED})
        progress(f"waiting for the matrix to hold ({len(expected.cells)} probes)")
        _converged(prober, expected, timeouts)
        progress("steady probes running")
        with SteadyProbes(prober, expected) as steady:
            failure = _run_marked(steady, change(run, lb), progress)
    return Measured(steady.series(), steady.marks, steady.now(), steady.rounds, failure, lb)


def check(
    arch: Architecture,
    versions: Mapping[str, Mapping[str, str]],
    workdir: Path,
    candidate: str,
    local: bool,
    timeouts: Timeouts,
    probe_timeout: float = 1.0,
    max_gap: float | None = None,
    progress: Callable[[str], None] = print,
) -> UpgradeReport:
    kube = Kube.from_kubeconfig(workdir / "kubeconfig")
    current = running_version(kube)
    if current == candidate:
        raise UpgradeError(f"Cilium already runs {candidate}: nothing to upgrade")
    steps = plan(arch, versions, workdir, candidate, local, timeouts)
    cluster.run_plan(steps.prepare, progress=progress)
    progress(f"upgrading Cilium {current} -> {candidate} under steady probes")
    measured = measure(
        kube, arch, versions, lambda run, lb: steps.upgrade, timeouts, probe_timeout, progress
    )
    verdict = check_disruption(measured.series, max_gap)
    now = running_version(kube)
    problems = [measured.failure] if measured.failure else []
    if now != candidate:
        problems.append(f"Cilium runs {now} after the upgrade, not {candidate}")
    if problems:
        verdict = Verdict(False, "; ".join([*problems, verdict.summary]), verdict.evidence)
    return UpgradeReport(
        current,
        candidate,
        steps.deviation,
        verdict,
        [figures(s) for s in measured.series],
        measured.marks,
        measured.seconds,
        measured.rounds,
        [f"the LoadBalancer address {measured.lb.address} is reached via {measured.lb.via}"],
    )
