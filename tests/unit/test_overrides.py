"""A user's Cilium values kept as written but for what cannot work on kind: each change is
named with theirs, ours and why, and a change that narrows a suite's claim names that suite
(in results.json and next to the suite in the report)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml

from netconform import report_html, results
from netconform.sources.overrides import KindShape, for_kind

ROOT = Path(__file__).resolve().parents[2]
HOMELAB = yaml.safe_load((ROOT / "examples/homelab/infrastructure/cilium/values.yaml").read_text())
KIND = KindShape(
    "home", ipaddress.ip_network("10.244.0.0/16"), ipaddress.ip_network("10.96.0.0/16"), lan=True
)


def test_homelab_values_keep_every_key_but_the_ones_kind_cannot_run() -> None:
    values, made = for_kind(HOMELAB, KIND)
    changed = {o.key: (o.theirs, o.ours) for o in made}
    assert changed["k8sServiceHost"] == ("198.18.10.100", "home-control-plane")
    assert changed["devices"] == (["enp1s0"], "eth+")
    assert changed["MTU"] == (9000, None)
    assert changed["prometheus.serviceMonitor.enabled"] == (True, False)
    assert "MTU" not in values
    for kept in ("routingMode", "ipv4NativeRoutingCIDR", "bgpControlPlane", "encryption"):
        assert values[kept] == HOMELAB[kept]
    assert not any(o.suite for o in made), [o for o in made if o.suite]


def test_what_the_local_path_turns_off_names_the_suite_whose_claim_it_narrows() -> None:
    dsr = {**HOMELAB, "loadBalancer": {"mode": "dsr", "dsrDispatch": "geneve"}}
    _, made = for_kind(dsr, KIND, local_overlay={})
    by_key = {o.key: o for o in made}
    assert (by_key["encryption.enabled"].suite, by_key["encryption.enabled"].ours) == (
        "test_wireguard",
        False,
    )
    assert by_key["loadBalancer.mode"].suite == "test_lb_ipam"
    assert "SNAT" in by_key["loadBalancer.mode"].claim
    _, on_a_users_kind = for_kind(dsr, KIND)
    assert "loadBalancer.mode" not in {o.key for o in on_a_users_kind}


def test_the_report_shows_a_narrowed_claim_next_to_its_suite() -> None:
    _, made = for_kind(HOMELAB, KIND, local_overlay={})
    check = results.Check("suites/test_wireguard.py::t", "test_wireguard", "skipped", "kernel",
                          "", 0.1, (), ())  # fmt: skip
    run = results.document("r", "2026-12-03T00:00:00+00:00", {}, "0" * 64, [check], {
        "cilium_values_from": ["values.yaml"],
        "overrides": [o.as_data() for o in made],
        "applied": [],
        "not_applied": [],
    })  # fmt: skip
    page = report_html.render(run)
    line = next(li for li in page.split("<li>") if li.startswith("test_wireguard"))
    assert "encryption is not tested on this path" in line
