"""The spec's external router as real FRR, peering with GoBGP speakers standing in for nodes.

Cilium's BGP control plane is built on GoBGP, so each "node" namespace runs
`gobgpd` announcing that node's pod CIDR and the LoadBalancer IPs; the
router namespace runs FRR's `bgpd` with the frr.conf the suite renders from
the spec (`netconform.frr`). Checks read FRR's own JSON through `vtysh`,
exactly as they will on the router container next to kind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.topology import FRR_RUN, Host, Lab
from netconform.checks.bgp_rib import Path as RibPath
from netconform.checks.bgp_rib import Session, parse_rib, parse_sessions
from netconform.frr import render_frr_conf
from netconform.spec import Bgp, Peer
from netconform.verdict import Verdict

BGPD = "/usr/lib/frr/bgpd"
GOBGP_API = "127.0.0.1:50051"


@dataclass
class Node:
    host: Host
    pod_cidr: str
    speaker: subprocess.Popen[str] | None = None

    def pause(self) -> None:
        """The node goes silent as a paused or crashed node does: no keepalive, no close."""
        assert self.speaker is not None
        os.kill(self.speaker.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.speaker is not None
        os.kill(self.speaker.pid, signal.SIGCONT)


@dataclass
class BgpLab:
    lab: Lab
    router: Host
    pathspace: str
    nodes: list[Node]
    lb_ips: list[str]
    announced: dict[str, set[str]] = field(default_factory=dict)

    @property
    def node_addresses(self) -> list[str]:
        return [node.host.address for node in self.nodes]

    def vtysh(self, command: str) -> dict[str, Any]:
        done = self.router.exec.run(["vtysh", "-N", self.pathspace, "-c", command], timeout=20)
        if done.rc:
            raise RuntimeError(f"vtysh {command!r}: {done.stderr.strip()}")
        return json.loads(done.stdout)

    def sessions(self) -> dict[str, Session]:
        return parse_sessions(self.vtysh("show bgp summary json"))

    def rib(self) -> dict[str, list[RibPath]]:
        return parse_rib(self.vtysh("show bgp ipv4 unicast json"))

    def gobgp(self, node: Node, *args: str) -> None:
        host, port = GOBGP_API.split(":")
        done = node.host.exec.run(["gobgp", "-u", host, "-p", port, *args], timeout=20)
        if done.rc:
            raise RuntimeError(f"gobgp {' '.join(args)} on {node.host.name}: {done.stderr}")

    def announce(self, node: Node, prefix: str, next_hop: str | None = None) -> None:
        hop = ["nexthop", next_hop] if next_hop else []
        self.gobgp(node, "global", "rib", "add", prefix, "-a", "ipv4", *hop)

    def withdraw(self, node: Node, prefix: str) -> None:
        self.gobgp(node, "global", "rib", "del", prefix, "-a", "ipv4")

    def healthy_announcements(self) -> dict[str, set[str]]:
        """Each node its own pod CIDR; every node every LoadBalancer IP."""
        wanted = {node.pod_cidr: {node.host.address} for node in self.nodes}
        wanted.update({ip: set(self.node_addresses) for ip in self.lb_ips})
        return wanted

    def until(self, judge: Callable[[], Verdict], done: Callable[[Verdict], bool]) -> Verdict:
        """Re-judge until `done` (routes and sessions converge in seconds), bounded."""
        deadline = time.monotonic() + 30
        verdict = judge()
        while not done(verdict) and time.monotonic() < deadline:
            time.sleep(0.5)
            verdict = judge()
        return verdict


def _gobgp_config(node: Host, bgp: Bgp, router: Peer, local_asn: int) -> str:
    """GoBGP (Cilium's BGP library) as a node, with the spec's timers as Cilium sets them."""
    timers = (
        f"    hold-time = {bgp.timers.hold}\n    keepalive-interval = {bgp.timers.keepalive}\n"
        if bgp.timers
        else ""
    )
    return (
        f'[global.config]\n  as = {local_asn}\n  router-id = "{node.address}"\n'
        "  port = -1\n"
        f'[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "{router.address}"\n'
        f"    peer-as = {router.peer_asn}\n"
        f"  [neighbors.timers.config]\n    connect-retry = 1\n{timers}"
    )


@contextmanager
def bgp_lab(
    bgp: Bgp,
    pod_cidrs: Sequence[str],
    lb_ips: Sequence[str],
    router_neighbors: int | None = None,
    node_asns: Sequence[int] | None = None,
) -> Iterator[BgpLab]:
    """One node per pod CIDR, peering with the spec's first peer as FRR. `router_neighbors`
    configures only the first N nodes on the router; `node_asns` overrides each node's ASN."""
    router_peer = bgp.peers[0]
    with tempfile.TemporaryDirectory(prefix="netconform-bgp-") as tmp, Lab() as lab:
        workdir = Path(tmp)
        workdir.chmod(0o755)
        # FRR's per-instance directory is named after the lab run, so a sweep finds it.
        pathspace = lab.run
        run_dir = FRR_RUN / pathspace
        try:
            router = lab.host("router", str(router_peer.address))
            nodes = [
                Node(lab.host(f"node{i + 1}", f"198.18.0.{11 + i}"), cidr)
                for i, cidr in enumerate(pod_cidrs)
            ]
            configured = [n.host.address for n in nodes][:router_neighbors]
            conf = workdir / "frr.conf"
            conf.write_text(render_frr_conf(bgp, router_peer, configured, connect_retry=1))
            conf.chmod(0o644)
            run_dir.mkdir(parents=True, exist_ok=True)
            shutil.chown(run_dir, "frr", "frr")
            lab.spawn(
                router,
                [BGPD, "-f", str(conf), "-N", pathspace, "-Z", "-i", str(run_dir / "bgpd.pid")],
            )
            for i, node in enumerate(nodes):
                asn = node_asns[i] if node_asns else bgp.local_asn
                toml = workdir / f"{node.host.name}.toml"
                toml.write_text(_gobgp_config(node.host, bgp, router_peer, asn))
                node.speaker = lab.spawn(
                    node.host,
                    ["gobgpd", "-f", str(toml), "--api-hosts", GOBGP_API, "-l", "warn"],
                )
            made = BgpLab(lab, router, pathspace, nodes, list(lb_ips))
            _wait_for_apis(made)
            yield made
        finally:
            lab.close()
            shutil.rmtree(run_dir, ignore_errors=True)


def _wait_for_apis(made: BgpLab, timeout: float = 20) -> None:
    """Until FRR answers vtysh and every gobgpd its API."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            made.sessions()
            for node in made.nodes:
                made.gobgp(node, "global")
            return
        except (RuntimeError, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
