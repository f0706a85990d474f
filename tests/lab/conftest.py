"""Lab tests need root and real daemons; in CI their absence is an error, not a skip."""

from __future__ import annotations

import os
import shutil

import pytest
from netconform.fixtures.prerequisites import skip_or_stop

from lab.topology import sweep_stale

TOOLS = {
    "ip": "iproute2",
    "nft": "nftables",
    "dnsmasq": "dnsmasq-base",
    "openssl": "openssl",
    "vtysh": "frr",
    "gobgpd": "gobgpd",
    "wireguard-go": "wireguard-go",
    "wg": "wireguard-tools",
}


def lab_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "lab tests need root (network namespaces, nftables): run them as root or in CI"
    missing = [pkg for tool, pkg in TOOLS.items() if not shutil.which(tool)]
    if missing:
        return f"lab tests need Debian packages: apt-get install {' '.join(missing)}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = lab_unavailable()
    lab_items = [item for item in items if item.get_closest_marker("lab")]
    if not reason or not lab_items:
        return
    skip_or_stop(lab_items, "the lab tests", reason)


@pytest.fixture(scope="session", autouse=True)
def _sweep_labs_of_dead_runs() -> None:
    if lab_unavailable() is None:
        sweep_stale()
