"""Rendered workloads and policies: what the suites deploy, derived from the spec."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from netconform import policies, workloads
from netconform.manifests import bgp, l2_announcements
from netconform.spec import load, parse
from netconform.verdict import Verdict

ROOT = Path(__file__).resolve().parents[2]
ARCH = load(ROOT / "architecture.yaml")
LAYOUT = workloads.RunNamespaces("ab12")


def by_kind(manifests: list[dict], kind: str) -> list[dict]:
    return [m for m in manifests if m["kind"] == kind]


def test_every_workload_serves_every_probed_port_in_its_run_namespace() -> None:
    rendered = workloads.render(ARCH, LAYOUT, "python:3.13-slim")
    deployments = by_kind(rendered, "Deployment")
    assert {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in deployments} >= {
        ("netconform-ab12-prod", "frontend"),
        ("netconform-ab12-ops", "monitoring"),
    }
    pod = deployments[0]["spec"]["template"]
    assert pod["metadata"]["labels"]["netconform.io/run"] == "ab12"
    # 8080 answers HTTP: an L7 rule's proxy and the Gateway's HTTP routes send requests there.
    assert pod["spec"]["containers"][0]["args"] == ["serve", "--tcp", "5432,9090", "--http", "8080"]
    assert all(
        n["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "netconform" for n in rendered
    )


def test_a_spec_with_only_udp_flows_renders_without_a_tcp_readiness_probe() -> None:
    data = yaml.safe_load((ROOT / "architecture.yaml").read_text())
    data["policy"]["flows"] = [
        {"name": "syslog", "from": "frontend", "to": "backend", "ports": ["514/UDP"]}
    ]
    data["mutual_auth"]["required_for"] = []
    data["gateway"] = {}
    data["groups"]["db"].pop("port_names", None)  # no flow reaches db's 5432/TCP any more
    data["groups"]["monitoring"].pop("service", None)  # nor monitoring's 9090/TCP
    container = by_kind(
        workloads.render(parse(yaml.safe_dump(data)), LAYOUT, "python:3"), "Deployment"
    )[0]
    agent = container["spec"]["template"]["spec"]["containers"][0]
    assert agent["args"] == ["serve", "--udp", "514"] and "readinessProbe" not in agent


def test_a_pod_serving_a_port_below_1024_may_bind_it_unprivileged() -> None:
    """An app on 80 made the non-root probe exit at once (EACCES) and never become Ready."""
    data = yaml.safe_load((ROOT / "architecture.yaml").read_text())
    data["policy"]["flows"].append(
        {"name": "web", "from": "frontend", "to": "backend", "ports": ["80/TCP"]}
    )
    rendered = by_kind(
        workloads.render(parse(yaml.safe_dump(data)), LAYOUT, "python:3"), "Deployment"
    )
    for deployment in rendered:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["containers"][0]["securityContext"]["runAsNonRoot"] is True
        sysctls = pod.get("securityContext", {}).get("sysctls", [])
        serves_80 = "80" in ",".join(pod["containers"][0]["args"]).split(",")
        assert (sysctls == [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]) == (
            serves_80
        ), deployment["metadata"]["name"]
    assert any("securityContext" in d["spec"]["template"]["spec"] for d in rendered)
    assert not any(
        "securityContext" in d["spec"]["template"]["spec"]
        for d in by_kind(workloads.render(ARCH, LAYOUT, "python:3"), "Deployment")
    )


def test_each_groups_service_is_rendered_as_declared() -> None:
    """By default a ClusterIP on every served port; a declared one keeps its type, ports,
    fixed node ports, traffic policy and the labels a pool selects it by, beside the run's."""
    data = yaml.safe_load((ROOT / "architecture.yaml").read_text())
    data["groups"]["monitoring"]["service"] = {
        "type": "LoadBalancer",
        "ports": ["9090/TCP"],
        "node_ports": {"9090/TCP": 30090},
        "external_traffic_policy": "Local",
        "labels": {"pool": "default"},
    }
    services = {
        (s["metadata"]["namespace"], s["metadata"]["name"]): s
        for s in by_kind(workloads.render(parse(yaml.safe_dump(data)), LAYOUT, "x"), "Service")
    }
    monitoring = services[("netconform-ab12-ops", "monitoring")]
    assert monitoring["spec"]["type"] == "LoadBalancer"
    assert monitoring["spec"]["externalTrafficPolicy"] == "Local"
    assert monitoring["spec"]["ports"] == [
        {"name": "tcp-9090", "port": 9090, "protocol": "TCP", "nodePort": 30090}
    ]
    assert monitoring["metadata"]["labels"]["pool"] == "default"
    assert monitoring["metadata"]["labels"]["netconform.io/run"] == "ab12"
    backend = services[("netconform-ab12-prod", "backend")]["spec"]
    assert backend["type"] == "ClusterIP" and "externalTrafficPolicy" not in backend
    assert [p["port"] for p in backend["ports"]] == [5432, 8080, 9090]


