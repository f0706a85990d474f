"""The policy analyzer on Cilium's semantics, one construct at a time, and its invariants on
random policies."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from netconform.checks.policy_analyzer import (
    PREDICTED_ALLOWED,
    PREDICTED_DENIED,
    UNDECIDED,
    Peer,
    entity_peer,
    entries_of,
    findings,
    outside_peer,
    pod_peer,
    predict,
)
from netconform.spec import PortSpec

WEB = PortSpec(80, "TCP")
DNS = PortSpec(53, "UDP")
ENV = "netconform.io/environment"


def pod(name: str, namespace: str, env: str = "prod", **labels: str) -> Peer:
    return pod_peer(name, labels, namespace, {ENV: env, "kubernetes.io/metadata.name": namespace})


FRONT = pod("front", "shop", app="frontend")
BACK = pod("back", "shop", app="backend", tier="api")
OTHER = pod("other", "lab", env="staging", app="frontend")
WORLD = outside_peer("partner", "198.18.200.10")


def cnp(name: str, spec: dict, namespace: str = "shop") -> dict:
    meta = {"name": name, "namespace": namespace}
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": meta,
        "spec": spec,
    }


def ccnp(name: str, spec: dict) -> dict:
    meta = {"name": name}
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": meta,
        "spec": spec,
    }


def verdict(policies: list[dict], source: Peer, destination: Peer, port: PortSpec = WEB) -> str:
    return predict(entries_of(policies), source, destination, port).verdict


BACKEND = {"matchLabels": {"app": "backend"}}
WEB_PORT = [{"ports": [{"port": "80", "protocol": "TCP"}]}]


def test_no_policy_allows_everything() -> None:
    assert (
        verdict([], FRONT, BACK) == PREDICTED_ALLOWED
        and verdict([], FRONT, WORLD) == PREDICTED_ALLOWED
    )


def test_an_empty_rule_selects_nothing_but_turns_default_deny_on() -> None:
    deny_all = ccnp("deny", {"endpointSelector": {}, "ingress": [{}], "egress": [{}]})
    assert verdict([deny_all], FRONT, BACK) == PREDICTED_DENIED
    explained = predict(entries_of([deny_all]), FRONT, BACK, WEB).why
    assert (
        "egress default deny (selected by CiliumClusterwideNetworkPolicy deny egress[0])"
        in explained
    )


def test_a_namespaced_selector_stays_in_its_namespace_unless_it_names_one() -> None:
    same_ns = cnp(
        "web",
        {
            "endpointSelector": BACKEND,
            "ingress": [
                {"fromEndpoints": [{"matchLabels": {"app": "frontend"}}], "toPorts": WEB_PORT}
            ],
        },
    )
    assert verdict([same_ns], FRONT, BACK) == PREDICTED_ALLOWED
    assert verdict([same_ns], OTHER, BACK) == PREDICTED_DENIED
    by_env = {
        "matchLabels": {"app": "frontend", f"k8s:io.cilium.k8s.namespace.labels.{ENV}": "staging"}
    }
    cross = cnp(
        "web",
        {
            "endpointSelector": BACKEND,
            "ingress": [{"fromEndpoints": [by_env], "toPorts": WEB_PORT}],
        },
    )
    assert (
        verdict([cross], OTHER, BACK) == PREDICTED_ALLOWED
        and verdict([cross], FRONT, BACK) == PREDICTED_DENIED
    )


def test_match_expressions() -> None:
    expressions = [
        {"key": "app", "operator": "In", "values": ["frontend", "ops"]},
        {"key": "tier", "operator": "DoesNotExist"},
    ]
    policy = cnp(
        "expr",
        {
            "endpointSelector": BACKEND,
            "ingress": [{"fromEndpoints": [{"matchExpressions": expressions}]}],
        },
    )
    assert verdict([policy], FRONT, BACK) == PREDICTED_ALLOWED
    tiered = pod("tiered", "shop", app="frontend", tier="x")
    assert verdict([policy], tiered, BACK) == PREDICTED_DENIED
    not_in = cnp(
        "notin",
        {
            "endpointSelector": BACKEND,
            "ingress": [
                {
                    "fromEndpoints": [
                        {
                            "matchExpressions": [
                                {"key": "app", "operator": "NotIn", "values": ["frontend"]}
                            ]
                        }
                    ]
                }
            ],
        },
    )
    assert verdict([not_in], FRONT, BACK) == PREDICTED_DENIED
    assert verdict([not_in], pod("nolabel", "shop"), BACK) == PREDICTED_ALLOWED


def test_cidr_set_with_except_and_entities() -> None:
    def egress(rule: dict) -> list[dict]:
        return [
            cnp("out", {"endpointSelector": {"matchLabels": {"app": "frontend"}}, "egress": [rule]})
        ]

    carved = {"toCIDRSet": [{"cidr": "198.18.200.0/24", "except": ["198.18.200.8/29"]}]}
    assert verdict(egress(carved), FRONT, WORLD) == PREDICTED_DENIED
    assert verdict(egress(carved), FRONT, outside_peer("x", "198.18.200.20")) == PREDICTED_ALLOWED
    assert (
        verdict(egress({"toCIDR": ["198.18.0.0/15"]}), FRONT, BACK) == PREDICTED_DENIED
    )  # pods are no CIDR
    assert verdict(egress({"toEntities": ["world"]}), FRONT, WORLD) == PREDICTED_ALLOWED
    assert verdict(egress({"toEntities": ["world"]}), FRONT, BACK) == PREDICTED_DENIED
    assert verdict(egress({"toEntities": ["cluster"]}), FRONT, BACK) == PREDICTED_ALLOWED
    assert verdict(egress({"toEntities": ["cluster"]}), FRONT, WORLD) == PREDICTED_DENIED


def test_the_gateways_envoy_and_other_nodes_are_entities_inside_the_cluster() -> None:
    envoy, node = entity_peer("ingress"), entity_peer("remote-node")
    deny = ccnp("deny", {"endpointSelector": {}, "ingress": [{}], "egress": [{}]})

    def ingress_from(*entities: str) -> dict:
        rule = {"fromEntities": list(entities), "toPorts": [{"ports": [{"port": "80"}]}]}
        return cnp(
            "web", {"endpointSelector": {"matchLabels": {"app": "frontend"}}, "ingress": [rule]}
        )

    assert verdict([ingress_from("ingress")], envoy, FRONT) == PREDICTED_ALLOWED
    assert verdict([ingress_from("ingress")], node, FRONT) == PREDICTED_DENIED
    assert verdict([ingress_from("remote-node")], node, FRONT) == PREDICTED_ALLOWED
    assert verdict([ingress_from("cluster")], envoy, FRONT) == PREDICTED_ALLOWED
    assert verdict([ingress_from("world")], envoy, FRONT) == PREDICTED_DENIED
    assert verdict([ingress_from("ingress")], envoy, FRONT, DNS) == PREDICTED_DENIED
    # A clusterwide default deny selecting every endpoint holds Envoy's egress too (Cilium's
    # ingress endpoint), never another node's.
    assert verdict([ingress_from("ingress", "remote-node"), deny], envoy, FRONT) == PREDICTED_DENIED
    assert verdict([ingress_from("ingress", "remote-node"), deny], node, FRONT) == PREDICTED_ALLOWED
    namespaced = {"matchLabels": {}}
    everyone = cnp("all", {"endpointSelector": {}, "ingress": [{"fromEndpoints": [namespaced]}]})
    assert verdict([everyone], envoy, FRONT) == PREDICTED_DENIED


def test_ports_without_peers_select_every_peer_and_ports_must_match() -> None:
    policy = cnp("p", {"endpointSelector": BACKEND, "ingress": [{"toPorts": WEB_PORT}]})
    assert verdict([policy], OTHER, BACK) == PREDICTED_ALLOWED
    assert verdict([policy], OTHER, BACK, DNS) == PREDICTED_DENIED
    ranged = cnp(
        "r",
        {
            "endpointSelector": BACKEND,
            "ingress": [
                {"toPorts": [{"ports": [{"port": "70", "endPort": 90, "protocol": "ANY"}]}]}
            ],
        },
    )
    assert verdict([ranged], FRONT, BACK) == PREDICTED_ALLOWED


def test_deny_wins_over_allow() -> None:
    allow = cnp("allow", {"endpointSelector": BACKEND, "ingress": [{"fromEndpoints": [{}]}]})
    deny = cnp(
        "deny",
        {
            "endpointSelector": BACKEND,
            "ingressDeny": [{"fromEndpoints": [{"matchLabels": {"app": "frontend"}}]}],
        },
    )
    assert verdict([allow], FRONT, BACK) == PREDICTED_ALLOWED
    assert verdict([allow, deny], FRONT, BACK) == PREDICTED_DENIED
    assert (
        "ingress denied by CiliumNetworkPolicy shop/deny ingressDeny[0]"
        in predict(entries_of([allow, deny]), FRONT, BACK, WEB).why
    )


def test_a_clusterwide_wildcard_peer_selects_pods_not_the_world() -> None:
    policy = ccnp("all-pods", {"endpointSelector": {}, "egress": [{"toEndpoints": [{}]}]})
    assert verdict([policy], FRONT, OTHER) == PREDICTED_ALLOWED
    assert verdict([policy], FRONT, WORLD) == PREDICTED_DENIED


def test_what_only_a_proxy_decides_is_undecided() -> None:
    l7 = cnp(
        "l7",
        {
            "endpointSelector": BACKEND,
            "ingress": [
                {
                    "toPorts": [
                        {
                            "ports": [{"port": "80", "protocol": "TCP"}],
                            "rules": {"http": [{"method": "GET"}]},
                        }
                    ]
                }
            ],
        },
    )
    named = cnp(
        "named",
        {"endpointSelector": BACKEND, "ingress": [{"toPorts": [{"ports": [{"port": "http"}]}]}]},
    )
    fqdn = cnp(
        "fqdn",
        {
            "endpointSelector": {"matchLabels": {"app": "frontend"}},
            "egress": [{"toFQDNs": [{"matchName": "api.example"}]}],
        },
    )
    auth = cnp(
        "auth",
        {
            "endpointSelector": BACKEND,
            "ingress": [{"fromEndpoints": [{}], "authentication": {"mode": "required"}}],
        },
    )
    assert verdict([l7], FRONT, BACK) == UNDECIDED
    assert verdict([named], FRONT, BACK) == UNDECIDED
    assert verdict([fqdn], FRONT, WORLD) == UNDECIDED
    assert verdict([fqdn], FRONT, BACK) == PREDICTED_DENIED  # an FQDN never names a pod
    authenticated = predict(entries_of([auth]), FRONT, BACK, WEB)
    assert authenticated.verdict == PREDICTED_ALLOWED
    assert "once authenticated (required mutual authentication)" in authenticated.why


def test_a_rule_whose_authentication_always_fails_drops() -> None:
    always_fail = cnp(
        "auth",
        {
            "endpointSelector": BACKEND,
            "ingress": [{"fromEndpoints": [{}], "authentication": {"mode": "test-always-fail"}}],
        },
    )
    dropped = predict(entries_of([always_fail]), FRONT, BACK, WEB)
    assert dropped.verdict == PREDICTED_DENIED
    assert "requires test-always-fail auth" in dropped.why


def test_kubernetes_network_policy() -> None:
    def netpol(spec: dict) -> dict:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "np", "namespace": "shop"},
            "spec": spec,
        }

    from_staging = netpol(
        {
            "podSelector": BACKEND,
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {ENV: "staging"}},
                            "podSelector": {"matchLabels": {"app": "frontend"}},
                        }
                    ]
                }
            ],
        }
    )
    assert verdict([from_staging], OTHER, BACK) == PREDICTED_ALLOWED
    assert verdict([from_staging], FRONT, BACK) == PREDICTED_DENIED
    no_egress = netpol({"podSelector": {}, "policyTypes": ["Egress"]})
    assert verdict([no_egress], FRONT, WORLD) == PREDICTED_DENIED
    assert verdict([no_egress], OTHER, BACK) == PREDICTED_ALLOWED  # other is not in shop
    block = netpol(
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {"ipBlock": {"cidr": "198.18.200.0/24", "except": ["198.18.200.10/32"]}}
                    ],
                    "ports": [{"port": 80}],
                }
            ],
        }
    )
    assert verdict([block], FRONT, WORLD) == PREDICTED_DENIED
    assert verdict([block], FRONT, outside_peer("y", "198.18.200.11")) == PREDICTED_ALLOWED


def test_findings_name_dead_rules_and_shadowed_allows() -> None:
    nobody = cnp("nobody", {"endpointSelector": {"matchLabels": {"app": "ghost"}}, "ingress": [{}]})
    allow = cnp("allow", {"endpointSelector": BACKEND, "ingress": [{"fromEndpoints": [{}]}]})
    deny = cnp("deny", {"endpointSelector": BACKEND, "ingressDeny": [{"fromEndpoints": [{}]}]})
    unused = cnp(
        "unused",
        {
            "endpointSelector": BACKEND,
            "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "ghost"}}]}],
        },
    )
    found = findings(entries_of([nobody, allow, deny, unused]), [FRONT, BACK], [(FRONT, BACK, WEB)])
    assert "CiliumNetworkPolicy shop/nobody ingress[0]: selects no endpoint of the spec" in found
    assert "CiliumNetworkPolicy shop/unused ingress[0]: matches no peer of the spec" in found
    assert any(
        f.startswith(
            "CiliumNetworkPolicy shop/deny ingressDeny[0] disagrees with "
            "CiliumNetworkPolicy shop/allow ingress[0]"
        )
        for f in found
    )


# --- invariants on random policies -------------------------------------------------------

LABEL = st.sampled_from(["app", "tier", "team"])
VALUE = st.sampled_from(["a", "b", "c"])
LABELS = st.dictionaries(LABEL, VALUE, max_size=3)
SELECTOR = st.builds(lambda labels: {"matchLabels": labels}, LABELS)
PORTS = st.lists(st.sampled_from(["80", "53", "8080"]), max_size=2).map(
    lambda ports: [{"ports": [{"port": p, "protocol": "TCP"} for p in ports]}] if ports else []
)


@st.composite
def rule(draw: st.DrawFn, ingress: bool) -> dict:
    side = "from" if ingress else "to"
    made: dict = {}
    choice = draw(st.sampled_from(["endpoints", "cidr", "entities", "none"]))
    if choice == "endpoints":
        made[f"{side}Endpoints"] = draw(st.lists(SELECTOR, min_size=1, max_size=2))
    elif choice == "cidr":
        made[f"{side}CIDR"] = [draw(st.sampled_from(["198.18.200.0/24", "198.18.0.0/15"]))]
    elif choice == "entities":
        made[f"{side}Entities"] = [draw(st.sampled_from(["world", "cluster", "all"]))]
    ports = draw(PORTS)
    if ports:
        made["toPorts"] = ports
    return made


@st.composite
def policy(draw: st.DrawFn, deny: bool = False) -> dict:
    spec: dict = {"endpointSelector": draw(SELECTOR)}
    for ingress, name in ((True, "ingress"), (False, "egress")):
        if draw(st.booleans()):
            spec[f"{name}Deny" if deny else name] = draw(
                st.lists(rule(ingress), min_size=1, max_size=2)
            )
    return ccnp(f"p{draw(st.integers(0, 999))}", spec)


PEERS = st.lists(
    st.builds(lambda labels, i: pod(f"pod{i}", "shop", **labels), LABELS, st.integers(0, 9)),
    min_size=1,
    max_size=4,
)
WORLD_PEERS = [outside_peer("w1", "198.18.200.10"), outside_peer("w2", "198.18.100.1")]


def connections(policies: list[dict], peers: list[Peer]) -> set[tuple[str, str, int]]:
    entries = entries_of(policies)
    everyone = [*peers, *WORLD_PEERS]
    return {
        (s.name, d.name, port.port)
        for s in peers
        for d in everyone
        for port in (WEB, PortSpec(8080, "TCP"))
        if s is not d and predict(entries, s, d, port).verdict == PREDICTED_ALLOWED
    }


@settings(max_examples=150, deadline=None)
@given(st.lists(policy(), max_size=3), policy(), PEERS)
def test_adding_an_allow_never_removes_a_connection(
    base: list[dict], extra: dict, peers: list[Peer]
) -> None:
    # An added allow may turn default deny on for whom it selects: compare only where the
    # directions it touches were enforced already.
    enforced = [*base, ccnp("enforce", {"endpointSelector": {}, "ingress": [{}], "egress": [{}]})]
    before = connections(enforced, peers)
    assert before <= connections([*enforced, extra], peers)


@settings(max_examples=150, deadline=None)
@given(st.lists(policy(), max_size=3), policy(deny=True), PEERS)
def test_adding_a_deny_never_adds_a_connection(
    base: list[dict], deny: dict, peers: list[Peer]
) -> None:
    assert connections([*base, deny], peers) <= connections(base, peers)


def test_world_peers_carry_their_address() -> None:
    assert WORLD.address == ipaddress.ip_address("198.18.200.10")


def netpol_ingress(ports: list[dict]) -> dict:
    rule = {"from": [{"podSelector": {}}], "ports": ports}
    spec = {"podSelector": BACKEND, "policyTypes": ["Ingress"], "ingress": [rule]}
    meta = {"name": "np", "namespace": "shop"}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
            "spec": spec}  # fmt: skip


def test_a_port_entry_without_a_number_is_every_port_of_its_protocol() -> None:
    """Kubernetes, and Cilium's parsePorts: the protocol defaults to TCP, a missing port is
    every port of that protocol."""
    udp_only = netpol_ingress([{"protocol": "UDP"}])
    assert verdict([udp_only], FRONT, BACK, WEB) == PREDICTED_DENIED
    assert verdict([udp_only], FRONT, BACK, DNS) == PREDICTED_ALLOWED
    every_tcp = netpol_ingress([{}, {"port": 80}])
    assert verdict([every_tcp], FRONT, BACK, PortSpec(81, "TCP")) == PREDICTED_ALLOWED
    assert verdict([every_tcp], FRONT, BACK, DNS) == PREDICTED_DENIED


def test_a_named_port_beside_a_numbered_one_leaves_the_numbered_one_decided() -> None:
    both = netpol_ingress([{"port": 80}, {"port": "serve-81-tcp"}])
    assert verdict([both], FRONT, BACK, WEB) == PREDICTED_ALLOWED
    assert verdict([both], FRONT, BACK, PortSpec(81, "TCP")) == UNDECIDED
    # A TCP name resolves to no UDP port, whatever it names.
    assert verdict([both], FRONT, BACK, DNS) == PREDICTED_DENIED
    rule = {"fromEndpoints": [{}], "toPorts": [{"ports": [{"port": "80"}, {"port": "serve"}]}]}
    cilium = cnp("both", {"endpointSelector": BACKEND, "ingress": [rule]})
    assert verdict([cilium], FRONT, BACK, WEB) == PREDICTED_ALLOWED
    undecided = predict(entries_of([cilium]), FRONT, BACK, PortSpec(81, "TCP"))
    assert (undecided.verdict, "named port 'serve'" in undecided.why) == (UNDECIDED, True)


def test_a_named_port_resolves_against_the_destinations_named_ports_where_known() -> None:
    """As Cilium resolves it: on the destination's containers, by name and protocol."""
    serving = pod_peer(
        "back",
        {"app": "backend"},
        "shop",
        {ENV: "prod", "kubernetes.io/metadata.name": "shop"},
        named_ports=frozenset({("http", "TCP", 80), ("dns", "UDP", 53)}),
    )
    unnamed = pod_peer("back", {"app": "backend"}, "shop", {ENV: "prod"}, named_ports=frozenset())
    by_name = netpol_ingress([{"port": "http"}])
    assert verdict([by_name], FRONT, serving, WEB) == PREDICTED_ALLOWED
    assert verdict([by_name], FRONT, serving, PortSpec(81, "TCP")) == PREDICTED_DENIED
    assert verdict([by_name], FRONT, serving, DNS) == PREDICTED_DENIED  # TCP by default
    assert verdict([by_name], FRONT, unnamed, WEB) == PREDICTED_DENIED  # no such name there
    assert verdict([by_name], FRONT, BACK, WEB) == UNDECIDED  # names not known
    any_protocol = {"endpointSelector": BACKEND, "ingress": [
        {"fromEndpoints": [{}], "toPorts": [{"ports": [{"port": "dns"}]}]}]}  # fmt: skip
    assert verdict([cnp("dns", any_protocol)], FRONT, serving, DNS) == PREDICTED_ALLOWED
    assert verdict([cnp("dns", any_protocol)], FRONT, serving, WEB) == PREDICTED_DENIED
    http_tcp = [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    egress = {"endpointSelector": {"matchLabels": {"app": "frontend"}},
              "egress": [{"toEndpoints": [{}], "toPorts": http_tcp}]}  # fmt: skip
    assert verdict([cnp("out", egress)], FRONT, serving, WEB) == PREDICTED_ALLOWED
    assert verdict([cnp("out", egress)], FRONT, serving, PortSpec(8080, "TCP")) == (
        PREDICTED_DENIED
    )
    deny = {"endpointSelector": BACKEND, "ingressDeny": [
        {"fromEndpoints": [{}], "toPorts": [{"ports": [{"port": "http"}]}]}]}  # fmt: skip
    assert verdict([by_name, cnp("deny", deny)], FRONT, serving, WEB) == PREDICTED_DENIED


NUMBERED = st.sampled_from([80, 53, 8080])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(NUMBERED, min_size=1, max_size=3),
    st.sampled_from(["TCP", "UDP"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).filter(str.isalpha),
)
def test_a_numbered_port_never_becomes_undecided_because_a_named_port_sits_beside_it(
    numbers: list[int], protocol: str, name: str
) -> None:
    numbered = [{"port": n, "protocol": protocol} for n in numbers]
    alone, beside = netpol_ingress(numbered), netpol_ingress([*numbered, {"port": name}])
    for number in numbers:
        port = PortSpec(number, protocol)  # type: ignore[arg-type]
        assert verdict([alone], FRONT, BACK, port) == PREDICTED_ALLOWED
        assert verdict([beside], FRONT, BACK, port) == PREDICTED_ALLOWED
