"""Cilium's images and the probe image, built here, under the names the chart and the
suites use, so that installing them differs from the user path only by `useDigest=false`.

The agent image is a Debian root filesystem with clang 19 (Cilium compiles its
datapath at run time and is tested with LLVM 19; Debian 12's default clang is
too old), the agent's binaries built from the Cilium module, the BPF sources
from that same module, and the three scripts the chart runs in its init
containers and preStop hook, written for this project. Operator and relay are
a binary and CA certificates, like upstream's. The layers are built with
`docker build` from a context assembled here; nothing is fetched from a registry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from netconform import versions as pinned
from netconform.offline import gobuild
from netconform.offline.images import (
    CA_BUNDLE,
    DEFAULT_PATH,
    SOURCE_LABEL,
    debian_rootfs,
    docker_build,
    file_source,
    fingerprint,
    image_exists,
    image_label,
    import_rootfs,
    run,
)

SCRIPTS = Path(__file__).with_name("cilium")
RUNTIME_PACKAGES = (
    "clang-19", "iproute2", "iptables", "ipset", "kmod", "ca-certificates", "bash",
    "util-linux", "mount", "containernetworking-plugins", "procps",
)  # fmt: skip
PROBE_PACKAGES = ("python3", "ca-certificates")
AGENT_BINARIES = (
    "cilium-agent", "cilium-dbg", "cilium-health", "cilium-health-responder",
    "cilium-mount", "cilium-sysctlfix", "hubble",
)  # fmt: skip
# Non-root, as upstream runs the relay.
NONROOT = "65532:65532"


@dataclass(frozen=True)
class ImageNames:
    """The references the chart renders with `useDigest=false`, and the probe image."""

    agent: str
    operator: str
    relay: str
    probe: str

    def all(self) -> list[str]:
        return [self.agent, self.operator, self.relay, self.probe]


def image_names(versions: Mapping[str, Mapping[str, str]]) -> ImageNames:
    tag = pinned.version(versions, "cilium")
    return ImageNames(
        agent=f"quay.io/cilium/cilium:{tag}",
        operator=f"quay.io/cilium/operator-generic:{tag}",
        relay=f"quay.io/cilium/hubble-relay:{tag}",
        probe=pinned.probe_image(versions),
    )


def runtime_image() -> str:
    """Debian with clang 19 and the tools the agent calls (ip, tc, iptables, ipset, nsenter)."""
    rootfs = debian_rootfs("cilium-runtime", RUNTIME_PACKAGES)
    ref = f"netconform/cilium-runtime:{fingerprint(rootfs.name)}"
    if not image_exists(ref):
        clang = rootfs / "usr/bin/clang"
        clang.unlink(missing_ok=True)
        # The agent runs `clang`; Debian names it clang-19.
        clang.symlink_to("clang-19")
        import_rootfs(rootfs, ref, [f"ENV {DEFAULT_PATH}"])
    return ref


def build_probe_image(ref: str) -> str:
    """python3 on Debian for the probe pods and the outside containers: the agent needs
    only a Python >= 3.9, and this is the one Debian ships."""
    rootfs = debian_rootfs("probe", PROBE_PACKAGES)
    if image_label(ref, SOURCE_LABEL) != rootfs.name:
        changes = [f"ENV {DEFAULT_PATH}", f"LABEL {SOURCE_LABEL}={rootfs.name}"]
        import_rootfs(rootfs, ref, changes)
    return ref


def agent_image(ref: str, runtime: str, binaries: Mapping[str, Path], bpf: Path) -> str:
    dockerfile = "\n".join(
        [
            f"FROM {runtime}",
            "COPY bin/ /usr/bin/",
            "COPY cilium-cni /opt/cni/bin/cilium-cni",
            # install-plugin.sh copies the loopback plugin from here, as upstream's does.
            "RUN mkdir -p /cni && cp /usr/lib/cni/loopback /cni/loopback",
            "COPY bpf/ /var/lib/cilium/bpf/",
            "COPY scripts/ /",
            "ENV INITSYSTEM=SYSTEMD HUBBLE_SERVER=unix:///var/run/cilium/hubble.sock",
            "WORKDIR /home/cilium",
            'CMD ["/usr/bin/cilium-dbg"]',
        ]
    )
    context = {f"bin/{name}": binaries[name] for name in AGENT_BINARIES}
    context.update({"cilium-cni": binaries["cilium-cni"], "bpf": bpf, "scripts": SCRIPTS})
    files = [binaries[n] for n in (*AGENT_BINARIES, "cilium-cni")]
    scripts = [p.read_bytes() for p in sorted(SCRIPTS.iterdir())]
    # The BPF sources sit in the module's versioned directory: its path names them.
    docker_build(ref, dockerfile, context, (runtime, file_source(*files), scripts, bpf))
    return ref


def static_image(ref: str, binary: Path, inside: str, config: list[str]) -> str:
    """A binary and CA certificates on an empty image, as upstream's operator and relay."""
    dockerfile = "\n".join(
        [
            "FROM scratch",
            f"COPY binary {inside}",
            "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
            *config,
        ]
    )
    context = {"binary": binary, "ca-certificates.crt": CA_BUNDLE}
    docker_build(ref, dockerfile, context, file_source(binary))
    return ref


def build(
    versions: Mapping[str, Mapping[str, str]], log: Callable[[str], None] = print
) -> ImageNames:
    names = image_names(versions)
    binaries = gobuild.ensure(
        [*AGENT_BINARIES, "cilium-cni", "cilium-operator-generic", "hubble-relay"],
        log=log,
        pins={"cilium": pinned.version(versions, "cilium")},
    )
    module = json.loads(
        run(["go", "mod", "download", "-json", f"github.com/cilium/cilium@"
             f"{pinned.version(versions, 'cilium')}"])
    )  # fmt: skip
    agent_image(names.agent, runtime_image(), binaries, Path(module["Dir"]) / "bpf")
    static_image(
        names.operator,
        binaries["cilium-operator-generic"],
        "/usr/bin/cilium-operator-generic",
        # gops (the operator's debugging agent) needs a writable directory.
        ["ENV GOPS_CONFIG_DIR=/tmp/gops", 'ENTRYPOINT ["/usr/bin/cilium-operator-generic"]'],
    )
    static_image(
        names.relay,
        binaries["hubble-relay"],
        "/usr/bin/hubble-relay",
        [
            "ENV GOPS_CONFIG_DIR=/tmp",
            "WORKDIR /tmp",
            f"USER {NONROOT}",
            'ENTRYPOINT ["/usr/bin/hubble-relay"]',
            'CMD ["serve"]',
        ],
    )
    build_probe_image(names.probe)
    return names