def test_default_deny_is_clusterwide_only_where_allowed() -> None:
    clusterwide = policies.render(ARCH, LAYOUT, clusterwide=True)
    namespaced = policies.render(ARCH, LAYOUT, clusterwide=False)
    deny = by_kind(clusterwide, "CiliumClusterwideNetworkPolicy")
    assert [d["spec"]["endpointSelector"] for d in deny] == [
        {"matchLabels": {"netconform.io/run": "ab12"}}
    ]
    assert by_kind(namespaced, "CiliumClusterwideNetworkPolicy") == []
    assert sorted(
        p["metadata"]["namespace"] for p in namespaced if p["metadata"]["name"] == "default-deny"
    ) == [
        "netconform-ab12-ops",
        "netconform-ab12-prod",
        "netconform-ab12-staging",
    ]


def test_egress_to_a_probed_address_becomes_a_host_cidr_only_for_the_allowed_group() -> None:
    rendered = policies.render(ARCH, LAYOUT, {"partner-api": "198.18.77.5"})
    cidrs = {
        (p["metadata"]["namespace"], p["metadata"]["name"]): [
            c for rule in p["spec"].get("egress", []) for c in rule.get("toCIDR", [])
        ]
        for p in by_kind(rendered, "CiliumNetworkPolicy")
    }
    assert cidrs[("netconform-ab12-prod", "allow-backend")] == ["198.18.77.5/32"]
    assert cidrs[("netconform-ab12-staging", "allow-backend")] == []


def test_cross_environment_peers_are_selected_by_namespace_label() -> None:
    rendered = policies.render(ARCH, LAYOUT)
    db = next(
        p
        for p in rendered
        if p["metadata"]
        == {**p["metadata"], "name": "allow-db", "namespace": "netconform-ab12-prod"}
    )
    rules = db["spec"]["ingress"]
    sources = [s["matchLabels"] for rule in rules for s in rule.get("fromEndpoints", [])]
    assert {
        "fromEntities": ["ingress"],
        "toPorts": [{"ports": [{"port": "5432", "protocol": "TCP"}]}],
    } in rules
    env_label = "k8s:io.cilium.k8s.namespace.labels.netconform.io/environment"
    assert {"app": "backend", env_label: "prod"} in sources
    assert {"app": "monitoring", env_label: "ops"} in sources
    assert not any(s.get(env_label) == "staging" for s in sources)


def test_l2_announcements_only_when_asked() -> None:
    assert l2_announcements(ARCH) == []
    l2 = ARCH.model_copy(update={"lb_ipam": ARCH.lb_ipam.model_copy(update={"announce": "l2"})})
    assert [m["apiVersion"] for m in l2_announcements(l2)] == ["cilium.io/v2alpha1"]


def test_bgp_peers_with_the_address_really_peered_with_else_the_spec_one() -> None:
    arch = load(ROOT / "architecture.yaml")
    cluster_config = bgp(arch, {"frr": "198.18.192.5"})[0]
    [peer] = cluster_config["spec"]["bgpInstances"][0]["peers"]
    assert peer["peerAddress"] == "198.18.192.5" and peer["peerASN"] == 64513
    [spec_peer] = bgp(arch)[0]["spec"]["bgpInstances"][0]["peers"]
    assert spec_peer["peerAddress"] == "198.18.0.1"


def test_a_verdict_of_several_holds_only_when_each_does() -> None:
    good, bad = Verdict(True, "sessions up", "FRR"), Verdict(False, "route missing", "RIB")
    combined = Verdict.all([good, bad])
    assert not combined.ok and combined.summary == "route missing"
    assert combined.evidence == "FRR\n\nRIB"
    assert Verdict.all([good, good]).ok


def test_an_http_rules_path_matches_as_written_not_as_a_regex() -> None:
    data = yaml.safe_load((ROOT / "architecture.yaml").read_text())
    data["policy"]["flows"][0]["http"] = [{"method": "GET", "path": "/v1.0/status"}]
    rendered = policies.render(parse(yaml.safe_dump(data)), LAYOUT, l7=True)
    rules = [
        r
        for p in rendered
        for rule in p["spec"].get("ingress", [])
        for port in rule.get("toPorts", [])
        for r in (port.get("rules") or {}).get("http", [])
    ]
    assert rules and all(r["path"] == r"/v1\.0/status.*" for r in rules)
    assert re.fullmatch(rules[0]["path"], "/v1.0/status/x")
    assert not re.fullmatch(rules[0]["path"], "/v1x0/status")
