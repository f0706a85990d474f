"""`make local-images`: every image a kind cluster with Cilium needs, built on this machine.

kubeadm's images and the node image (kind's node-image build by hand), Cilium's
agent, operator and relay, SPIRE's server, agent and init image, cert-manager's controller,
webhook and cainjector (and the chart its module carries), and the probe image,
all preloaded into the node image so that no cluster ever pulls; and the FRR router and
CoreDNS server images, which run next to the nodes, not in them. Each step is cached and
prints its time.

    python -m netconform.offline.local_images
    python -m netconform.offline.local_images --cilium v1.20.2   # only Cilium's, at a candidate
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

from netconform import cluster
from netconform.offline import (
    cert_manager_images,
    cilium_images,
    gobuild,
    images,
    router_image,
    spire_images,
)
from netconform.versions import dns_server_image, load_versions, with_version


@dataclass(frozen=True)
class Built:
    node: str
    preloaded: list[str]
    beside: list[str]  # images of the containers next to the nodes


def build(log: Callable[[str], None] = print) -> Built:
    versions = gobuild.component_versions()
    kubernetes = versions["kubernetes"]
    with images.step("node binaries"):
        binaries = gobuild.ensure([*images.NODE_BINARIES, "crictl", "kind", "helm"], log=log)
    with images.step("kubeadm's images"):
        preloaded = images.component_images(binaries["kubeadm"], binaries, kubernetes, log)
    pause = next(i for i in preloaded if "/pause:" in i)
    with images.step("Cilium's images and the probe image"):
        preloaded += cilium_images.build(load_versions(), log).all()
    with images.step("SPIRE's images (mutual authentication)"):
        preloaded += spire_images.build(load_versions(), log).all()
    with images.step("cert-manager's images and chart (the Gateway's certificates)"):
        preloaded += cert_manager_images.build(load_versions(), log)
        cert_manager_images.chart(load_versions())
    with images.step("node base image (debootstrap, first time only)"):
        base = images.base_image(pause, binaries["crictl"])
    with images.step("node image"):
        node = images.node_image(base, binaries, preloaded, kubernetes)
    images.NODE_IMAGE_FILE.write_text(node)
    with images.step("FRR router and DNS server images"):
        router = router_image.build(load_versions())
        dns_server = images.coredns_image(dns_server_image(load_versions()), log)
    return Built(node, preloaded, [router, dns_server])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m netconform.offline.local_images",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--cilium", metavar="VERSION", help="build only Cilium's images, at this version"
    )
    args = parser.parse_args(argv)
    try:
        if args.cilium:
            versions = with_version(load_versions(), "cilium", args.cilium)
            print("built: " + ", ".join(cilium_images.build(versions).all()))
            return 0
        built = build()
    except (images.ImageError, gobuild.BuildError, cluster.LocalImagesMissing) as error:
        print(f"local-images: {error}", file=sys.stderr)
        return 2
    print(f"node image: {built.node}")
    print("preloaded: " + ", ".join(built.preloaded))
    print("next to the nodes: " + ", ".join(built.beside))
    return 0


if __name__ == "__main__":
    sys.exit(main())
