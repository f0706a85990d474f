"""Two routes of one listener that differ only by hostname: each HTTPRoute names its own host,
and each request is expected at its own backend."""

from __future__ import annotations

from pathlib import Path

import yaml

from netconform import gateway
from netconform.checks.gateway_routes import routed_to
from netconform.spec import parse
from netconform.workloads import RunNamespaces

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = RunNamespaces("ab12")


def two_hosts() -> str:
    data = yaml.safe_load((ROOT / "architecture.yaml").read_text())
    data["gateway"]["listeners"] = [
        {"name": "web", "protocol": "HTTP", "port": 80, "hostname": "*.home.arpa"}
    ]
    data["gateway"]["routes"] = [
        {"name": "shop", "listener": "web", "hostname": "shop.home.arpa",
         "backend": {"environment": "prod", "group": "frontend", "port": 8080}},
        {"name": "db-admin", "listener": "web", "hostname": "db.home.arpa",
         "backend": {"environment": "prod", "group": "db", "port": 5432}},
    ]  # fmt: skip
    return yaml.safe_dump(data)


def test_routes_differing_by_hostname_render_and_expect_their_own_backend() -> None:
    arch = parse(two_hosts())
    routes = [m for m in gateway.render(arch, LAYOUT) if m["kind"] == "HTTPRoute"]
    assert {r["metadata"]["name"]: r["spec"]["hostnames"] for r in routes} == {
        "shop": ["shop.home.arpa"],
        "db-admin": ["db.home.arpa"],
    }
    expected = gateway.route_requests(arch, LAYOUT)
    by_host = {r.host: e for r, e in expected.items() if r.name != "unknown host"}
    assert by_host == {
        "shop.home.arpa": routed_to(f"{LAYOUT.namespace('prod')}/frontend"),
        "db.home.arpa": routed_to(f"{LAYOUT.namespace('prod')}/db"),
    }


def test_the_gateways_service_carries_its_pools_labels() -> None:
    arch = parse((ROOT / "architecture.yaml").read_text())
    [rendered] = [m for m in gateway.render(arch, LAYOUT) if m["kind"] == "Gateway"]
    assert rendered["spec"]["infrastructure"] == {"labels": {"pool": "gateway"}}
    data = yaml.safe_load((ROOT / "architecture.yaml").read_text())
    del data["gateway"]["pool"]
    [bare] = [
        m for m in gateway.render(parse(yaml.safe_dump(data)), LAYOUT) if m["kind"] == "Gateway"
    ]
    assert "infrastructure" not in bare["spec"]


def test_a_wildcard_listener_is_asked_with_a_real_name() -> None:
    data = yaml.safe_load(two_hosts())
    for route in data["gateway"]["routes"]:
        route.pop("hostname")
    data["gateway"]["routes"].pop()
    expected = gateway.route_requests(parse(yaml.safe_dump(data)), LAYOUT)
    assert {r.host for r in expected if r.name != "unknown host"} == {"netconform.home.arpa"}


def test_a_gateway_that_is_not_programmed_says_what_its_controller_said() -> None:
    from netconform.fixtures.gateway import _conditions

    status = {"conditions": [
        {"type": "Accepted", "status": "True", "reason": "Accepted"},
        {"type": "Programmed", "status": "False", "reason": "AddressNotAssigned"},
    ]}  # fmt: skip
    assert _conditions({"status": status}) == {
        "Accepted": "True (Accepted)",
        "Programmed": "False (AddressNotAssigned)",
    }
    assert _conditions(None) == {}
