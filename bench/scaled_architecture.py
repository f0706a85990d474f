"""A homelab of a given size, drawn from a fixed seed: what the cluster benchmark deploys to see
where a run stops scaling. App groups live in every environment; flows are drawn until about a
third of the matrix's cells between workloads are allowed, some of them across environments,
with DNS to the cluster's resolver and egress to one external, all enforced by the reference
policies netconform renders."""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from typing import Any

import yaml

from netconform.matrix import ALLOWED, expected_matrix
from netconform.spec import Architecture, parse

SIZES = (8, 16, 32, 64)
PORTS = ("8080/TCP", "5432/TCP", "9090/TCP")
ALLOWED_SHARE = 1 / 3
CROSS_ENVIRONMENT = 0.25
CLUSTER = "netconform-bench"


def environments_for(workloads: int) -> int:
    """Two environments up to 16 workloads, four above: a homelab grows in apps and in stages."""
    return 2 if workloads <= 16 else 4


@dataclass(frozen=True)
class DrawnFlow:
    source: int
    destination: int
    port: str
    across: bool

    def cells(self, environments: int) -> set[tuple[int, int, int, int, str]]:
        """(source env, source group, destination env, destination group, port) it allows."""
        return {
            (e1, self.source, e2, self.destination, self.port)
            for e1 in range(environments)
            for e2 in range(environments)
            if (e1 == e2 or self.across) and (e1, self.source) != (e2, self.destination)
        }


def draw_flows(groups: int, environments: int, rng: random.Random) -> list[DrawnFlow]:
    """Distinct flows until a third of the cells between workloads are allowed; every port is
    some flow's, so every workload serves all of them."""
    workloads = groups * environments
    total = workloads * (workloads - 1) * len(PORTS)
    allowed: set[tuple[int, int, int, int, str]] = set()
    flows: list[DrawnFlow] = []
    ports = list(PORTS)
    while len(allowed) < ALLOWED_SHARE * total or ports:
        port = ports[-1] if ports else rng.choice(PORTS)
        flow = DrawnFlow(
            rng.randrange(groups), rng.randrange(groups), port, rng.random() < CROSS_ENVIRONMENT
        )
        if (flow.source == flow.destination and not flow.across) or flow in flows:
            continue
        if ports:
            ports.pop()
        flows.append(flow)
        allowed |= flow.cells(environments)
    return flows


def scaled(workloads: int, seed: int = 1) -> dict[str, Any]:
    """The architecture of `workloads` workloads (app groups x environments) as YAML data."""
    environments = environments_for(workloads)
    if workloads % environments or workloads < 2 * environments:
        raise ValueError(f"{workloads} workloads do not spread over {environments} environments")
    groups = workloads // environments
    rng = random.Random(f"{seed}/{workloads}")
    names = [f"app{index:02d}" for index in range(groups)]
    envs = [f"env{index}" for index in range(environments)]
    flows: list[dict[str, Any]] = [
        {
            "name": f"flow{index:03d}",
            "from": names[flow.source],
            "to": names[flow.destination],
            "ports": [flow.port],
            **({"across_environments": True} if flow.across else {}),
        }
        for index, flow in enumerate(draw_flows(groups, environments, rng))
    ]
    flows.append({"name": "dns", "from": "*", "to": "kube-dns", "ports": ["53/UDP", "53/TCP"]})
    flows.append(
        {"name": "egress", "from": rng.choice(names), "to": "partner-api", "ports": ["443/TCP"]}
    )
    return {
        "version": 1,
        "cluster": {"name": CLUSTER, "control_planes": 1, "workers": 2},
        "environments": {env: {"namespace": f"bench{workloads}-{env}"} for env in envs},
        "groups": {name: {"labels": {"app": name}, "environments": envs} for name in names},
        "services": {
            "kube-dns": {
                "namespace": "kube-system",
                "labels": {"k8s-app": "kube-dns"},
                "ports": ["53/UDP", "53/TCP"],
            }
        },
        "externals": {"partner-api": {"cidr": "198.18.200.10/32", "ports": ["443/TCP"]}},
        "policy": {"default": "deny", "flows": flows},
    }


def architecture(workloads: int, seed: int = 1) -> Architecture:
    return parse(yaml.safe_dump(scaled(workloads, seed), sort_keys=False), f"bench-{workloads}")


def allowed_share(arch: Architecture) -> float:
    """The share of cells between workloads the spec allows, as netconform's matrix says."""
    cells = {
        cell: expect
        for cell, expect in expected_matrix(arch).cells.items()
        if cell.destination.kind == "workload"
    }
    return sum(1 for expect in cells.values() if expect == ALLOWED) / len(cells)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", type=int, choices=SIZES)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(yaml.safe_dump(scaled(args.workloads, args.seed), sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
