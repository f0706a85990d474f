"""Two "nodes" joined by a WireGuard tunnel (wireguard-go, in userspace: this kernel has no
WireGuard module), a "pod" behind each, and the real netprobe capturing on a node's uplink
while one pod sends marked traffic to the other, as Cilium's WireGuard mode carries it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lab.topology import Host, Lab
from netconform.checks.encryption import WIREGUARD_PORT
from netconform.exec import Completed
from netconform.probe_client import HOST_NETPROBE_ARGV, ProbeSite

NODES = ("198.18.40.1", "198.18.40.2")
PODS = ("198.18.41.2", "198.18.42.2")
ECHO_PORT = 7000
# wireguard-go's control socket is named after the device in one shared directory, so
# each node's tunnel needs a name of its own.
TUNNELS = ("wgnode1", "wgnode2")


@dataclass
class WireguardLab:
    lab: Lab
    nodes: tuple[Host, Host]
    pods: tuple[Host, Host]

    def run(self, host: Host, *argv: str) -> Completed:
        done = host.exec.run(list(argv), timeout=20)
        if done.rc:
            raise RuntimeError(f"{' '.join(argv)} in {host.name}: {done.stderr.strip()}")
        return done

    def capture(self, host: Host, interface: str, marker: str, seconds: float) -> dict[str, Any]:
        hosts = json.dumps({"hosts": [*NODES, *PODS]})
        argv = [*HOST_NETPROBE_ARGV, "capture", "--interface", interface, "--seconds", str(seconds)]
        done = host.exec.run([*argv, "--filter", hosts, "--marker", marker], timeout=seconds + 20)
        return json.loads(done.stdout) if done.stdout.strip() else {"error": done.stderr.strip()}

    def send(self, marker: str, count: int = 10) -> None:
        """Marked UDP datagrams from the first pod to the second one's echo."""
        probes = [
            {"udp": f"{PODS[1]}:{ECHO_PORT}", "payload": f"{marker}-{i}", "timeout": 0.5}
            for i in range(count)
        ]
        ProbeSite(self.pods[0].exec, HOST_NETPROBE_ARGV).probe(probes, 20)

    def observe(
        self, uplink: str = "eth0", sanity: str | None = None, seconds: float = 2.0
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """Capture on the first node's uplink, on the clear path (by default the first pod's
        veth) and on the second pod's veth while marked traffic flows."""
        marker = f"netconform-{secrets.token_hex(6)}"
        node = self.nodes[0]
        clear = sanity or f"to-{self.pods[0].name}"
        with ThreadPoolExecutor(3) as pool:
            on_uplink = pool.submit(self.capture, node, uplink, marker, seconds)
            on_clear = pool.submit(self.capture, node, clear, marker, seconds)
            arrived = pool.submit(
                self.capture, self.nodes[1], f"to-{self.pods[1].name}", marker, seconds
            )
            time.sleep(seconds / 4)
            self.send(marker)
            return on_uplink.result(), on_clear.result(), arrived.result()


def _keys(host: Host) -> tuple[str, str]:
    private = host.exec.run(["wg", "genkey"], timeout=10).stdout.strip()
    public = host.exec.run(["wg", "pubkey"], private + "\n", timeout=10).stdout.strip()
    return private, public


@contextmanager
def wireguard_lab() -> Iterator[WireguardLab]:
    with Lab() as lab:
        nodes = (lab.host("node1", NODES[0]), lab.host("node2", NODES[1]))
        pods = (lab.behind(nodes[0], "pod1", PODS[0]), lab.behind(nodes[1], "pod2", PODS[1]))
        made = WireguardLab(lab, nodes, pods)
        keys = [_keys(node) for node in nodes]
        for index, node in enumerate(nodes):
            other = 1 - index
            tunnel = TUNNELS[index]
            lab.spawn(node, ["wireguard-go", "-f", tunnel])
            _wait_for_device(node, tunnel)
            node.exec.run(
                ["wg", "set", tunnel, "listen-port", str(WIREGUARD_PORT),
                 "private-key", "/dev/stdin",
                 "peer", keys[other][1], "endpoint", f"{NODES[other]}:{WIREGUARD_PORT}",
                 "allowed-ips", f"{PODS[other]}/32"],
                keys[index][0] + "\n",
                timeout=10,
            )  # fmt: skip
            made.run(node, "ip", "link", "set", tunnel, "up")
            made.run(node, "ip", "route", "add", f"{PODS[other]}/32", "dev", tunnel)
        lab.spawn(pods[1], [*HOST_NETPROBE_ARGV, "serve", "--udp", str(ECHO_PORT)])
        yield made


def _wait_for_device(node: Host, tunnel: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while node.exec.run(["ip", "link", "show", tunnel], timeout=5).rc:
        if time.monotonic() > deadline:
            raise RuntimeError(f"wireguard-go made no {tunnel} in {node.name}")
        time.sleep(0.1)
