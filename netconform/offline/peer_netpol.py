"""`make peer-netpol`: the Kubernetes NetworkPolicy e2e tests, as upstream runs them, against
the local kind cluster with Cilium: a peer whose verdicts netconform's do not feed.

The tests (test/e2e/network/netpol of the pinned k8s.io/kubernetes) and their probe program
agnhost are built here from the module; agnhost's image carries the name the tests ask for
and is loaded into the cluster's nodes, so nothing is pulled. The run reuses the suites'
cluster when it is up and otherwise makes one from the spec (removed after, unless kept).

    python -m netconform.offline.peer_netpol [--focus REGEX] [--skip REGEX] [--keep-cluster]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from netconform import cluster, sources
from netconform.offline import gobuild
from netconform.offline.cilium_images import static_image
from netconform.offline.images import ImageError
from netconform.spec import SpecError, load
from netconform.versions import load_versions

MANIFEST = "test/utils/image/manifest.go"
# Cilium's chart leaves SCTP off (sctp.enabled) and the tests then can only fail.
DEFAULT_SKIP = r"SCTP"
FIRST_TRY = "Validating reachability matrix... (FIRST TRY)"
# The report adds " - file:line" to the console's line; ginkgo's time format
# 01/02/06 15:04:05.999 drops trailing zeros of the fraction, or all of it.
STEP = re.compile(
    r"STEP: (?P<what>.*?)(?: - \S+:\d+)? @ (?P<at>\d\d/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?)"
)
KLOG = re.compile(r"^\s*[IWE](?P<at>\d{4} \d\d:\d\d:\d\d\.\d+)\s+\d+ \S+\] (?P<msg>.*)")
EXEC = re.compile(
    r"ExecWithOptions \{Command:\[/agnhost connect (?P<to>\S+) .*?"
    r"Namespace:(?P<ns>\S+) PodName:(?P<pod>\S+)"
)
ROUND_ENDS = ("VALIDATION SUCCESSFUL", "failed first probe")
# The console lines worth showing as the run goes: a spec's name, its outcome.
PROGRESS = re.compile(r"^(\[sig-network\]|•|S \[SKIPPED\])")
# Failures that are Cilium's documented behaviour, not a fault: spec name pattern -> why.
KNOWN_DIFFERENCES = {
    re.compile(r"IPBlock|in CIDR block"): (
        "Cilium never matches a CIDR rule (ipBlock) to a pod's address, pods are selected by "
        "identity only (Cilium's CIDR rule documentation, cilium/cilium#9209); `netconform "
        'analyze` says it of such an ipBlock ("covers the pod CIDR")'
    ),
}


class PeerError(RuntimeError):
    pass


def agnhost_image(kubernetes_source: Path) -> str:
    """The agnhost reference the tests deploy, as the pinned release's image manifest names
    it (registry and tag move between releases)."""
    text = (kubernetes_source / MANIFEST).read_text()
    registry = re.search(r'PromoterE2eRegistry:\s*"([^"]+)"', text)
    tag = re.search(
        r'configs\[Agnhost\]\s*=\s*Config\{list\.PromoterE2eRegistry,\s*"agnhost",'
        r'\s*"([^"]+)"\}',
        text,
    )
    if not registry or not tag:
        raise PeerError(
            f"no agnhost image in {MANIFEST} of the pinned kubernetes; adapt agnhost_image()"
        )
    return f"{registry.group(1)}/agnhost:{tag.group(1)}"


@dataclass(frozen=True)
class Round:
    """Their first matrix round of a spec: one exec per probe attempt (a probe that does not
    give the expected answer is tried again with backoff)."""

    seconds: float
    cells: int
    execs: int


def _when(stamp: str) -> float:
    whole, _, frac = stamp.partition(".")
    return datetime.strptime(whole, "%m/%d/%y %H:%M:%S").timestamp() + float(f"0.{frac or 0}")


def first_round(output: str) -> Round | None:
    """From the step that starts a first matrix round to its verdict (or the next step)."""
    started: float | None = None
    year = ""
    cells: set[tuple[str, str, str]] = set()
    execs = 0
    for line in output.splitlines():
        step = STEP.search(line)
        if started is None:
            if step and step["what"] == FIRST_TRY:
                started, year = _when(step["at"]), step["at"][6:8]
            continue
        klog = KLOG.match(line)
        if klog and (probe := EXEC.search(klog["msg"])):
            cells.add((probe["ns"], probe["pod"], probe["to"]))
            execs += 1
        if step or (klog and klog["msg"].startswith(ROUND_ENDS)):
            at = klog["at"] if klog else ""
            ended = _when(f"{at[:2]}/{at[2:4]}/{year} {at[5:]}") if klog else _when(step["at"])
            return Round(round(ended - started, 1), len(cells), execs)
    return None


@dataclass(frozen=True)
class SpecResult:
    name: str
    state: str  # passed, failed, skipped
    seconds: float
    first_round: Round | None
    message: str


def results(junit: Path) -> list[SpecResult]:
    """Each spec of ginkgo's JUnit report; the node setup and teardown entries left out."""
    out: list[SpecResult] = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        if not name.startswith("[It]"):
            continue
        failure = case.find("failure")
        state = case.get("status") or ("failed" if failure is not None else "passed")
        output = case.findtext("system-err") or ""
        message = (failure.get("message") or "").splitlines()[0] if failure is not None else ""
        out.append(
            SpecResult(
                name.removeprefix("[It] "),
                state,
                float(case.get("time") or 0),
                first_round(output),
                message,
            )
        )
    return out


