"""A policy file is read as the API server would take it: what it would refuse is named (file,
object, field) instead of being skipped, and the analyzer's answer never rests on less than
the user wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from netconform.checks.policy_input import problems
from netconform.cli import main

CNP = {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": {"name": "web"}}


def test_a_misspelled_kind_an_unknown_field_and_a_bad_cidr_are_named() -> None:
    found = problems(
        [
            {**CNP, "kind": "CilliumNetworkPolicy"},
            {**CNP, "spec": {"endpointSelecter": {}, "egress": [{"toCIDRs": ["198.18.0.0/15"]}]}},
            {**CNP, "spec": {"endpointSelector": {}, "ingress": [{"fromCIDRSet": [
                {"cidr": "198.18.0.0/15", "except": ["198.18.300.0/24"]}]}]}},
            {"kind": "NetworkPolicy", "metadata": {"name": "np"}, "spec": {"podSelector": {},
             "ingress": [{"from": [{"ipblock": {"cidr": "10.0.0.0/8"}}], "port": [{}]}]}},
            ["a", "list"],
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
        ],
        "policies.yaml",
    )  # fmt: skip
    assert found == [
        "policies.yaml: CilliumNetworkPolicy web: unknown kind 'CilliumNetworkPolicy': did you "
        "mean CiliumNetworkPolicy?",
        "policies.yaml: CiliumNetworkPolicy web: spec: unknown field 'endpointSelecter': did you "
        "mean endpointSelector?",
        "policies.yaml: CiliumNetworkPolicy web: spec.egress[0]: unknown field 'toCIDRs': did you "
        "mean toCIDR?",
        "policies.yaml: CiliumNetworkPolicy web: spec.ingress[0].fromCIDRSet: '198.18.300.0/24' "
        "is not a CIDR ('198.18.300.0/24' does not appear to be an IPv4 or IPv6 network)",
        "policies.yaml: NetworkPolicy np: spec.ingress[0]: unknown field 'port': did you mean "
        "ports?",
        "policies.yaml: NetworkPolicy np: spec.ingress[0].from[0]: unknown field 'ipblock': did "
        "you mean ipBlock?",
        "policies.yaml: document 5 is a list, not an object",
    ]


def test_a_cidr_with_host_bits_is_taken_as_the_api_server_takes_it() -> None:
    rule = {"toCIDR": ["198.18.0.1/15"]}
    assert problems([{**CNP, "spec": {"endpointSelector": {}, "egress": [rule]}}], "p") == []


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("a:\n\t- b\n", "line 2: not valid YAML"),
        ("kind: CilliumNetworkPolicy\nmetadata: {name: x}\n", "did you mean CiliumNetworkPolicy"),
        ("- a\n", "document 1 is a list, not an object"),
    ],
)
def test_analyze_refuses_a_file_it_cannot_read_fully_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str
) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(text)
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"netconform analyze: {path}") and said in err


def test_an_ipblock_over_the_pods_is_named_for_what_cilium_does_with_it(tmp_path: Path) -> None:
    from netconform.analyze import rule_findings
    from netconform.spec import load
    from netconform.workloads import RunNamespaces

    arch = load(Path(__file__).resolve().parents[2] / "architecture.yaml")
    rule = {"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}, {"ipBlock": {"cidr": "198.18.0.0/15"}}]}
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "from-lan", "namespace": "prod"},
              "spec": {"podSelector": {}, "ingress": [rule]}}  # fmt: skip
    cilium = {**CNP, "metadata": {"name": "world", "namespace": "prod"},
              "spec": {"endpointSelector": {}, "egress": [{"toCIDR": ["0.0.0.0/0"]}]}}  # fmt: skip
    found = rule_findings(arch, [policy, cilium], RunNamespaces.declared_by(arch, "r"))
    assert [f for f in found if "pod CIDR" in f] == [
        "NetworkPolicy prod/from-lan ingress[0]: ipBlock 10.0.0.0/8 covers the pod CIDR "
        "10.244.0.0/16: Cilium ignores it for pods, Kubernetes would not (select them by label "
        "instead)"
    ]
