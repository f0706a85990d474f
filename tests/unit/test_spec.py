"""The spec loader: the default file loads, and bad input is refused with file, path and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from netconform.spec import SpecError, load, parse

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = (ROOT / "architecture.yaml").read_text()


def test_default_architecture_loads() -> None:
    arch = load(ROOT / "architecture.yaml")
    assert set(arch.environments) == {"prod", "staging", "ops"}
    assert {"frontend", "backend", "db"} <= set(arch.groups)
    backend_to_db = next(f for f in arch.policy.flows if f.name == "backend-to-db")
    assert [str(p) for p in backend_to_db.ports] == ["5432/TCP"]
    assert arch.bgp is not None and arch.bgp.local_asn == 64512
    assert arch.encryption.wireguard == "required"


def _edited(edit) -> str:
    data = yaml.safe_load(DEFAULT)
    edit(data)
    return yaml.safe_dump(data, sort_keys=False)


def _flows(data):
    return data["policy"]["flows"]


def _records(data):
    return data["dns"]["records"]


def _service(data, group: str, **service) -> None:
    data["groups"][group]["service"] = service


BAD = {
    "empty file": ("", "(document)", "the file is empty"),
    "comments only": ("# nothing\n", "(document)", "the file is empty"),
    "not yaml": ("cluster: [unclosed\n", "line 2", "not valid YAML"),
    "not a mapping": ("- a\n- b\n", "(top level)", "expected a mapping"),
    "duplicate yaml key": (DEFAULT + "\nversion: 1\n", "line", "duplicate key 'version'"),
    "unknown top-level key": (
        _edited(lambda d: d.update(firewall={})),
        "firewall",
        "unknown key",
    ),
    "unknown nested key": (
        _edited(lambda d: _flows(d)[0].update(prot="8080/TCP")),
        "policy.flows[0].prot",
        "unknown key",
    ),
    "missing required key": (
        _edited(lambda d: d.pop("cluster")),
        "cluster",
        "required key is missing",
    ),
    "wrong type": (
        _edited(lambda d: d["cluster"].update(workers="two")),
        "cluster.workers",
        "valid integer",
    ),
    "port out of range": (
        _edited(lambda d: _flows(d)[1].update(ports=["70000/TCP"])),
        "policy.flows[1].ports[0]",
        "outside 1-65535",
    ),
    "port without protocol": (
        _edited(lambda d: _flows(d)[1].update(ports=[5432])),
        "policy.flows[1].ports[0]",
        "not a port such as 8080/TCP",
    ),
    "unknown protocol": (
        _edited(lambda d: _flows(d)[1].update(ports=["5432/SCTP"])),
        "policy.flows[1].ports[0]",
        "not a port",
    ),
    "bad cidr": (
        _edited(lambda d: d["lb_ipam"]["pools"][0].update(cidr="198.18.250.0/33")),
        "lb_ipam.pools[0].cidr",
        "not a CIDR",
    ),
    "cidr with host bits": (
        _edited(lambda d: d["lb_ipam"]["pools"][0].update(cidr="198.18.250.1/28")),
        "lb_ipam.pools[0].cidr",
        "host bits set",
    ),
    "bad peer address": (
        _edited(lambda d: d["bgp"]["peers"][0].update(address="198.18.0.300")),
        "bgp.peers[0].address",
        "not an IP address",
    ),
    "flow from unknown group": (
        _edited(lambda d: _flows(d)[0].update({"from": "fronted"})),
        "policy.flows[0].from",
        "unknown source 'fronted' (sources: backend, db, desktop, frontend, ingress, "
        "monitoring, remote-node)",
    ),
    "flow from host": (
        _edited(lambda d: _flows(d)[0].update({"from": "host"})),
        "policy.flows[0].from",
        "a flow from host cannot be tested",
    ),
    "flow from the Gateway to a service": (
        _edited(lambda d: _flows(d)[5].update(to="kube-dns", ports=["53/UDP"])),
        "policy.flows[5].to",
        "a flow from 'ingress' goes to an app group",
    ),
    "flow from a client with HTTP rules": (
        _edited(
            lambda d: (
                d.update(clients={"laptop": {"cidr": "198.18.10.100/32"}}),
                _flows(d)[5].update({"from": "laptop", "http": [{"path": "/"}]}),
            )
        ),
        "policy.flows[5].http",
        "HTTP rules need a flow from an app group",
    ),
    "a group named like Cilium's entity": (
        _edited(lambda d: d["groups"].update({"ingress": d["groups"]["db"]})),
        "groups.ingress",
        "'ingress' is the name of Cilium's entity",
    ),
    "route the Gateway cannot reach under default deny": (
        _edited(lambda d: _flows(d).pop(5)),
        "gateway.routes[3].backend",
        "the Gateway reaches prod/db on 5432/TCP as Cilium's ingress identity, which default "
        "deny drops: declare a flow from ingress to it",
    ),
    "route hostname its listener does not serve": (
        _edited(lambda d: d["gateway"]["routes"][0].update(hostname="other.home.arpa")),
        "gateway.routes[0].hostname",
        "other.home.arpa is not a name listener 'http' serves (www.home.arpa)",
    ),
    "a Gateway pool that is not declared": (
        _edited(lambda d: d["gateway"].update(pool="gw")),
        "gateway.pool",
        "'gw' is no pool of lb_ipam.pools with a service_selector",
    ),
    "route hostname on a TCP listener": (
        _edited(lambda d: d["gateway"]["routes"][3].update(hostname="db.home.arpa")),
        "gateway.routes[3].hostname",
        "a TCP listener matches no hostname",
    ),
    "flow to unknown destination": (
        _edited(lambda d: _flows(d)[0].update(to="bakend")),
        "policy.flows[0].to",
        "unknown destination 'bakend'",
    ),
    "group in unknown environment": (
        _edited(lambda d: d["groups"]["db"]["environments"].append("qa")),
        "groups.db.environments[2]",
        "unknown environment 'qa'",
    ),
    "duplicate flow name": (
        _edited(lambda d: _flows(d).append(dict(_flows(d)[0]))),
        "policy.flows[8].name",
        "duplicate name 'frontend-to-backend'",
    ),
    "two environments, one namespace": (
        _edited(lambda d: d["environments"]["staging"].update(namespace="prod")),
        "environments.staging.namespace",
        "already used by 'prod'",
    ),
    "overlapping pools": (
        _edited(lambda d: d["lb_ipam"]["pools"][1].update(cidr="198.18.250.8/29")),
        "lb_ipam.pools[1].cidr",
        "overlaps pool 'default'",
    ),
    "asn out of range": (
        _edited(lambda d: d["bgp"].update(local_asn=4294967296)),
        "bgp.local_asn",
        "less than or equal to 4294967295",
    ),
    "asn zero": (
        _edited(lambda d: d["bgp"]["peers"][0].update(peer_asn=0)),
        "bgp.peers[0].peer_asn",
        "greater than or equal to 1",
    ),
    "mutual auth for unknown flow": (
        _edited(lambda d: d["mutual_auth"].update(required_for=["db-access"])),
        "mutual_auth.required_for[0]",
        "unknown flow 'db-access'",
    ),
    "route to unknown listener": (
        _edited(lambda d: d["gateway"]["routes"][0].update(listener="htp")),
        "gateway.routes[0].listener",
        "unknown listener 'htp'",
    ),
    "http rules on a udp flow": (
        _edited(lambda d: _flows(d)[2].update(http=[{"path": "/"}])),
        "policy.flows[2].http",
        "HTTP rules need a flow to an app group on TCP ports only",
    ),
    "route with a backend and a redirect": (
        _edited(lambda d: d["gateway"]["routes"][0].update(redirect={"scheme": "https"})),
        "gateway.routes[0]",
        "needs a backend or a redirect (exactly one)",
    ),
    "https listener without a hostname": (
        _edited(lambda d: d["gateway"]["listeners"][1].pop("hostname")),
        "gateway.listeners[1].hostname",
        "an HTTPS listener needs one (its certificate)",
    ),
    "path on a tcp route": (
        _edited(lambda d: d["gateway"]["routes"][3].update(path="/")),
        "gateway.routes[3]",
        "path and headers match HTTP only; listener 'postgres' is TCP",
    ),
    "route to group not in that environment": (
        _edited(lambda d: d["gateway"]["routes"][0]["backend"].update(environment="ops")),
        "gateway.routes[0].backend.environment",
        "not deployed in 'ops'",
    ),
    "invalid name": (
        _edited(lambda d: _flows(d)[0].update(name="Frontend To Backend")),
        "policy.flows[0].name",
        "should match pattern",
    ),
    "unsupported version": (
        _edited(lambda d: d.update(version=2)),
        "version",
        "Input should be 1",
    ),
    "flow port the external does not declare": (
        _edited(lambda d: _flows(d)[6].update(ports=["8443/TCP"])),
        "policy.flows[6].ports[0]",
        "8443/TCP is not a port 'partner-api' declares (443/TCP)",
    ),
    "flow environment the group is not in": (
        _edited(lambda d: _flows(d)[6].update(environments=["ops"])),
        "policy.flows[6].environments[0]",
        "group 'backend' is not deployed in 'ops'",
    ),
    "label value the API server rejects": (
        _edited(lambda d: d["groups"]["frontend"]["labels"].update(app="front end!")),
        "groups.frontend.labels",
        "label value 'front end!' must be empty or 1-63",
    ),
    "label key the API server rejects": (
        _edited(lambda d: d["groups"]["frontend"]["labels"].update({"-app": "x"})),
        "groups.frontend.labels",
        "label key '-app'",
    ),
    "empty zone name": (
        _edited(lambda d: d["dns"]["zones"][0].update(name="")),
        "dns.zones[0].name",
        "is not a DNS name",
    ),
    "non-ascii zone name": (
        _edited(lambda d: d["dns"]["zones"][0].update(name="hôme.arpa")),
        "dns.zones[0].name",
        "in its xn-- form",
    ),
    "two listeners on one port": (
        _edited(
            lambda d: d["gateway"]["listeners"].append(
                {"name": "plain", "protocol": "TCP", "port": 80}
            )
        ),
        "gateway.listeners[3].port",
        "port 80 is already used by listener 'http'",
    ),
    "a port twice in one flow": (
        _edited(lambda d: _flows(d)[0].update(ports=["8080/TCP", "8080/TCP"])),
        "policy.flows[0].ports[1]",
        "8080/TCP is listed twice",
    ),
    "pool inside the pod CIDR": (
        _edited(lambda d: d["lb_ipam"]["pools"][0].update(cidr="10.244.7.0/28")),
        "lb_ipam.pools[0].cidr",
        "overlaps the pod CIDR (10.244.0.0/16)",
    ),
    "BGP peer outside the node network": (
        _edited(lambda d: d["cluster"].update(node_network="198.18.192.0/24")),
        "bgp.peers[0].address",
        "198.18.0.1 is not in the node network 198.18.192.0/24: the nodes cannot reach it",
    ),
    "pool overlapping an external": (
        _edited(lambda d: d["lb_ipam"]["pools"][0].update(cidr="198.18.200.0/28")),
        "lb_ipam.pools[0].cidr",
        "overlaps external 'partner-api' (198.18.200.10/32)",
    ),
    "inside answer for a name in no internal zone": (
        _edited(lambda d: _records(d)[2].update(inside=["198.18.100.1"])),
        "dns.records[2].inside",
        "www.example is in no internal zone of dns.zones",
    ),
    "DNS record answering nothing": (
        _edited(lambda d: _records(d)[1].pop("inside")),
        "dns.records[1]",
        "printer.home.arpa answers nothing inside or outside",
    ),
    "DNS record declared twice": (
        _edited(lambda d: _records(d).append({"name": "www.example", "outside": ["198.18.1.1"]})),
        "dns.records[3]",
        "www.example A is declared twice",
    ),
    "IPv6 address in an A record": (
        _edited(lambda d: _records(d)[0].update(outside=["fd00::1"])),
        "dns.records[0].outside",
        "fd00::1 is not an IPv4 address (A)",
    ),
    "disruption budget meant as a percent": (
        _edited(lambda d: d["dns"].update(disruption_budget=1)),
        "dns.disruption_budget",
        "less than 0.5",
    ),
    "a zone that holds the cluster domain": (
        _edited(lambda d: d["dns"]["zones"].append(
            {"name": "local", "forward_to": ["198.18.53.10"]})),
        "dns.zones[1].name",
        "local holds the cluster domain cluster.local",
    ),
    "the same zone twice": (
        _edited(lambda d: d["dns"]["zones"].append(dict(d["dns"]["zones"][0]))),
        "dns.zones[1].name",
        "home.arpa is declared twice",
    ),
    "a zone forwarded into the pod range": (
        _edited(lambda d: d["dns"]["zones"][0].update(forward_to=["10.244.3.3"])),
        "dns.zones[0].forward_to[0]",
        "10.244.3.3 is inside the cluster's pod or Service range",
    ),
    "a route path without its slash": (
        _edited(lambda d: d["gateway"]["routes"][0].update(path="login")),
        "gateway.routes[0].path",
        "'login' is not a path",
    ),
    "a hostname with a scheme": (
        _edited(lambda d: d["gateway"]["listeners"][0].update(hostname="https://www.home.arpa")),
        "gateway.listeners[0].hostname",
        "is not a DNS name",
    ),
    "a backend port no workload serves": (
        _edited(lambda d: (d["policy"].update(default="allow"),
                           d["gateway"]["routes"][0]["backend"].update(port=8081))),
        "gateway.routes[0].backend.port",
        "no workload serves 8081/TCP",
    ),
    "two routes matching the same requests": (
        _edited(lambda d: d["gateway"]["routes"].append(
            {**d["gateway"]["routes"][2], "name": "again", "backend": {
                "environment": "prod", "group": "db", "port": 5432}})),
        "gateway.routes[4]",
        "matches what route 'secure-web' matches",
    ),
    "an HTTPS route that redirects to itself": (
        _edited(lambda d: d["gateway"]["routes"][2].update(
            backend=None, redirect={"scheme": "https", "status": 301})),
        "gateway.routes[2].redirect",
        "redirects to itself",
    ),
    "mutual authentication to a service": (
        _edited(lambda d: d["mutual_auth"].update(required_for=["dns"])),
        "mutual_auth.required_for[0]",
        "flow 'dns' goes to 'kube-dns', which is no app group",
    ),
    "an IPv6 BGP peer": (
        _edited(lambda d: d["bgp"]["peers"][0].update(address="fd00::1")),
        "bgp.peers[0].address",
        "FRR's router-id and the peering here are IPv4 only",
    ),
    "a peer inside an LB pool": (
        _edited(lambda d: d["bgp"]["peers"][0].update(address="198.18.250.3")),
        "bgp.peers[0].address",
        "198.18.250.3 is in pool 'default'",
    ),
    "two peers with one address": (
        _edited(lambda d: d["bgp"]["peers"].append({**d["bgp"]["peers"][0], "name": "frr2"})),
        "bgp.peers[1].address",
        "198.18.0.1 is also peer 'frr''s address",
    ),
    "an IPv6 pool in an IPv4 cluster": (
        _edited(lambda d: d["lb_ipam"]["pools"][0].update(cidr="fd00:250::/120")),
        "lb_ipam.pools[0].cidr",
        "fd00:250::/120 is IPv6; the cluster's pods are IPv4",
    ),
    "a pool inside the node network": (
        _edited(lambda d: (d["cluster"].update(node_network="198.18.250.0/24"),
                           d["bgp"]["peers"][0].update(address="198.18.250.200"))),
        "lb_ipam.pools[0].cidr",
        "198.18.250.0/28 overlaps the node network 198.18.250.0/24",
    ),
    "a named port no flow reaches": (
        _edited(lambda d: d["groups"]["db"].update(port_names={"postgres": "5433/TCP"})),
        "groups.db.port_names.postgres",
        "5433/TCP is not a port a flow reaches 'db' on",
    ),
    "one port named twice": (
        _edited(lambda d: d["groups"]["db"].update(
            port_names={"postgres": "5432/TCP", "pg": "5432/TCP"})),
        "groups.db.port_names.pg",
        "5432/TCP is already named 'postgres'",
    ),
    "a port name Kubernetes refuses": (
        _edited(lambda d: d["groups"]["db"].update(port_names={"5432": "5432/TCP"})),
        "groups.db.port_names",
        "needs a letter",
    ),
    "a Service port no workload serves": (
        _edited(lambda d: _service(d, "monitoring", ports=["22/TCP"])),
        "groups.monitoring.service.ports[0]",
        "22/TCP is no port a flow reaches an app group on",
    ),
    "externalTrafficPolicy on a ClusterIP Service": (
        _edited(lambda d: _service(d, "monitoring", external_traffic_policy="Local")),
        "groups.monitoring.service.external_traffic_policy",
        "applies to NodePort and LoadBalancer Services only",
    ),
    "a node port on a ClusterIP Service": (
        _edited(lambda d: _service(d, "monitoring", node_ports={"9090/TCP": 30090})),
        "groups.monitoring.service.node_ports",
        "a ClusterIP Service opens no node port",
    ),
    "a node port outside the range": (
        _edited(lambda d: _service(d, "monitoring", type="NodePort",
                                   node_ports={"9090/TCP": 8080})),
        "groups.monitoring.service.node_ports.9090/TCP",
        "node port 8080 is outside the cluster's range 30000-32767",
    ),
    "a node port for a port the Service does not expose": (
        _edited(lambda d: _service(d, "monitoring", type="NodePort", ports=["9090/TCP"],
                                   node_ports={"8080/TCP": 30080})),
        "groups.monitoring.service.node_ports.8080/TCP",
        "8080/TCP is no port this Service exposes",
    ),
    "one node port twice": (
        _edited(lambda d: (
            _service(d, "monitoring", type="NodePort", node_ports={"9090/TCP": 30090}),
            d["groups"]["db"].update(environments=["prod"]),
            _service(d, "db", type="NodePort", node_ports={"5432/TCP": 30090}))),
        "groups.monitoring.service.node_ports.9090/TCP",
        "node port 30090 is already db 5432/TCP's",
    ),
    "a fixed node port in two environments": (
        _edited(lambda d: _service(d, "db", type="NodePort", node_ports={"5432/TCP": 30432})),
        "groups.db.service.node_ports",
        "'db' is deployed in 2 environments",
    ),
    "a client reaching a Service that forwards as the world": (
        _edited(lambda d: d["groups"]["frontend"]["service"].update(
            external_traffic_policy="Cluster")),
        "groups.frontend.service.external_traffic_policy",
        "clients reach 'frontend' from outside (desktop), but with Cluster Cilium forwards",
    ),
    "a keepalive longer than the hold time": (
        _edited(lambda d: d["bgp"].update(timers={"hold": 9, "keepalive": 10})),
        "bgp.timers",
        "keepalive 10 s is longer than hold 9 s",
    ),
    "a hold time BGP refuses": (
        _edited(lambda d: d["bgp"].update(timers={"hold": 2})),
        "bgp.timers.hold",
        "greater than or equal to 3",
    ),
    "node loss without BGP timers": (
        _edited(lambda d: d["bgp"].pop("timers")),
        "high_availability.node_loss",
        "needs bgp.timers: with the default hold time (90 s) a lost node keeps its routes",
    ),
    "a node loss budget under the hold time": (
        _edited(lambda d: d["high_availability"].update(node_loss_budget=10)),
        "high_availability.node_loss_budget",
        "10 s is shorter than the BGP hold time (15 s)",
    ),
    "node loss without BGP": (
        _edited(lambda d: d.pop("bgp")),
        "high_availability.node_loss",
        "needs bgp advertising lb-ips and a pool in lb_ipam.pools",
    ),
    "a LoadBalancer no pool selects": (
        _edited(lambda d: _service(d, "backend", type="LoadBalancer", labels={"pool": "other"})),
        "groups.backend.service.labels",
        "no pool of lb_ipam.pools selects this LoadBalancer Service",
    ),
}  # fmt: skip


def test_a_loadbalancer_a_pool_selects_loads() -> None:
    """Selected by the pool's labels, or by a pool without a selector (it takes every
    Service)."""
    labelled = parse(
        _edited(lambda d: _service(d, "backend", type="LoadBalancer", labels={"pool": "default"}))
    )
    assert labelled.groups["backend"].service.external
    catch_all = _edited(
        lambda d: (
            _service(d, "backend", type="LoadBalancer"),
            d["lb_ipam"]["pools"].append({"name": "any", "cidr": "198.18.251.0/28"}),
        )
    )
    assert parse(catch_all).groups["backend"].service.type == "LoadBalancer"


def test_an_unquoted_off_is_off() -> None:
    arch = parse(_edited(lambda d: d["encryption"].update(wireguard=False)))
    assert arch.encryption.wireguard == "off"


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_names_file_path_and_reason(case: str) -> None:
    text, path, reason = BAD[case]
    with pytest.raises(SpecError) as raised:
        parse(text, "arch.yaml")
    message = str(raised.value)
    first = message.splitlines()[0]
    assert first.startswith(f"arch.yaml: {path}"), message
    assert reason in message, message
    assert "Traceback" not in message


def test_unreadable_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SpecError, match=r"nope\.yaml: cannot read: No such file"):
        load(missing)


def test_every_problem_is_reported_once() -> None:
    def two_problems(d):
        _flows(d)[0].update(to="x")
        _flows(d)[1].update({"from": "y"})

    with pytest.raises(SpecError) as raised:
        parse(_edited(two_problems))
    message = str(raised.value)
    assert message.count("\n") == 1
    assert "policy.flows[0].to" in message and "policy.flows[1].from" in message


def test_a_binary_file_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "image.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(SpecError) as refused:
        load(path)
    assert (
        str(refused.value) == f"{path}: (document): not UTF-8 text (byte 0): is it the right file?"
    )


def test_a_deeply_nested_document_is_one_clear_line() -> None:
    with pytest.raises(SpecError) as refused:
        parse("a: " + "[" * 5000 + "]" * 5000, "deep.yaml")
    assert str(refused.value) == "deep.yaml: (document): nested too deeply to be a spec"


def test_policy_paths_must_name_files_that_exist(tmp_path: Path) -> None:
    spec = tmp_path / "arch.yaml"
    spec.write_text(_edited(lambda d: d["policy"].update(paths=[str(tmp_path / "nope.yaml")])))
    with pytest.raises(SpecError) as refused:
        load(spec)
    assert str(refused.value).startswith(f"{spec}: policy.paths[0]: no such file")