def summary(specs: Sequence[SpecResult], wall_s: float) -> str:
    counts = {s: sum(1 for r in specs if r.state == s) for s in ("passed", "failed", "skipped")}
    rounds = sorted((r.first_round for r in specs if r.first_round), key=lambda r: r.seconds)
    lines = [
        f"upstream NetworkPolicy e2e: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped in {wall_s:.0f} s",
    ]
    if rounds:
        middle = rounds[len(rounds) // 2]
        cells = sum(r.cells for r in rounds)
        lines.append(
            f"their first matrix rounds (one exec per probe attempt, 3 at a time, T 3 s): "
            f"{len(rounds)}, median {middle.seconds:.1f} s for {middle.cells} cells "
            f"({middle.execs} execs), {sum(r.seconds for r in rounds) / cells:.2f} s a cell"
        )
    for spec in specs:
        if spec.state == "failed":
            why = explained(spec)
            lines.append(f"  FAILED {spec.name}: {spec.message}")
            lines.append(f"    {'explained: ' + why if why else 'UNEXPLAINED'}")
    return "\n".join(lines)


def explained(spec: SpecResult) -> str:
    return next(
        (why for pattern, why in KNOWN_DIFFERENCES.items() if pattern.search(spec.name)), ""
    )


def unexplained(specs: Sequence[SpecResult]) -> list[SpecResult]:
    return [s for s in specs if s.state == "failed" and not explained(s)]


def ensure_cluster(spec: Path) -> tuple[Path, object, bool]:
    """The kubeconfig and handle of the spec's cluster, made from local images when absent;
    whether it was made here."""
    arch = load(str(spec))
    versions = load_versions()
    workdir = cluster.workdir_for(arch)
    made = arch.cluster.name not in cluster.kind_clusters(versions)
    if made:
        print(f"-- no cluster {arch.cluster.name}: making one from the local images", flush=True)
        user = sources.load(arch) if arch.sources.used else None
        cluster.run_plan(
            cluster.up_plan(arch, versions, workdir, True, user=user),
            progress=lambda line: print(line, flush=True),
        )
    kubeconfig = workdir / "kubeconfig"
    handle = cluster.kind_cluster(arch.cluster.name, kubeconfig, None, versions)
    return kubeconfig, handle, made


def run_tests(binary: Path, kubeconfig: Path, focus: str, skip: str, reports: Path) -> float:
    """The tests' own program, its output kept in full in the log and shown as it goes."""
    junit, log = reports / "peer-netpol.xml", reports / "peer-netpol.log"
    argv = [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        "--provider=local",
        f"--ginkgo.focus={focus}",
        f"--ginkgo.skip={skip}",
        "--ginkgo.no-color",
        "--ginkgo.v",
        "--ginkgo.timeout=4h",
        f"--ginkgo.junit-report={junit}",
        f"--e2e-output-dir={reports}",
    ]
    print(f"-- {' '.join(argv)}\n   full output: {log}", flush=True)
    junit.unlink(missing_ok=True)  # a crashed run must not pass off the last run's report
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if PROGRESS.match(line):
                print(f"   [{time.monotonic() - started:5.0f}s] {line.rstrip()[:150]}", flush=True)
        proc.wait()
    if not junit.is_file():
        raise PeerError(f"the tests wrote no report (exit {proc.returncode}); see {log}")
    return time.monotonic() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m netconform.offline.peer_netpol", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--spec", type=Path, default=Path("architecture.yaml"))
    parser.add_argument("--focus", default=r"\[sig-network\] Netpol")
    parser.add_argument("--skip", default=DEFAULT_SKIP)
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--keep-cluster", action="store_true")
    parser.add_argument(
        "--summarize", action="store_true", help="only read the last run's report again"
    )
    args = parser.parse_args(argv)
    junit = args.reports / "peer-netpol.xml"
    try:
        wall = None if args.summarize else run(args)
        if not junit.is_file():
            raise PeerError(f"no report at {junit}: run make peer-netpol first")
        specs = results(junit)
    except (
        PeerError,
        SpecError,
        sources.SourceError,
        gobuild.BuildError,
        ImageError,
        cluster.LocalImagesMissing,
        cluster.StepFailed,
    ) as error:
        print(f"peer-netpol: {error}", file=sys.stderr)
        return 2
    figures = args.reports / "peer-netpol.json"
    if wall is None:
        wall = json.loads(figures.read_text())["wall_s"] if figures.is_file() else 0.0
    figures.write_text(
        json.dumps({"wall_s": round(wall, 1), "specs": [asdict(s) for s in specs]}, indent=2)
    )
    print(summary(specs, wall))
    return 1 if unexplained(specs) or not specs else 0


def run(args: argparse.Namespace) -> float:
    """Build, load, run on the spec's cluster; the tests' wall time."""
    binaries = gobuild.ensure(["agnhost", "netpol-e2e"])
    image = agnhost_image(gobuild.module_source("kubernetes"))
    print(f"-- {image} from agnhost built here", flush=True)
    static_image(image, binaries["agnhost"], "/agnhost", ['ENTRYPOINT ["/agnhost"]'])
    kubeconfig, handle, made = ensure_cluster(args.spec)
    args.reports.mkdir(parents=True, exist_ok=True)
    try:
        handle.load_docker_image(image)
        return run_tests(
            binaries["netpol-e2e"],
            kubeconfig.resolve(),
            args.focus,
            args.skip,
            args.reports.resolve(),
        )
    finally:
        if made and not args.keep_cluster:
            cluster.run_plan(
                cluster.down_plan(load(str(args.spec)), load_versions(), kubeconfig.parent)
            )


if __name__ == "__main__":
    sys.exit(main())
