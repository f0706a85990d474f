"""Everything the suite renders is valid against the upstream schemas, offline and in seconds.

For the default architecture and the ones beside this file: every rendered manifest
against its CRD (Cilium) or the Kubernetes API (core kinds), and the merged Helm values
against the Cilium chart's schema. Then the proof that it bites: a misspelt field or a
wrong type fails, naming the path.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from netconform import policies
from netconform.cluster import CLUSTER_DIR, helm_values
from netconform.features import overlays
from netconform.manifest import Manifest, describe
from netconform.manifests import render_all
from netconform.spec import load
from netconform.workloads import RunNamespaces
from tests.schema.validation import HELM_VALUES, MANIFESTS, ROOT, Schemas, structural

pytestmark = pytest.mark.schema

SPECS = [
    ROOT / "architecture.yaml",
    *sorted(Path(__file__).with_name("architectures").glob("*.yaml")),
]
DEFAULT = render_all(load(ROOT / "architecture.yaml"))


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_every_rendered_manifest_matches_its_upstream_schema(
    schemas: Schemas, spec: Path, record_property: Callable[[str, object], None]
) -> None:
    manifests = render_all(load(spec))
    problems = [f"{describe(m)}: {problem}" for m in manifests for problem in schemas.problems(m)]
    assert not problems, f"{spec.name}:\n" + "\n".join(problems)
    record_property(MANIFESTS, len(manifests))


def test_the_l7_policies_match_the_policy_schema(schemas: Schemas) -> None:
    """The HTTP rules the L7 suite applies (never part of the reference set)."""
    arch = load(ROOT / "architecture.yaml")
    rendered = policies.render(arch, RunNamespaces("schema"), l7=True)
    with_rules = [
        m
        for m in rendered
        for rule in m["spec"].get("ingress") or []
        for port in rule.get("toPorts") or []
        if "rules" in port
    ]
    assert with_rules, "the default architecture declares HTTP rules on a flow"
    problems = [f"{describe(m)}: {problem}" for m in rendered for problem in schemas.problems(m)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("local", [False, True], ids=["registry", "local-images"])
@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_helm_values_match_the_chart_schema(
    schemas: Schemas, spec: Path, local: bool, record_property: Callable[[str, object], None]
) -> None:
    arch = load(spec)
    problems = schemas.helm_problems(helm_values(arch, local).values)
    used = overlays(arch, local)
    assert not problems, f"{spec.name} (overlays {used}):\n" + "\n".join(problems)
    record_property(HELM_VALUES, 1)


def test_the_architectures_select_every_overlay() -> None:
    """An overlay no architecture selects would never have its values validated."""
    selected = {
        name for spec in SPECS for local in (False, True) for name in overlays(load(spec), local)
    }
    files = {path.stem for path in (CLUSTER_DIR / "values").glob("*.yaml")} - {"base"}
    assert selected == files


def _broken(kind: str, edit: Callable[[Manifest], Any]) -> Manifest:
    manifest = copy.deepcopy(next(m for m in DEFAULT if m["kind"] == kind))
    edit(manifest)
    return manifest


def _rename(mapping: dict[str, Any], old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


def _container(deployment: Manifest) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


BROKEN_MANIFESTS = {
    "cnp-misspelt-selector": (
        _broken(
            "CiliumNetworkPolicy",
            lambda m: _rename(m["spec"], "endpointSelector", "endpointSelectr"),
        ),
        "spec",
        "'endpointSelectr' was unexpected",
    ),
    "cnp-port-not-a-string": (
        _broken(
            "CiliumNetworkPolicy",
            lambda m: m["spec"]["ingress"][0]["toPorts"][0]["ports"][0].update(port=8080),
        ),
        "spec.ingress[0].toPorts[0].ports[0].port",
        "is not of type 'string'",
    ),
    "ccnp-with-namespace": (
        _broken("CiliumClusterwideNetworkPolicy", lambda m: m["metadata"].update(namespace="x")),
        "metadata.namespace",
        "cluster-scoped",
    ),
    "pool-misspelt-blocks": (
        _broken("CiliumLoadBalancerIPPool", lambda m: _rename(m["spec"], "blocks", "blokcs")),
        "spec",
        "'blokcs' was unexpected",
    ),
    "pool-cidr-without-prefix": (
        _broken(
            "CiliumLoadBalancerIPPool", lambda m: m["spec"]["blocks"][0].update(cidr="198.18.0.1")
        ),
        "spec.blocks[0].cidr",
        "is not a 'cidr'",
    ),
    "bgp-peer-misspelt-asn": (
        _broken(
            "CiliumBGPClusterConfig",
            lambda m: _rename(m["spec"]["bgpInstances"][0]["peers"][0], "peerASN", "peerASNN"),
        ),
        "spec.bgpInstances[0].peers[0]",
        "'peerASNN' was unexpected",
    ),
    "bgp-afi": (
        _broken("CiliumBGPPeerConfig", lambda m: m["spec"]["families"][0].update(afi="ipv5")),
        "spec.families[0].afi",
        "'ipv5' is not one of",
    ),
    "deployment-misspelt-replicas": (
        _broken("Deployment", lambda m: _rename(m["spec"], "replicas", "replicaz")),
        "spec",
        "'replicaz' was unexpected",
    ),
    "container-misspelt-probe": (
        _broken("Deployment", lambda m: _rename(_container(m), "readinessProbe", "readinesProbe")),
        "spec.template.spec.containers[0]",
        "'readinesProbe' was unexpected",
    ),
    "service-port-name-as-port": (
        _broken("Service", lambda m: m["spec"]["ports"][0].update(port="http")),
        "spec.ports[0].port",
        "is not of type 'integer'",
    ),
    "namespace-misspelt-labels": (
        _broken("Namespace", lambda m: _rename(m["metadata"], "labels", "lables")),
        "metadata",
        "'lables' was unexpected",
    ),
}


@pytest.mark.parametrize(
    ("manifest", "path", "words"), BROKEN_MANIFESTS.values(), ids=BROKEN_MANIFESTS
)
def test_a_broken_manifest_fails_naming_the_path(
    schemas: Schemas, manifest: Manifest, path: str, words: str
) -> None:
    problems = schemas.problems(manifest)
    assert any(p.startswith(f"{path}: ") and words in p for p in problems), problems


BROKEN_HELM_VALUES = {
    "wrong-type": ({"kubeProxyReplacement": 5}, "kubeProxyReplacement", "is not of type"),
    "misspelt-top-level-key": (
        {"l2anouncements": {"enabled": True}},
        "(top level)",
        "'l2anouncements' was unexpected",
    ),
    "misspelt-nested-key": (
        {"bgpControlPlane": {"enabeld": True}},
        "bgpControlPlane",
        "'enabeld' was unexpected",
    ),
    "string-for-boolean": (
        {"hubble": {"relay": {"enabled": "yes"}}},
        "hubble.relay.enabled",
        "is not of type 'boolean'",
    ),
}


@pytest.mark.parametrize(
    ("edit", "path", "words"), BROKEN_HELM_VALUES.values(), ids=BROKEN_HELM_VALUES
)
def test_broken_helm_values_fail_naming_the_path(
    schemas: Schemas, edit: dict[str, Any], path: str, words: str
) -> None:
    values = {**helm_values(load(ROOT / "architecture.yaml")).values, **edit}
    problems = schemas.helm_problems(values)
    assert any(p.startswith(f"{path}: ") and words in p for p in problems), problems


def test_structural_closes_the_skeleton_and_takes_int_or_string() -> None:
    validator = Draft202012Validator(
        structural(
            {
                "type": "object",
                "properties": {
                    "port": {"x-kubernetes-int-or-string": True},
                    "config": {
                        "type": "object",
                        "properties": {"known": {}},
                        "x-kubernetes-preserve-unknown-fields": True,
                    },
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                },
                # A value check naming a subset of the fields: closing it would reject `config`.
                "anyOf": [{"properties": {"port": {}}, "required": ["port"]}],
            }
        )
    )
    assert validator.is_valid({"port": 80, "config": {"other": 1}, "labels": {"a": "b"}})
    assert validator.is_valid({"port": "http"})
    for invalid in ({"port": 1.5}, {"port": True}, {"prot": 80}, {"port": 80, "labels": {"a": 1}}):
        assert not validator.is_valid(invalid), invalid


@pytest.mark.parametrize(("ci", "returncode", "shown"), [("", 0, "SKIPPED"), ("true", 4, "ERROR:")])
def test_missing_schemas_skip_locally_and_stop_ci(
    tmp_path: Path, ci: str, returncode: int, shown: str
) -> None:
    absent = tmp_path / "absent"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs"),
            f"{__file__}::test_helm_values_match_the_chart_schema",
        ],
        cwd=ROOT,
        env={**os.environ, "NETCONFORM_CRDS": str(absent), "CI": ci},
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == returncode, output
    assert f"{shown} " in output, output
    assert f"upstream schemas not found at {absent}: set NETCONFORM_CRDS" in output, output
