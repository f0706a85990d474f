"""The spec's BGP peer as an FRR container on kind's network, and an outside client behind it.

The router runs the frr.conf the lab runs (`netconform.frr`), peering with
every node's InternalIP; zebra installs what it learns into the container's
kernel. The outside client is netprobe in a second container sharing the
router's network namespace, so the only way it has to a LoadBalancer IP is a
route the nodes announced; what no node announces is blackholed there, never
sent on toward the host's default route.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netconform.checks.bgp_rib import Path as RibPath
from netconform.checks.bgp_rib import (
    Session,
    describe_rib,
    describe_sessions,
    parse_rib,
    parse_sessions,
)
from netconform.docker_cli import docker
from netconform.exec import DockerExec
from netconform.external_targets import address_of, placed, remove, run_labels
from netconform.frr import BLACKHOLE, DAEMONS, render_frr_conf
from netconform.spec import Architecture, Peer

if TYPE_CHECKING:
    from netconform.lan import Lan
from netconform.probe_client import NETPROBE_FILE, ProbeSite, mounted

VTYSH_CONF = "service integrated-vtysh-config\n"
# zebra programs routes; bgpd binds port 179.
CAPABILITIES = ("NET_ADMIN", "NET_RAW", "NET_BIND_SERVICE", "SYS_ADMIN")


class RouterError(RuntimeError):
    """The router did not come up or did not answer; the message carries its output."""


@dataclass(frozen=True)
class Router:
    peer: Peer
    container: str
    address: str
    client: str
    config: str
    files: Path

    def vtysh(self, command: str) -> dict[str, Any]:
        done = DockerExec(self.container).run(["vtysh", "-c", command], timeout=20)
        if done.rc:
            raise RouterError(f"vtysh -c {command!r} on {self.container}: {done.stderr.strip()}")
        try:
            return json.loads(done.stdout)
        except ValueError:
            raise RouterError(f"vtysh -c {command!r}: not JSON: {done.stdout[:300]}") from None

    def sessions(self) -> dict[str, Session]:
        return parse_sessions(self.vtysh("show bgp summary json"))

    def rib(self) -> dict[str, list[RibPath]]:
        return parse_rib(self.vtysh("show bgp ipv4 unicast json"))

    def outside(self) -> ProbeSite:
        """Where the outside client's netprobe runs."""
        return ProbeSite(DockerExec(self.client))

    def tables(self) -> str:
        """FRR's neighbour and route tables as evidence, or why they could not be read."""
        try:
            return f"{describe_sessions(self.sessions())}\n{describe_rib(self.rib())}"
        except RouterError as error:
            return f"FRR tables unavailable: {error}"


def static_routes(arch: Architecture) -> dict[str, str]:
    """Every pool blackholed under the more specific routes the nodes announce."""
    return {str(pool.cidr): BLACKHOLE for pool in arch.lb_ipam.pools}


def start(
    arch: Architecture,
    run: str,
    image: str,
    probe_image: str,
    neighbors: Sequence[str],
    netprobe: Path = NETPROBE_FILE,
    lan: Lan | None = None,
) -> list[Router]:
    """One router per declared peer, each with its outside client: at the peer's declared
    address on the LAN beside kind where there is one, else on kind's network. Removed again
    if any fails to start."""
    assert arch.bgp is not None
    routers: list[Router] = []
    try:
        for peer in arch.bgp.peers:
            started = _start_one(arch, peer, run, image, probe_image, neighbors, netprobe, lan)
            routers.append(started)
    except (RuntimeError, OSError):
        stop(routers)
        raise
    return routers


def _start_one(
    arch: Architecture,
    peer: Peer,
    run: str,
    image: str,
    probe_image: str,
    neighbors: Sequence[str],
    netprobe: Path,
    lan: Lan | None,
) -> Router:
    assert arch.bgp is not None
    container = f"netconform-{run}-{peer.name}"
    client = f"{container}-outside"
    config = render_frr_conf(arch.bgp, peer, neighbors, static_routes=static_routes(arch))
    files = Path(tempfile.mkdtemp(prefix="netconform-frr-"))
    mounts = []
    for name, content in (("frr.conf", config), ("daemons", DAEMONS), ("vtysh.conf", VTYSH_CONF)):
        (files / name).write_text(content)
        mounts += ["-v", f"{files / name}:/etc/frr/{name}"]
    docker(
        *("run", "-d", "--rm", "--name", container, *placed(lan, str(peer.address))),
        *run_labels(run),
        *(arg for cap in CAPABILITIES for arg in ("--cap-add", cap)),
        *mounts,
        image,
    )
    try:
        address = address_of(container, lan, str(peer.address))
        docker(
            *("run", "-d", "--rm", "--name", client, "--network", f"container:{container}"),
            *run_labels(run),
            *mounted(netprobe),
            *(probe_image, "sleep", "infinity"),
        )
        router = Router(peer, container, address, client, config, files)
        _wait_until_answering(router)
    except RuntimeError:
        remove(client, container)
        shutil.rmtree(files, ignore_errors=True)
        raise
    return router


def _wait_until_answering(router: Router, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            router.sessions()
            return
        except RouterError as error:
            if time.monotonic() > deadline:
                logs = docker("logs", "--tail", "20", router.container)
                raise RouterError(
                    f"{router.container} not answering after {timeout:g}s: {error}\n{logs}"
                ) from None
            time.sleep(0.5)


def stop(routers: Sequence[Router]) -> None:
    remove(*(name for router in routers for name in (router.client, router.container)))
    for router in routers:
        shutil.rmtree(router.files, ignore_errors=True)
