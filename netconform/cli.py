"""The `netconform` command: check tools, validate a spec, analyze its policies, render
manifests, bring a cluster up."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from netconform import cluster, preflight, sources
from netconform.checks.policy_input import POLICY_KINDS
from netconform.manifest import Manifest, documents
from netconform.spec import SPEC_FILE, Architecture, SpecError, load
from netconform.versions import load_versions, version


def _spec(args: argparse.Namespace) -> Architecture:
    return load(_spec_path(args))


def _spec_path(args: argparse.Namespace) -> str:
    """`validate FILE`, `COMMAND --spec FILE` and `--spec FILE COMMAND` all name the spec."""
    return getattr(args, "file", None) or args.spec


def _preflight(args: argparse.Namespace) -> int:
    found = preflight.problems()
    if found:
        print(preflight.report(found), file=sys.stderr)
        return 2
    print("netconform: docker, kind, helm and kubectl are ready")
    return 0


def _validate(args: argparse.Namespace) -> int:
    arch = _spec(args)
    count = sum(len(g.environments) for g in arch.groups.values())
    print(f"{_spec_path(args)}: ok ({count} workloads, {len(arch.policy.flows)} flows)")
    return 0


def _render(args: argparse.Namespace) -> int:
    import yaml

    from netconform.manifests import render_all
    from netconform.probe_client import NETPROBE_FILE

    agent = NETPROBE_FILE.read_text()
    summary = f"(the probe, {NETPROBE_FILE.name}: {len(agent.splitlines())} lines)"
    manifests = render_all(_spec(args))
    for manifest in manifests:
        if manifest.get("data", {}).get(NETPROBE_FILE.name) == agent:
            manifest["data"][NETPROBE_FILE.name] = summary
    print(yaml.dump_all(manifests, Dumper=cluster.PlainDumper, sort_keys=False), end="")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    """The policies' matrix predicted without a cluster, against the spec; exit 1 on a diff."""
    import time

    from netconform.analyze import (
        analyze,
        policy_manifests,
        predictions,
        rule_findings,
        unauthenticated,
    )
    from netconform.manifests import REFERENCE_RUN
    from netconform.workloads import RunNamespaces

    started = time.monotonic()
    arch = _spec(args)
    try:
        manifests = [d for path in args.paths for d in _policy_file(path)]
        user = sources.load(arch) if arch.sources.used else None
    except OSError as error:
        print(f"netconform analyze: {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    except (sources.SourceError, ValueError) as error:
        print(f"netconform analyze: {error}", file=sys.stderr)
        return 2
    layout = RunNamespaces.declared_by(
        arch, REFERENCE_RUN, user.namespace_labels() if user else None
    )
    manifests = manifests or policy_manifests(arch, layout, user)
    predicted = predictions(arch, manifests, layout)
    verdict = analyze(arch, predicted)
    print(verdict)
    for finding in rule_findings(arch, manifests, layout):
        print(f"note: {finding}")
    missing = unauthenticated(arch, predicted)
    for line in missing:
        print(f"! {line}")
    counted = sum(1 for m in manifests if m.get("kind") in POLICY_KINDS)
    print(f"({counted} policies analyzed in {time.monotonic() - started:.2f} s)")
    return 0 if verdict.ok and not missing else 1


def _policy_file(path: str) -> list[Manifest]:
    """A file's documents, or a ValueError naming the file and every problem in it."""
    import yaml

    from netconform.checks.policy_input import problems

    try:
        found = documents(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(document)"
        reason = getattr(error, "problem", None) or str(error)
        raise ValueError(f"{path}: {where}: not valid YAML: {reason}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text: is it the right file?") from None
    said = problems(found, path)
    if said:
        raise ValueError("\n".join(said))
    return found


def _version(text: str) -> str:
    """A release as Cilium tags it: v1.20.2 (a pre-release suffix allowed)."""
    import re

    if not re.fullmatch(r"v\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a version such as v1.20.2")
    return text


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} seconds: give more than 0")
    return value


def _results_file(given: str) -> Path:
    path = Path(given)
    return path / "results.json" if path.is_dir() else path


def _results(args: argparse.Namespace) -> int:
    """Validate results files against the schema and print each run's summary."""
    from netconform import results

    try:
        for given in args.files:
            run = results.load(_results_file(given))
            print(f"{given}: run {run['run']}, {len(run['checks'])} checks, valid")
            print(results.summary(run))
    except results.ResultsError as error:
        print(f"netconform results: {error}", file=sys.stderr)
        return 2
    return 0


def _diff(args: argparse.Namespace) -> int:
    """What changed between two runs; exit 1 if anything got worse."""
    from netconform import results

    try:
        baseline = results.load(_results_file(args.baseline))
        candidate = results.load(_results_file(args.candidate))
    except results.ResultsError as error:
        print(f"netconform diff: {error}", file=sys.stderr)
        return 2
    lines, worse = results.diff(baseline, candidate)
    print(f"netconform diff: run {baseline['run']} -> run {candidate['run']}")
    print("\n".join(lines) or "nothing changed")
    if worse:
        print("a regression: a check or a cell got worse")
    return 1 if worse else 0


def _manifests(args: argparse.Namespace) -> int:
    """Write the reference manifests; generated files no longer produced are removed."""
    from netconform.manifests import GENERATED, reference_files

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = reference_files(_spec(args))
    for stale in sorted(out.glob("*.yaml")):
        if stale.name not in files and stale.read_text().startswith(GENERATED):
            stale.unlink()
            print(f"removed {stale}")
    for name, text in files.items():
        (out / name).write_text(text)
        print(f"wrote {out / name}")
    return 0


def _cluster(args: argparse.Namespace) -> int:
    arch = _spec(args)
    versions = load_versions()
    workdir = cluster.workdir_for(arch)
    if args.action == "status":
        present = arch.cluster.name in cluster.kind_clusters()
        state = "running" if present else "absent"
        print(f"kind cluster {arch.cluster.name}: {state} (state in {workdir})")
        return 0 if present else 1
    local = args.images == "local"
    try:
        user = sources.load(arch) if arch.sources.used and args.action == "up" else None
        plan = (
            cluster.up_plan(arch, versions, workdir, local, planning_only=args.dry_run, user=user)
            if args.action == "up"
            else cluster.down_plan(arch, versions, workdir)
        )
    except (cluster.LocalImagesMissing, sources.SourceError) as error:
        print(f"netconform: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(cluster.render_plan(plan))
        if local and not cluster.LOCAL_NODE_IMAGE.exists():
            print(f"netconform: local images are not built yet; {cluster.LOCAL_IMAGES_BUILD}")
        return 0
    found = preflight.problems() if args.action == "up" and not local else []
    if found:
        print(preflight.report(found), file=sys.stderr)
        return 2
    try:
        cluster.run_plan(plan, progress=lambda line: print(line, flush=True))
    except cluster.StepFailed as error:
        print(f"netconform: {error}", file=sys.stderr)
        return 1
    return 0


def _upgrade_check(args: argparse.Namespace) -> int:
    """Upgrade Cilium in place under steady probes; exit 1 on a leak, a gap over --max-gap or
    a failed upgrade."""
    import time

    from netconform import upgrade
    from netconform.timeouts import DEFAULT as DEFAULT_TIMEOUTS

    arch = _spec(args)
    versions = load_versions()
    workdir = cluster.workdir_for(arch)
    local = args.images == "local"
    try:
        if args.dry_run:
            steps = upgrade.plan(arch, versions, workdir, args.to, local, DEFAULT_TIMEOUTS)
            print(cluster.render_plan([*steps.prepare, *steps.upgrade]))
            return 0
        if arch.cluster.name not in cluster.kind_clusters():
            print(
                f"netconform: no kind cluster {arch.cluster.name}: run "
                f"`netconform cluster up{' --images=local' if local else ''}` first",
                file=sys.stderr,
            )
            return 2
        report = upgrade.check(
            arch, versions, workdir, args.to, local, DEFAULT_TIMEOUTS,
            args.probe_timeout, args.max_gap, lambda line: print(line, flush=True),
        )  # fmt: skip
    except (upgrade.UpgradeError, cluster.StepFailed, cluster.LocalImagesMissing) as error:
        print(f"netconform upgrade-check: {error}", file=sys.stderr)
        return 2
    folder = Path(args.reports) / f"upgrade-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    print(report.text())
    print(f"report: {report.write(folder)}")
    return 0 if report.verdict.ok else 1


def _clean(args: argparse.Namespace) -> int:
    """Leftovers of interrupted runs on the kind cluster (or --kube-context), outside containers."""
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import ConfigException
    from urllib3.exceptions import MaxRetryError

    from netconform import external_targets
    from netconform.cluster_dns import ClusterDns
    from netconform.kube import Kube
    from netconform.policy_run import remove_leftovers
    from netconform.timeouts import DEFAULT as DEFAULT_TIMEOUTS

    arch = _spec(args)
    kind_kubeconfig = cluster.workdir_for(arch) / "kubeconfig"
    use_kind = args.kube_context is None and arch.cluster.name in cluster.kind_clusters()
    try:
        kube = (
            Kube.from_kubeconfig(kind_kubeconfig, None)
            if use_kind
            else Kube.from_kubeconfig(
                os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config")).split(
                    os.pathsep
                )[0],
                args.kube_context,
            )
        )
        removed = remove_leftovers(kube)
        if ClusterDns(kube).restore(DEFAULT_TIMEOUTS.dns):
            removed.append("CoreDNS's replaced Corefile (the cluster's own is back)")
    except (ConfigException, OSError, ApiException, MaxRetryError) as error:
        print(f"netconform: no cluster cleaned ({type(error).__name__}: {error})".splitlines()[0])
        removed = []
    removed += external_targets.remove_leftovers()
    print("\n".join(f"removed {item}" for item in removed) or "netconform: nothing left to clean")
    return 0


CI_SCRIPTS = Path(__file__).with_name("ci")


def _ci_script(name: str, args: list[str], env: dict[str, str]) -> int:
    """The scripts a CI job runs, shipped with the package: a user's repository has them too."""
    done = subprocess.run(
        ["bash", str(CI_SCRIPTS / name), *args], env={**os.environ, **env}, check=False
    )
    return done.returncode


def _tools(args: argparse.Namespace) -> int:
    return _ci_script(
        "install-tools.sh", [args.dir] if args.dir else [], {"NETCONFORM_PYTHON": sys.executable}
    )


def _baseline_diff(args: argparse.Namespace) -> int:
    beside = Path(sys.executable).with_name("netconform")
    command = str(beside) if beside.exists() else "netconform"
    return _ci_script("baseline-diff.sh", [args.baseline, args.reports], {"NETCONFORM": command})


def _cilium_version(args: argparse.Namespace) -> int:
    """What a run of the spec installs: the version its HelmRelease pins, else netconform's
    (a workflow compares a pull request's with its base branch's)."""
    arch = _spec(args)
    try:
        user = sources.load(arch) if arch.sources.used else None
    except sources.SourceError as error:
        print(f"netconform: {error}", file=sys.stderr)
        return 2
    installed = user.cilium.version if user and user.cilium else None
    print(installed or version(load_versions(), "cilium"))
    return 0


def _test(args: argparse.Namespace) -> int:
    from netconform import suite_run  # pytest is imported only to run the suites

    return suite_run.run(args.spec, args.images, args.marker, args.test, args.extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netconform", description=__doc__)
    parser.add_argument(
        "--spec", default=SPEC_FILE, help="architecture file (default: %(default)s)"
    )
    # Also accepted after the command; SUPPRESS keeps the one given before it otherwise.
    spec_after = argparse.ArgumentParser(add_help=False)
    spec_after.add_argument("--spec", default=argparse.SUPPRESS, help="architecture file")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "preflight", parents=[spec_after], help="check the tools a kind run needs"
    ).set_defaults(run=_preflight)
    validate = commands.add_parser(
        "validate", parents=[spec_after], help="check the architecture file"
    )
    validate.add_argument("file", nargs="?", help="architecture file (default: --spec)")
    validate.set_defaults(run=_validate)
    commands.add_parser(
        "render", parents=[spec_after], help="print the Cilium manifests rendered from the spec"
    ).set_defaults(run=_render)
    analyze = commands.add_parser(
        "analyze",
        parents=[spec_after],
        help="predict the policies' matrix without a cluster and hold it against the spec",
    )
    analyze.add_argument(
        "paths", nargs="*", help="policy files (default: policy.paths, else the reference ones)"
    )
    analyze.set_defaults(run=_analyze)
    results_cmd = commands.add_parser(
        "results", help="validate results.json files (or run folders) and summarise them"
    )
    results_cmd.add_argument("files", nargs="+", metavar="RESULTS")
    results_cmd.set_defaults(run=_results)
    diff = commands.add_parser(
        "diff", help="what changed between two runs' results (exit 1 on a regression)"
    )
    diff.add_argument("baseline", help="results.json or its run folder")
    diff.add_argument("candidate", help="results.json or its run folder")
    diff.set_defaults(run=_diff)
    manifests = commands.add_parser(
        "manifests", parents=[spec_after], help="write the reference manifests as files"
    )
    manifests.add_argument("--out", default="manifests", help="directory (default: %(default)s)")
    manifests.set_defaults(run=_manifests)
    cluster_cmd = commands.add_parser(
        "cluster", parents=[spec_after], help="the kind cluster with Cilium"
    )
    cluster_cmd.add_argument("action", choices=["up", "down", "status"])
    cluster_cmd.add_argument(
        "--dry-run", action="store_true", help="print the commands, files and values; run nothing"
    )
    cluster_cmd.add_argument(
        "--images",
        choices=["registry", "local"],
        default="registry",
        help="local: the node image and tools `make local-images` built (no registry access)",
    )
    cluster_cmd.set_defaults(run=_cluster)
    upgrade_cmd = commands.add_parser(
        "upgrade-check",
        parents=[spec_after],
        help="upgrade Cilium in place under steady probes and report the disruption",
    )
    upgrade_cmd.add_argument(
        "--to", required=True, type=_version, metavar="VERSION", help="e.g. v1.20.2"
    )
    upgrade_cmd.add_argument(
        "--images",
        choices=["registry", "local"],
        default="registry",
        help="local: build the candidate's images here and use the pinned chart",
    )
    upgrade_cmd.add_argument(
        "--max-gap",
        type=_positive,
        default=None,
        metavar="SECONDS",
        help="fail if an allowed probe goes unanswered longer (default: figures only)",
    )
    upgrade_cmd.add_argument(
        "--probe-timeout", type=_positive, default=1.0, metavar="SECONDS", help="per probe"
    )
    upgrade_cmd.add_argument("--reports", default="reports", help="folder for the report")
    upgrade_cmd.add_argument("--dry-run", action="store_true", help="print the upgrade's commands")
    upgrade_cmd.set_defaults(run=_upgrade_check)
    test = commands.add_parser(
        "test",
        parents=[spec_after],
        help="run the suites against the spec (kind + Cilium, or --cluster=existing); "
        "options it does not know go to pytest",
    )
    test.add_argument(
        "--images", choices=["registry", "local"], default=None, help="default: registry"
    )
    test.add_argument("-m", dest="marker", metavar="EXPR", help="suites by marker, e.g. policies")
    test.add_argument(
        "--test", action="append", default=[], metavar="REGEX", help="tests by name (! leaves out)"
    )
    test.set_defaults(run=_test)
    commands.add_parser(
        "cilium-version", parents=[spec_after], help="the Cilium version a run of the spec installs"
    ).set_defaults(run=_cilium_version)
    tools = commands.add_parser(
        "tools", help="install the pinned kind, kubectl and helm (sha256 verified)"
    )
    tools.add_argument("dir", nargs="?", help="where (default: .bin/ of this directory)")
    tools.set_defaults(run=_tools)
    baseline = commands.add_parser(
        "baseline-diff",
        help="a CI job's summary and what changed since the baseline run (exit 1 if worse)",
    )
    baseline.add_argument("baseline", help="a folder holding the baseline's results.json")
    baseline.add_argument("reports", help="a folder holding this run's results.json")
    baseline.set_defaults(run=_baseline_diff)
    clean = commands.add_parser(
        "clean", parents=[spec_after], help="remove what interrupted runs left behind"
    )
    clean.add_argument("--kube-context", default=None, help="an existing cluster's context")
    clean.set_defaults(run=_clean)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return int(args.run(args))
    except SpecError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
