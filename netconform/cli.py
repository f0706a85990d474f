"""The `netconform` command: check tools, validate a spec, render manifests, bring a cluster up."""

from __future__ import annotations

import argparse
import sys

import yaml

from netconform import cluster, preflight
from netconform.manifests import render_all
from netconform.spec import Architecture, SpecError, load


def _spec(args: argparse.Namespace) -> Architecture:
    return load(args.spec)


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
    print(f"{args.spec}: ok ({count} workloads, {len(arch.policy.flows)} flows)")
    return 0


def _render(args: argparse.Namespace) -> int:
    print(yaml.safe_dump_all(render_all(_spec(args)), sort_keys=False), end="")
    return 0


def _cluster(args: argparse.Namespace) -> int:
    arch = _spec(args)
    versions = cluster.load_versions()
    workdir = cluster.workdir_for(arch)
    if args.action == "status":
        present = arch.cluster.name in cluster.kind_clusters()
        state = "running" if present else "absent"
        print(f"kind cluster {arch.cluster.name}: {state} (state in {workdir})")
        return 0 if present else 1
    plan = (
        cluster.up_plan(arch, versions, workdir)
        if args.action == "up"
        else cluster.down_plan(arch, versions, workdir)
    )
    if args.dry_run:
        print(cluster.render_plan(plan))
        return 0
    found = preflight.problems()
    if found:
        print(preflight.report(found), file=sys.stderr)
        return 2
    try:
        cluster.run_plan(plan, progress=lambda line: print(line, flush=True))
    except cluster.StepFailed as error:
        print(f"netconform: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netconform", description=__doc__)
    parser.add_argument(
        "--spec", default="architecture.yaml", help="architecture file (default: %(default)s)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("preflight", help="check the tools a kind run needs").set_defaults(
        run=_preflight
    )
    commands.add_parser("validate", help="check the architecture file").set_defaults(run=_validate)
    commands.add_parser(
        "render", help="print the Cilium manifests rendered from the spec"
    ).set_defaults(run=_render)
    cluster_cmd = commands.add_parser("cluster", help="the kind cluster with Cilium")
    cluster_cmd.add_argument("action", choices=["up", "down", "status"])
    cluster_cmd.add_argument(
        "--dry-run", action="store_true", help="print the commands, files and values; run nothing"
    )
    cluster_cmd.set_defaults(run=_cluster)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except SpecError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
