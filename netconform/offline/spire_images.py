"""SPIRE's images for mutual authentication, built here under the names Cilium's chart
renders (`useDigest=false`): the server and agent as upstream's Dockerfile lays them out
(static binaries under /opt/spire/bin on an empty image with CA certificates, the server as
uid 1000, the agent as root), and the init image, named busybox by the chart: a minimal
Debian with procps and OpenBSD's nc, since Debian's static busybox lacks pgrep and `nc -z`
and its shell runs its own applets before any stand-in on PATH; bash is its sh.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netconform import cluster
from netconform.offline import gobuild
from netconform.offline.images import (
    CA_BUNDLE,
    DEFAULT_PATH,
    debian_rootfs,
    docker_build,
    fingerprint,
    image_exists,
    import_files,
    import_rootfs,
)
from netconform.versions import version

SPIRE_UID = 1000
NC_WRAPPER = Path(__file__).with_name("spire") / "nc"
INIT_PACKAGES = ("procps", "netcat-openbsd")
# Where upstream's image expects to read, write and create at run time.
SERVER_DIRS = ("/etc/spire/server", "/run/spire/server/private", "/run/spire/data",
               "/tmp/spire-server/private", "/var/lib/spire/server")  # fmt: skip
AGENT_DIRS = ("/etc/spire/agent", "/run/spire/agent/public", "/tmp/spire-agent/public",
              "/var/lib/spire/agent")  # fmt: skip


@dataclass(frozen=True)
class SpireImages:
    server: str
    agent: str
    init: str

    def all(self) -> list[str]:
        return [self.server, self.agent, self.init]


def _reference(image: Mapping[str, str]) -> str:
    return f"{image['repository']}:{image['tag']}"


def image_names(chart_values: Mapping[str, Any]) -> SpireImages:
    """The references the pinned chart renders with useDigest=false."""
    install = chart_values["authentication"]["mutual"]["spire"]["install"]
    return SpireImages(
        _reference(install["server"]["image"]),
        _reference(install["agent"]["image"]),
        _reference(install["initImage"]),
    )


def chart_values(chart: Path) -> dict[str, Any]:
    with tarfile.open(chart) as archive:
        member = archive.extractfile("cilium/values.yaml")
        if member is None:
            raise cluster.LocalImagesMissing(f"{chart} has no cilium/values.yaml")
        return yaml.safe_load(member)


def _spire_image(ref: str, binary: Path, dirs: tuple[str, ...], owner: int) -> str:
    name = binary.name.rsplit("-v", 1)[0]
    files = {f"/opt/spire/bin/{name}": binary, str(CA_BUNDLE): CA_BUNDLE}
    changes = ["WORKDIR /opt/spire", f"USER {owner}:{owner}"]
    import_files(ref, files, [f"/opt/spire/bin/{name}", "run"], ("/tmp", *dirs), owner, changes)
    return ref


def _init_image(ref: str) -> str:
    """Debian with what the chart's init scripts call (sh, pgrep, nc, date, grep, sleep), and
    a wrapper giving OpenBSD's nc busybox's HOST:PORT form."""
    rootfs = debian_rootfs("spire-init", INIT_PACKAGES)
    base = f"netconform/spire-init-base:{fingerprint(rootfs.name)}"
    if not image_exists(base):
        import_rootfs(rootfs, base, [f"ENV {DEFAULT_PATH}"])
    dockerfile = "\n".join(
        [
            f"FROM {base}",
            # The scripts are written for busybox's ash (`&>`, aliases): bash as sh runs them.
            'RUN ["ln", "-sf", "bash", "/bin/sh"]',
            "COPY nc /usr/local/bin/nc",
            'CMD ["sh"]',
        ]
    )
    docker_build(ref, dockerfile, {"nc": NC_WRAPPER}, (base, NC_WRAPPER.read_text()))
    return ref


def build(
    versions: Mapping[str, Mapping[str, str]], log: Callable[[str], None] = print
) -> SpireImages:
    names = image_names(chart_values(cluster.local_chart(versions)))
    pinned = version(versions, "spire").removeprefix("v")
    if not names.server.endswith(f":{pinned}"):
        raise cluster.LocalImagesMissing(
            f"the chart installs {names.server} but versions.yaml pins spire {pinned}: "
            "pin the release the chart names"
        )
    binaries = gobuild.ensure(["spire-server", "spire-agent"], log=log)
    _spire_image(names.server, binaries["spire-server"], SERVER_DIRS, SPIRE_UID)
    _spire_image(names.agent, binaries["spire-agent"], AGENT_DIRS, 0)
    _init_image(names.init)
    return names
