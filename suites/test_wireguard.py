"""Transparent encryption with WireGuard, proven by packets: every agent encrypts with a peer
per other node, and marked pod-to-pod traffic between nodes crosses the uplink only inside
WireGuard between those two nodes, while captures on the sending and the receiving pod's
veths see it in clear."""

from __future__ import annotations

import pytest
from netconform.fixtures.encryption import Encryption

pytestmark = [pytest.mark.requires("encryption"), pytest.mark.xdist_group("cluster-policy")]


def test_every_agent_encrypts_with_every_other_node(encryption: Encryption) -> None:
    verdict = encryption.status()
    assert verdict.ok, verdict


def test_cross_node_traffic_is_only_wireguard_on_the_wire(
    encryption: Encryption, without_policies
) -> None:
    verdict = encryption.packets()
    assert verdict.ok, verdict
