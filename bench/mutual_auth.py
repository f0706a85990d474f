"""How long a new kind cluster takes until mutual authentication works, creation after creation.

Each round deletes the kind cluster, brings a new one up (the same plan as `netconform
cluster up`, which waits until SPIRE can authenticate), deploys the probe workloads under
the reference policies and probes the flows `mutual_auth.required_for` names until they
connect. Prints one line per creation:
    creation <i>: up <s> (SPIRE ready <s> after Cilium), required flows connect <s> after
    the workloads: <n> cells
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from netconform import cluster
from netconform.convergence import Convergence
from netconform.engine import ReachabilityEngine
from netconform.kube import Kube
from netconform.matrix import expected_matrix, of_flows, restrict
from netconform.policy_run import on_kind
from netconform.spec import load
from netconform.timeouts import DEFAULT as DEFAULT_TIMEOUTS
from netconform.versions import load_versions, probe_image

ROOT = Path(__file__).resolve().parents[1]
SPIRE_STEP = "wait until mutual authentication can work"


def creation(spec: Path, local: bool, timeout: float) -> str:
    arch = load(spec)
    versions = load_versions()
    workdir = cluster.workdir_for(arch)
    cluster.run_plan(cluster.down_plan(arch, versions, workdir), progress=lambda _: None)
    marks: dict[str, float] = {}
    started = time.monotonic()

    def progress(line: str) -> None:
        marks.setdefault(line.split("] ", 1)[-1], time.monotonic() - started)

    cluster.run_plan(cluster.up_plan(arch, versions, workdir, local), progress=progress)
    up = time.monotonic() - started
    install = next(t for what, t in marks.items() if what.startswith("install Cilium"))
    spire = next(t for what, t in marks.items() if what.startswith(SPIRE_STEP))
    kube = Kube.from_kubeconfig(workdir / "kubeconfig")
    image = probe_image(versions)
    with on_kind(kube, arch, image, DEFAULT_TIMEOUTS.workloads_ready) as run:
        deployed = time.monotonic()
        run.apply_policies()
        run.wait_mutual_auth(DEFAULT_TIMEOUTS)
        prober = run.prober(timeout, DEFAULT_TIMEOUTS.exec_slack)
        engine = ReachabilityEngine(prober, Convergence(DEFAULT_TIMEOUTS.convergence, 1))
        required = of_flows(arch, arch.mutual_auth.required_for)
        matrix = restrict(expected_matrix(arch), filter(required, expected_matrix(arch).cells))
        verdict = engine.check(prober.probed(matrix))
        connected = time.monotonic() - deployed
    if not verdict.ok:
        return f"required flows never connected: {verdict}"
    return (
        f"up {up:.0f} s (SPIRE ready {up - spire:.0f} s after its wait began, "
        f"{up - install:.0f} s after Cilium's install began), required flows connect "
        f"{connected:.1f} s after the workloads: {len(engine.last)} cells"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "architecture.yaml")
    parser.add_argument("--creations", type=int, default=5)
    parser.add_argument("--images", choices=["local", "registry"], default="local")
    parser.add_argument("--timeout", type=float, default=1.0, help="probe timeout in seconds")
    args = parser.parse_args()
    failed = 0
    for number in range(1, args.creations + 1):
        line = creation(args.spec, args.images == "local", args.timeout)
        failed += line.startswith("required flows never")
        print(f"creation {number}: {line}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
