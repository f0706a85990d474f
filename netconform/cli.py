"""The `netconform` command."""

from __future__ import annotations

import argparse
import sys

from netconform import preflight
from netconform.spec import SpecError, load


def _preflight(args: argparse.Namespace) -> int:
    absent = preflight.missing(preflight.KIND_TOOLS)
    if absent:
        print(preflight.report(absent), file=sys.stderr)
        return 2
    print(
        "netconform: docker, kind, helm and kubectl are present, but kind provisioning is not "
        "part of this version yet: the suites need a cluster (see README, 'Status').",
        file=sys.stderr,
    )
    return 3


def _validate(args: argparse.Namespace) -> int:
    try:
        arch = load(args.spec)
    except SpecError as error:
        print(error, file=sys.stderr)
        return 2
    groups = sum(len(g.environments) for g in arch.groups.values())
    print(f"{args.spec}: ok ({groups} workloads, {len(arch.policy.flows)} flows)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netconform", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("preflight", help="check the tools a kind run needs").set_defaults(
        run=_preflight
    )
    validate = commands.add_parser("validate", help="check an architecture file")
    validate.add_argument("spec", nargs="?", default="architecture.yaml")
    validate.set_defaults(run=_validate)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
