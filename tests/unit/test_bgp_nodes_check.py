"""The BGP node-config checker on objects shaped as the Cilium operator writes them."""

from __future__ import annotations

from netconform.checks.bgp_nodes import check_bgp_node_configs, check_bgp_peering
from netconform.spec import Bgp

WANT = Bgp.model_validate(
    {"local_asn": 64512, "peers": [{"name": "frr", "peer_asn": 64513, "address": "198.18.0.1"}]}
)


def config(
    node: str, asn: int = 64512, peers: tuple[tuple[str, int], ...] = (("198.18.0.1", 64513),)
) -> dict:
    instance = {
        "name": "i",
        "localASN": asn,
        "peers": [{"name": "p", "peerAddress": a, "peerASN": n} for a, n in peers],
    }
    return {"metadata": {"name": node}, "spec": {"bgpInstances": [instance]}}


def test_every_node_with_the_instance_and_peer_passes() -> None:
    verdict = check_bgp_node_configs(["a", "b"], [config("a"), config("b")], WANT)
    assert verdict.ok and "all 2 nodes peer as AS64512 with 1 peer(s)" in verdict.summary
    assert "a: AS64512 -> 198.18.0.1 AS64513" in verdict.evidence


def test_each_problem_is_named() -> None:
    verdict = check_bgp_node_configs(
        ["a", "b", "c", "d"],
        [
            config("a", asn=65001),
            config("b", peers=(("198.18.0.2", 64513),)),
            config("c", peers=()),
        ],
        WANT,
    )
    assert not verdict.ok
    assert verdict.summary.startswith("bgp: 4 problem(s)")
    assert "a: no BGP instance with local ASN 64512 (has [65001])" in verdict.summary
    assert "b: no peer 198.18.0.1 AS64513 (has 198.18.0.2 AS64513)" in verdict.summary
    assert "c: no peer 198.18.0.1 AS64513 (has none)" in verdict.summary
    assert "d: no CiliumBGPNodeConfig" in verdict.summary


def status(node: str, *peers: tuple[str, str]) -> dict:
    """A node config with status as a Cilium 1.20 agent reports it."""
    reported = [
        {"name": "frr", "peerASN": 64513, "peerAddress": address, "peeringState": state}
        for address, state in peers
    ]
    instance = {"name": "asn-64512", "localASN": 64512, "peers": reported}
    return {**config(node), "status": {"bgpInstances": [instance]}}


def test_peering_holds_when_every_node_reports_established() -> None:
    configs = [
        status("a", ("198.18.192.5", "established")),
        status("b", ("198.18.192.5", "established")),
    ]
    verdict = check_bgp_peering(["a", "b"], configs, ["198.18.192.5"])
    assert verdict.ok and "all 2 nodes established with 1 peer(s)" in verdict.summary
    assert "a: 198.18.192.5 established" in verdict.evidence


def test_peering_names_each_node_not_established() -> None:
    configs = [
        status("a", ("198.18.192.5", "active")),
        status("b", ("198.18.192.9", "established")),
        {"metadata": {"name": "c"}, "spec": {}},
    ]
    verdict = check_bgp_peering(["a", "b", "c", "d"], configs, ["198.18.192.5"])
    assert not verdict.ok
    assert "a: peer 198.18.192.5 active, not established" in verdict.summary
    assert "b: no status for peer 198.18.192.5" in verdict.summary
    assert "c: no status for peer 198.18.192.5" in verdict.summary
    assert "d: no CiliumBGPNodeConfig" in verdict.summary
