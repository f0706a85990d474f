"""The FRR router image, built here from Debian's `frr` under the name versions.yaml pins.

Users run the upstream image; this one keeps its contract (the daemons file and
frr.conf mounted under /etc/frr, `vtysh` inside, the same start script path) so
the router fixture runs either unchanged. It carries FRR 8.4, not the pinned
10.x: the checkers read the JSON shapes of both.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from netconform.offline.images import (
    DEFAULT_PATH,
    SOURCE_LABEL,
    debian_rootfs,
    fingerprint,
    image_label,
    import_rootfs,
)
from netconform.versions import router_image

PACKAGES = ("frr", "iproute2", "procps")
START = Path(__file__).with_name("frr") / "docker-start"
START_INSIDE = "/usr/lib/frr/docker-start"


def build(versions: Mapping[str, Mapping[str, str]]) -> str:
    ref = router_image(versions)
    rootfs = debian_rootfs("frr", PACKAGES)
    script = START.read_bytes()
    label = fingerprint(rootfs.name, script)
    if image_label(ref, SOURCE_LABEL) != label:
        inside = rootfs / START_INSIDE.lstrip("/")
        inside.write_bytes(script)
        inside.chmod(0o755)
        changes = [
            f"ENV {DEFAULT_PATH}",
            f"LABEL {SOURCE_LABEL}={label}",
            f'CMD ["{START_INSIDE}"]',
        ]
        import_rootfs(rootfs, ref, changes)
    return ref
