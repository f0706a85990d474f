"""The expected matrix derived from the default architecture."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from netconform.matrix import (
    ALLOWED,
    CROSS_NODE,
    DENIED,
    SAME_NODE,
    Cell,
    Endpoint,
    by_placement,
    expected_matrix,
    restrict,
)
from netconform.spec import PortSpec, load, parse

ROOT = Path(__file__).resolve().parents[2]
ARCH = load(ROOT / "architecture.yaml")
EXPECTED = expected_matrix(ARCH)


def endpoint(name: str) -> Endpoint:
    return next(e for c in EXPECTED.cells for e in (c.source, c.destination) if e.name == name)


def verdict(source: str, destination: str, port: str) -> str:
    number, protocol = port.split("/")
    cell = Cell(endpoint(source), endpoint(destination), PortSpec(int(number), protocol))
    return EXPECTED.cells[cell].name


@pytest.mark.parametrize(
    ("source", "destination", "port", "want"),
    [
        ("prod/frontend", "prod/backend", "8080/TCP", "allowed"),
        ("prod/frontend", "prod/db", "5432/TCP", "denied"),
        ("prod/backend", "prod/db", "5432/TCP", "allowed"),
        ("prod/db", "prod/backend", "8080/TCP", "denied"),
        ("staging/frontend", "prod/backend", "8080/TCP", "denied"),
        ("staging/backend", "staging/db", "5432/TCP", "allowed"),
        ("prod/db", "kube-dns", "53/UDP", "allowed"),
        ("ops/monitoring", "kube-dns", "53/TCP", "allowed"),
        ("ops/monitoring", "staging/db", "9090/TCP", "allowed"),
        ("ops/monitoring", "staging/db", "5432/TCP", "denied"),
        ("prod/frontend", "ops/monitoring", "9090/TCP", "denied"),
        ("prod/backend", "partner-api", "443/TCP", "allowed"),
        ("staging/backend", "partner-api", "443/TCP", "denied"),
        ("prod/backend", "internet", "443/TCP", "denied"),
        ("ingress", "prod/frontend", "8080/TCP", "allowed"),
        ("ingress", "staging/frontend", "8080/TCP", "denied"),
        ("ingress", "prod/db", "5432/TCP", "allowed"),
        ("ingress", "prod/backend", "8080/TCP", "denied"),
    ],
)
def test_cells_follow_the_declared_flows(source: str, destination: str, port: str, want: str):
    assert verdict(source, destination, port) == want


def test_shape_of_the_default_matrix() -> None:
    # 7 workloads x 6 others x 3 ports + 7 x kube-dns x 2 + 7 x 2 externals x 1
    # + the Gateway's Envoy (ingress) and the desktop client, each x 7 workloads x 3 ports
    assert len(EXPECTED.cells) == 126 + 14 + 14 + 21 + 21
    assert EXPECTED.count(ALLOWED) == 25 + 2 + 1
    assert EXPECTED.count(DENIED) == 129 + 19 + 20
    assert not any(c.source == c.destination for c in EXPECTED.cells)


def test_default_allow_turns_undeclared_cells_allowed() -> None:
    permissive = ARCH.model_copy(
        update={"policy": ARCH.policy.model_copy(update={"default": "allow"})}
    )
    assert set(expected_matrix(permissive).cells.values()) == {ALLOWED}


def test_restrict_keeps_only_the_named_cells() -> None:
    egress = [c for c in EXPECTED.cells if c.destination.kind == "external"]
    sub = restrict(EXPECTED, egress)
    assert set(sub.cells) == set(egress) and len(sub.cells) == 14


def test_cells_between_workloads_are_split_by_the_placements_their_pods_offer() -> None:
    fe, be = endpoint("prod/frontend"), endpoint("prod/backend")
    dns = endpoint("kube-dns")
    port = PortSpec(8080, "TCP")
    narrow = restrict(EXPECTED, [Cell(fe, be, port), Cell(fe, dns, PortSpec(53, "UDP"))])
    split = by_placement(narrow, [(fe, be, SAME_NODE), (fe, be, CROSS_NODE)])
    assert sorted(str(c) for c in split.cells) == [
        "prod/frontend -> kube-dns 53/UDP",
        "prod/frontend -> prod/backend 8080/TCP [cross-node]",
        "prod/frontend -> prod/backend 8080/TCP [same-node]",
    ]
    assert {split.cells[c] for c in split.cells if c.destination == be} == {ALLOWED}


def test_a_client_and_other_nodes_are_sources_only_where_a_flow_names_them() -> None:
    outside = {c.source.name for c in EXPECTED.cells if c.source.kind != "workload"}
    assert outside == {"ingress", "desktop"}
    data = yaml.safe_load((ROOT / "architecture.yaml").read_text())
    data["clients"]["laptop"] = {"cidr": "198.18.10.100/32"}
    data["policy"]["flows"] += [
        {"name": "laptop-web", "from": "laptop", "to": "frontend", "ports": ["8080/TCP"]},
        {"name": "nodes-scrape", "from": "remote-node", "to": "*", "ports": ["9090/TCP"],
         "environments": ["ops"]},
    ]  # fmt: skip
    matrix = expected_matrix(parse(yaml.safe_dump(data)))
    allowed = {
        str(c) for c, e in matrix.cells.items() if e == ALLOWED and c.source.kind != "workload"
    }
    assert allowed == {
        "ingress -> prod/frontend 8080/TCP",
        "ingress -> prod/db 5432/TCP",
        "desktop -> prod/frontend 8080/TCP",
        "laptop -> prod/frontend 8080/TCP",
        "laptop -> staging/frontend 8080/TCP",
        "remote-node -> ops/monitoring 9090/TCP",
    }
    assert not any(
        c.destination.kind != "workload" for c in matrix.cells if c.source.kind == "client"
    )
