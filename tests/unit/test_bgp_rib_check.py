"""FRR's JSON in both shapes (8.4: bestpath a bool; 10.x: an object, fields left out)."""

from __future__ import annotations

from pathlib import Path

from netconform.checks.bgp_rib import (
    check_rib,
    check_session_lost,
    check_sessions,
    parse_rib,
    parse_sessions,
)
from netconform.frr import BLACKHOLE, render_frr_conf
from netconform.manifests import bgp
from netconform.spec import Bgp, load

ROOT = Path(__file__).resolve().parents[2]

NODES = ["198.18.0.11", "198.18.0.12"]
FRR_8_4 = {
    "routes": {
        "198.18.64.0/24": [
            {"valid": True, "bestpath": True, "path": "64512",
             "nexthops": [{"ip": "198.18.0.11", "afi": "ipv4", "used": True}]}
        ],
        "198.18.250.1/32": [
            {"valid": True, "bestpath": True, "path": "64512", "nexthops": [{"ip": "198.18.0.11"}]},
            {"valid": True, "path": "64512", "nexthops": [{"ip": "198.18.0.12"}]},
        ],
    }
}  # fmt: skip
FRR_10 = {
    "routes": {
        "198.18.64.0/24": [
            {"valid": True, "bestpath": {"overall": True, "selectionReason": "First path"},
             "nexthops": [{"ip": "198.18.0.11"}]}
        ],
        "198.18.250.1/32": [
            {"bestpath": {"overall": True}, "nexthops": [{"ip": "198.18.0.12"}]},
            {"nexthops": [{"ip": "198.18.0.11", "hostname": "node1"}]},
        ],
    }
}  # fmt: skip
WANTED = {"198.18.64.0/24": ["198.18.0.11"], "198.18.250.1/32": NODES}


def test_both_frr_shapes_pass_the_same_healthy_rib() -> None:
    for table in (FRR_8_4, FRR_10):
        verdict = check_rib(parse_rib(table), WANTED, NODES)
        assert verdict.ok, verdict
        assert "198.18.64.0/24" in verdict.evidence and "best via 198.18.0.11" in verdict.evidence


def test_a_prefix_without_a_best_path_is_not_announced() -> None:
    table = {"routes": {"198.18.64.0/24": [{"valid": True, "bestpath": {"overall": False}}]}}
    verdict = check_rib(parse_rib(table), {"198.18.64.0/24": ["198.18.0.11"]}, NODES)
    assert not verdict.ok and "198.18.64.0/24 not announced" in verdict.summary


def test_sessions_name_the_node_that_is_not_established() -> None:
    summary = {
        "ipv4Unicast": {
            "peers": {
                "198.18.0.11": {"state": "Established", "pfxRcd": 2},
                "198.18.0.12": {"state": "Active"},
            }
        }
    }
    verdict = check_sessions(parse_sessions(summary), [*NODES, "198.18.0.13"])
    assert not verdict.ok
    assert "node 198.18.0.12: session Active, not Established" in verdict.summary
    assert "no session configured for node 198.18.0.13" in verdict.summary


def test_frr_conf_peers_with_every_node_as_the_cluster_asn() -> None:
    bgp = Bgp.model_validate(
        {"local_asn": 64512, "peers": [{"name": "frr", "peer_asn": 64513, "address": "198.18.0.1"}]}
    )
    conf = render_frr_conf(bgp, bgp.peers[0], NODES)
    assert "router bgp 64513" in conf and " bgp router-id 198.18.0.1" in conf
    assert " neighbor nodes remote-as 64512" in conf
    assert all(f" neighbor {node} peer-group nodes" in conf for node in NODES)


def test_frr_conf_blackholes_what_no_node_announces_before_bgp() -> None:
    bgp = Bgp.model_validate(
        {"local_asn": 64512, "peers": [{"name": "frr", "peer_asn": 64513, "address": "198.18.0.1"}]}
    )
    conf = render_frr_conf(bgp, bgp.peers[0], NODES, static_routes={"198.18.250.0/28": BLACKHOLE})
    lines = conf.splitlines()
    assert lines.index("ip route 198.18.250.0/28 blackhole") < lines.index("router bgp 64513")
    assert "ip route" not in render_frr_conf(bgp, bgp.peers[0], NODES)


def test_both_ends_get_the_specs_timers_and_none_without_them() -> None:
    peer = {"name": "frr", "peer_asn": 64513, "address": "198.18.0.1"}
    timed = Bgp.model_validate(
        {"local_asn": 64512, "peers": [peer], "timers": {"hold": 9, "keepalive": 3}}
    )
    arch = load(ROOT / "architecture.yaml").model_copy(update={"bgp": timed})
    peer_config = next(m for m in bgp(arch) if m["kind"] == "CiliumBGPPeerConfig")
    assert peer_config["spec"]["timers"] == {"holdTimeSeconds": 9, "keepAliveTimeSeconds": 3}
    assert " neighbor nodes timers 3 9" in render_frr_conf(timed, timed.peers[0], NODES)
    plain = Bgp.model_validate({"local_asn": 64512, "peers": [peer]})
    assert " timers 3" not in render_frr_conf(plain, plain.peers[0], NODES)
    untimed = arch.model_copy(update={"bgp": plain})
    assert (
        "timers" not in next(m for m in bgp(untimed) if m["kind"] == "CiliumBGPPeerConfig")["spec"]
    )


def test_a_session_still_established_is_not_lost() -> None:
    sessions = parse_sessions(
        {"ipv4Unicast": {"peers": {"198.18.0.11": {"state": "Established", "pfxRcd": 2}}}}
    )
    held = check_session_lost(sessions, "198.18.0.11")
    assert (
        not held.ok and held.summary == "node 198.18.0.11: session still Established (2 prefixes)"
    )
    assert check_session_lost(sessions, "198.18.0.12").ok
    idle = parse_sessions({"ipv4Unicast": {"peers": {"198.18.0.11": {"state": "Idle"}}}})
    assert check_session_lost(idle, "198.18.0.11").summary == "node 198.18.0.11: session Idle"
