"""The kind cluster with Cilium: configuration rendered from the spec, and its bring-up.

Everything a run will do is first a plan of plain commands and files, so
`netconform cluster up --dry-run` can print exactly what a real run executes.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import ipaddress
import os
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from netconform import features
from netconform.offline import cache
from netconform.sources.helm import CiliumInstall, merge
from netconform.sources.overrides import KindShape, Override, for_kind
from netconform.spec import Architecture
from netconform.timeouts import DEFAULT as DEFAULT_TIMEOUTS
from netconform.timeouts import Timeouts
from netconform.versions import load_versions, tool, version, with_version

if TYPE_CHECKING:
    from pytest_kind import KindCluster

    from netconform.lan import Lan
    from netconform.sources import UserConfig

# The checkout when running from one (an installed copy has none of these beside it).
ROOT = Path(__file__).resolve().parents[1]
CLUSTER_DIR = Path(str(importlib.resources.files("netconform.cluster_files")))
# Where `make local-images` leaves kind, kubectl and the node image (no registry access).
LOCAL_NODE_IMAGE = cache.IMAGES_DIR / "node-image"
GATEWAY_API_CRDS = "https://github.com/kubernetes-sigs/gateway-api/releases/download/{version}/standard-install.yaml"
# Released charts and upstream CRDs for machines without registry access, laid out beside
# the checkout (where CI puts them) unless NETCONFORM_CHARTS and NETCONFORM_CRDS say otherwise
# (an installed copy needs them for --images=local).
SHARED = ROOT.parent / "shared"


class PlainDumper(yaml.SafeDumper):
    """YAML without anchors and aliases (&id001): what the dry run prints is read by people and
    pasted."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def plain_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=PlainDumper, sort_keys=False)


def charts_dir() -> Path:
    return Path(os.environ.get("NETCONFORM_CHARTS") or SHARED / "charts")


def crds_dir() -> Path:
    return Path(os.environ.get("NETCONFORM_CRDS") or SHARED / "crds")


class LocalImagesMissing(RuntimeError):
    """Something the local-images path needs is not here; the message says what to do."""


def local_chart(versions: Mapping[str, Mapping[str, str]]) -> Path:
    """Cilium's released chart file for the pinned version, checked against its digest."""
    pinned = version(versions, "cilium").removeprefix("v")
    chart = charts_dir() / f"cilium-{pinned}.tgz"
    if not chart.is_file():
        present = sorted(p.name for p in charts_dir().glob("cilium-*.tgz"))
        raise LocalImagesMissing(
            f"no chart file for the pinned Cilium {pinned}: {chart} is missing "
            f"(present: {', '.join(present) or 'none'}); pin a version whose released chart is "
            "there, or set NETCONFORM_CHARTS"
        )
    want = versions["cilium"].get("chart_sha256", "")
    got = hashlib.sha256(chart.read_bytes()).hexdigest()
    if got != want:
        raise LocalImagesMissing(
            f"{chart.name} has sha256 {got}, versions.yaml cilium.chart_sha256 says "
            f"{want or 'nothing'}: use the released file (its digest is in the chart "
            "repository's index.yaml)"
        )
    return chart


def project_values(
    arch: Architecture, local: bool = False, cluster_dir: Path = CLUSTER_DIR
) -> dict[str, Any]:
    """The project's own values for this architecture: base.yaml and the feature overlays."""
    values = yaml.safe_load((cluster_dir / "values" / "base.yaml").read_text())
    for name in features.overlays(arch, local):
        values = merge(
            values, yaml.safe_load((cluster_dir / "values" / f"{name}.yaml").read_text())
        )
    # kube-proxy replacement reaches the API server directly, not through a Service.
    values["k8sServiceHost"] = f"{arch.cluster.name}-control-plane"
    if arch.cluster.node_network is not None:
        # Detection takes only NICs with a default route: the LAN's would be left out.
        values["devices"] = "eth+"
    return values


def local_overlay_why(key: str) -> str:
    """Why the local-images overlay changes a user's value (cluster/values/local-images.yaml)."""
    if ".image." in f".{key}" or "initImage" in key:
        return "images are built here under the chart's names and preloaded in the node image"
    if key.startswith("envoy."):
        return "no Envoy can be built here"
    if key.startswith("securityContext.capabilities"):
        return "containers in these kind nodes cannot get CAP_SYS_RESOURCE"
    if "dataStorage" in key:
        return "the node image has no storage provisioner"
    return "the local-images path (cluster/values/local-images.yaml)"


@dataclass(frozen=True)
class CiliumValues:
    """The values a run installs Cilium with, where they came from, and each key changed."""

    values: dict[str, Any]
    origins: tuple[str, ...]
    overrides: tuple[Override, ...] = ()

    def report(self) -> str:
        lines = [f"Cilium values from {', '.join(self.origins)}"]
        if self.overrides:
            lines[0] += f", {len(self.overrides)} changed for kind (key: theirs -> ours):"
            lines += [f"  {override}" for override in self.overrides]
        return "\n".join(lines)


def helm_values(
    arch: Architecture,
    local: bool = False,
    cilium: CiliumInstall | None = None,
    cluster_dir: Path = CLUSTER_DIR,
) -> CiliumValues:
    """The user's values (`cilium`, from the spec's sources) with only what kind needs changed;
    without them the project's own."""
    if cilium is None:
        overlays = features.overlays(arch, local)
        origins = ["cluster/values/base.yaml", *(f"cluster/values/{n}.yaml" for n in overlays)]
        return CiliumValues(project_values(arch, local, cluster_dir), tuple(origins))
    overlay = (
        yaml.safe_load((cluster_dir / "values" / "local-images.yaml").read_text())
        if local
        else None
    )
    networking = kind_config(arch, local, cluster_dir)["networking"]
    shape = KindShape(
        arch.cluster.name,
        ipaddress.ip_network(networking["podSubnet"]),
        ipaddress.ip_network(networking["serviceSubnet"]),
        lan=arch.cluster.node_network is not None,
    )
    values, made = for_kind(cilium.values, shape, overlay, local_overlay_why)
    return CiliumValues(values, cilium.origins, tuple(made))


def kind_config(
    arch: Architecture, local: bool = False, cluster_dir: Path = CLUSTER_DIR
) -> dict[str, Any]:
    config = yaml.safe_load((cluster_dir / "kind-config.yaml").read_text())
    config["networking"].update(
        podSubnet=str(arch.cluster.pod_cidr), serviceSubnet=str(arch.cluster.service_cidr)
    )
    if local:
        config = merge(config, yaml.safe_load((cluster_dir / "kind-local.yaml").read_text()))
    config["name"] = arch.cluster.name
    config["nodes"] = [{"role": "control-plane"}] * arch.cluster.control_planes + [
        {"role": "worker"}
    ] * arch.cluster.workers
    return config


def kind_node_names(arch: Architecture) -> list[str]:
    """The node names kind gives the spec's cluster."""
    name = arch.cluster.name
    control = [
        f"{name}-control-plane" + (str(i + 1) if i else "")
        for i in range(arch.cluster.control_planes)
    ]
    workers = [f"{name}-worker" + (str(i + 1) if i else "") for i in range(arch.cluster.workers)]
    return control + workers


@dataclass(frozen=True)
class Step:
    """One command of a bring-up, with the files it reads written beside it."""

    what: str
    argv: tuple[str, ...]
    files: Mapping[str, str] = field(default_factory=dict)
    # Run this instead of argv (which stays what --dry-run prints): pytest-kind drives kind.
    action: Callable[[], None] | None = None


# What a dry run shows in place of a node image `make local-images` has not built yet.
NODE_IMAGE_NOT_BUILT = "netconform/kind-node:NOT-BUILT-YET"
LOCAL_IMAGES_BUILD = (
    "make local-images would build: kind, kubeadm, kubelet, kubectl, crictl and Helm; "
    "kubeadm's images; Cilium's agent, operator and relay images and the probe image; "
    "the node image with all of them preloaded"
)


def local_node_image(required: bool = True) -> str:
    if LOCAL_NODE_IMAGE.exists():
        return LOCAL_NODE_IMAGE.read_text().strip()
    if required:
        raise LocalImagesMissing("local images not built: run make docker-up local-images")
    return NODE_IMAGE_NOT_BUILT


def up_plan(
    arch: Architecture,
    versions: Mapping[str, Mapping[str, str]],
    workdir: Path,
    local: bool = False,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    planning_only: bool = False,
    user: UserConfig | None = None,
) -> list[Step]:
    """The bring-up, one plan for both paths. `local` (no registry access): the node image
    and tools `make local-images` built, Cilium's images preloaded in it, the released chart
    and the Gateway API CRDs from files, and the local-images values overlay. `planning_only`
    (a dry run) shows the plan even before those images are built. `user`: the user's own
    files (the spec's sources): their Cilium values and version, changed only where kind needs
    it, and the node labels their BGP and L2 policies select."""
    user_cilium = user.cilium if user else None
    if user_cilium and user_cilium.version:
        pinned = version(versions, "cilium")
        if local and user_cilium.version != pinned:
            raise LocalImagesMissing(
                f"{user_cilium.origins[0]} pins Cilium {user_cilium.version}, but the node image "
                f"holds the images of {pinned} (cluster/versions.yaml): try the new version with "
                f"`netconform upgrade-check --to {user_cilium.version} --images=local`, or run "
                "where images can be pulled"
            )
        versions = with_version(versions, "cilium", user_cilium.version)
    name = arch.cluster.name
    kubeconfig = workdir / "kubeconfig"
    config_file, values_file = workdir / "kind-config.yaml", workdir / "cilium-values.yaml"
    cilium = version(versions, "cilium").removeprefix("v")
    kubectl = (tool("kubectl", version(versions, "kubernetes")), f"--kubeconfig={kubeconfig}")
    image = (
        local_node_image(required=not planning_only)
        if local
        else f"kindest/node:{version(versions, 'kind_node_image')}"
    )
    kind = tool("kind", version(versions, "kind"))
    kind_create = (kind, "create", "cluster", f"--name={name}", f"--image={image}")
    create = (*kind_create, f"--kubeconfig={kubeconfig}", "--config", str(config_file))
    helm = (tool("helm", version(versions, "helm")), f"--kubeconfig={kubeconfig}")
    chosen = helm_values(arch, local, user_cilium)
    values = chosen.values
    if local:
        gateway_crds = str(crds_dir() / "gateway-api")
        chart = (str(local_chart(versions)),)
    else:
        gateway_crds = GATEWAY_API_CRDS.format(version=version(versions, "gateway_api"))
        chart = ("cilium", "--repo", versions["cilium"]["chart_repository"], "--version", cilium)
    report = workdir / "cilium-values-report.txt"
    return [
        Step(
            chosen.report().splitlines()[0],
            ("cat", str(report)),
            {str(report): chosen.report() + "\n"},
            lambda: print(chosen.report(), flush=True),
        ),
        Step(
            f"create kind cluster {name} (reused if it exists)",
            create,
            {str(config_file): plain_yaml(kind_config(arch, local))},
            lambda: create_kind_cluster(kind_cluster(name, kubeconfig, image, versions), create),
        ),
        *lan_steps(arch),
        *node_label_steps(user, kubectl),
        Step(
            "install the Gateway API CRDs",
            (*kubectl, "apply", "--server-side", "-f", gateway_crds),
        ),
        # Cilium's chart makes its GatewayClass only if the API serves it at install time.
        Step(
            "wait until the Gateway API CRDs are Established",
            (
                *kubectl,
                "wait",
                "--for=condition=Established",
                "crd",
                "--all",
                f"--timeout={timeouts.nodes_ready:g}s",
            ),
        ),
        Step(
            f"install Cilium {cilium} with Helm",
            (
                *helm,
                "upgrade",
                "--install",
                "cilium",
                *chart,
                "--namespace",
                "kube-system",
                "--values",
                str(values_file),
            ),
            {str(values_file): plain_yaml(values)},
        ),
        *cilium_ready(kubectl, timeouts),
        *mutual_auth_ready(values, kubeconfig, timeouts),
        *cert_manager(arch, versions, helm, timeouts, local, planning_only),
    ]


def node_label_steps(user: UserConfig | None, kubectl: Sequence[str]) -> list[Step]:
    """The labels the user's BGP and L2 node selectors look for, on every kind node."""
    from netconform.sources.agreement import node_labels

    labels = node_labels(user.applied) if user else {}
    if not labels:
        return []
    pairs = [f"{key}={value}" for key, value in sorted(labels.items())]
    return [
        Step(
            f"label the nodes as the user's node selectors require: {', '.join(pairs)}",
            (*kubectl, "label", "nodes", "--all", "--overwrite", *pairs),
        )
    ]


def lan_steps(arch: Architecture) -> list[Step]:
    """Where the spec declares the nodes' network: the LAN beside kind (netconform/lan.py)."""
    if arch.cluster.node_network is None:
        return []
    from netconform import lan

    laid_out = lan.plan(arch, kind_node_names(arch))
    return [
        Step(
            f"attach the nodes to the LAN beside kind: {laid_out.describe()}",
            ("docker", "network", "create", "--subnet", str(arch.cluster.node_network), "..."),
            action=lambda: _made(laid_out),
        )
    ]


def _made(laid_out: Lan) -> None:
    from netconform import lan

    try:
        lan.create(laid_out)
    except lan.LanError as error:
        raise StepFailed(str(error)) from None


def mutual_auth_ready(
    values: Mapping[str, Any], kubeconfig: Path, timeouts: Timeouts = DEFAULT_TIMEOUTS
) -> list[Step]:
    """Where the values install SPIRE: wait until mutual authentication can work, not only
    until its pods run (netconform/spire.py says why)."""
    spire = ((values.get("authentication") or {}).get("mutual") or {}).get("spire") or {}
    if not (spire.get("enabled") and (spire.get("install") or {}).get("enabled", True)):
        return []

    def wait() -> None:
        from netconform import spire as spire_state
        from netconform.kube import Kube

        try:
            spire_state.wait_ready(
                spire_state.Spire(Kube.from_kubeconfig(kubeconfig)),
                timeouts,
                progress=lambda line: print(f"  {line}", flush=True),
            )
        except spire_state.MutualAuthNotReady as error:
            raise StepFailed(str(error)) from None

    return [
        Step(
            "wait until mutual authentication can work (SPIRE's entries, every node attested, "
            "every Cilium agent's delegate stream)",
            ("kubectl", f"--kubeconfig={kubeconfig}", "-n", "cilium-spire", "exec",
             "spire-server-0", "-c", "spire-server", "--", "/opt/spire/bin/spire-server",
             "entry", "show"),
            action=wait,
        )
    ]  # fmt: skip


def local_cert_manager_chart(versions: Mapping[str, Mapping[str, str]]) -> Path:
    """The chart `make local-images` makes from cert-manager's module for the local path."""
    return cache.IMAGES_DIR / f"cert-manager-chart-{version(versions, 'cert_manager_local')}"


def cert_manager(
    arch: Architecture,
    versions: Mapping[str, Mapping[str, str]],
    helm: Sequence[str],
    timeouts: Timeouts,
    local: bool = False,
    planning_only: bool = False,
) -> list[Step]:
    """cert-manager with its CRDs, where an HTTPS listener needs a certificate. On the
    local-images path the release built there (versions.yaml's cert_manager_local), from the
    chart its module carries."""
    if not any(listener.protocol == "HTTPS" for listener in arch.gateway.listeners):
        return []
    if local:
        pinned = version(versions, "cert_manager_local")
        chart = local_cert_manager_chart(versions)
        if not (planning_only or chart.is_dir()):
            raise LocalImagesMissing(f"no cert-manager chart at {chart}: run make local-images")
        source: tuple[str, ...] = (str(chart),)
        settings = [
            *(f"{part}image.pullPolicy=Never" for part in ("", "webhook.", "cainjector.")),
            "startupapicheck.enabled=false",
            # Certificates for annotated Gateways, as the user path's enableGatewayAPI.
            "featureGates=ExperimentalGatewayAPISupport=true",
        ]
    else:
        pinned = version(versions, "cert_manager")
        repo = versions["cert_manager"]["chart_repository"]
        source = ("cert-manager", "--repo", repo, "--version", pinned)
        settings = [
            "crds.enabled=true",
            # A Gateway annotated with an issuer gets its Certificates from cert-manager's
            # Gateway API support, as a homelab's does.
            "config.apiVersion=controller.config.cert-manager.io/v1alpha1",
            "config.kind=ControllerConfiguration",
            "config.enableGatewayAPI=true",
        ]
    return [
        Step(
            f"install cert-manager {pinned} with Helm",
            (
                *helm, "upgrade", "--install", "cert-manager", *source,
                "--namespace", "cert-manager", "--create-namespace",
                *(arg for setting in settings for arg in ("--set", setting)),
                "--wait", f"--timeout={timeouts.cilium_rollout:g}s",
            ),
        )
    ]  # fmt: skip


def cilium_ready(kubectl: Sequence[str], timeouts: Timeouts = DEFAULT_TIMEOUTS) -> list[Step]:
    """Cilium rolled out and healthy on every node: after an install and after an upgrade."""
    system = (*kubectl, "-n", "kube-system")
    return [
        *(
            Step(
                f"wait until {what} is ready",
                (*system, "rollout", "status", what, f"--timeout={timeouts.cilium_rollout:g}s"),
            )
            for what in ("daemonset/cilium", "deployment/cilium-operator")
        ),
        Step(
            "wait until every node is Ready",
            (
                *kubectl,
                "wait",
                "--for=condition=Ready",
                "nodes",
                "--all",
                f"--timeout={timeouts.nodes_ready:g}s",
            ),
        ),
        Step(
            "check that Cilium reports itself healthy on every node",
            (*system, "exec", "daemonset/cilium", "--", "cilium-dbg", "status", "--brief"),
            action=lambda: agents_healthy(system),
        ),
    ]


def agents_healthy(kubectl: Sequence[str]) -> None:
    """`cilium-dbg status --brief` on every agent, not just one pod of the DaemonSet."""
    listed = subprocess.run(
        [*kubectl, "get", "pods", "-l", "k8s-app=cilium", "-o", "name"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    unhealthy = []
    for pod in listed:
        done = subprocess.run(
            [*kubectl, "exec", pod, "-c", "cilium-agent", "--", "cilium-dbg", "status", "--brief"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            unhealthy.append(f"{pod}: {(done.stdout + done.stderr).strip()[-500:]}")
    if not listed or unhealthy:
        raise StepFailed("Cilium is not healthy: " + ("; ".join(unhealthy) or "no agent pods"))


def down_plan(
    arch: Architecture, versions: Mapping[str, Mapping[str, str]], workdir: Path
) -> list[Step]:
    name, kubeconfig = arch.cluster.name, workdir / "kubeconfig"
    return [
        Step(
            f"delete kind cluster {name}",
            (
                tool("kind", version(versions, "kind")),
                "delete",
                "cluster",
                f"--name={name}",
                f"--kubeconfig={kubeconfig}",
            ),
            action=lambda: kind_cluster(name, kubeconfig, None, versions).delete(),
        ),
        *(
            [
                Step(
                    "remove the LAN beside kind",
                    ("docker", "network", "rm", f"netconform-{name}-lan"),
                    action=lambda: _remove_lan(arch),
                )
            ]
            if arch.cluster.node_network
            else []
        ),
        Step(
            "remove kind's Docker network if no other cluster uses it",
            ("docker", "network", "rm", "kind"),
            action=lambda: _remove_network_if_unused("kind"),
        ),
    ]


def _remove_lan(arch: Architecture) -> None:
    from netconform import lan

    lan.remove(lan.plan(arch, []))


def _remove_network_if_unused(network: str) -> None:
    subprocess.run(["docker", "network", "rm", network], capture_output=True, check=False)


def render_plan(steps: Sequence[Step]) -> str:
    """What a real run would do, as a person could paste it."""
    out = []
    for number, step in enumerate(steps, start=1):
        out.append(f"# {number}. {step.what}")
        for path, content in step.files.items():
            out.append(f"cat > {path} <<'EOF'\n{content.rstrip()}\nEOF")
        out.append(shlex.join(step.argv))
    return "\n".join(out)


class StepFailed(RuntimeError):
    """A bring-up command failed; the message names the step and carries its output."""


def run_plan(steps: Sequence[Step], progress: Callable[[str], None] = print) -> None:
    for number, step in enumerate(steps, start=1):
        progress(f"[{number}/{len(steps)}] {step.what}")
        for path, content in step.files.items():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(content)
        if step.action:
            try:
                step.action()
            except StepFailed as error:
                raise StepFailed(f"step {number} ({step.what}) failed: {error}") from None
            except subprocess.CalledProcessError as error:
                raise StepFailed(
                    f"step {number} ({step.what}) failed with exit {error.returncode}"
                ) from None
            continue
        done = subprocess.run(step.argv, capture_output=True, text=True, check=False)
        if done.returncode:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-20:])
            raise StepFailed(
                f"step {number} ({step.what}) failed with exit {done.returncode}:\n{tail}"
            )


def kind_cluster(
    name: str, kubeconfig: Path, image: str | None, versions: Mapping[str, Mapping[str, str]]
):
    """pytest-kind's cluster handle, on the pinned kind (its own default kind is too old)."""
    os.environ["KIND_VERSION"] = version(versions, "kind")
    from pytest_kind import KindCluster  # reads KIND_VERSION when imported

    return KindCluster(
        name,
        kubeconfig=kubeconfig,
        image=image,
        kind_path=Path(tool("kind", version(versions, "kind"))),
    )


def create_kind_cluster(cluster: KindCluster, create: Sequence[str]) -> None:
    """kind's cluster, reused if it exists. A create that fails (a node that never came up)
    is tried once more after deleting what it left; failing again, it says what kind said."""
    said = ""
    for _ in range(2):
        if cluster.name not in kind_clusters():
            done = subprocess.run(create, capture_output=True, text=True, check=False)
            if done.returncode:
                said = (done.stderr or done.stdout).strip()
                cluster.delete()
                continue
        cluster.create()
        return
    tail = "\n".join(said.splitlines()[-15:])
    raise StepFailed(f"kind create cluster {cluster.name} failed twice; kind said:\n{tail}")


def workdir_for_name(name: str) -> Path:
    """Where a cluster's kubeconfig and rendered files live: .netconform/ of the directory
    netconform runs from (the user's repository), unless NETCONFORM_STATE says otherwise."""
    return Path(os.environ.get("NETCONFORM_STATE") or Path.cwd() / ".netconform") / name


def workdir_for(arch: Architecture) -> Path:
    return workdir_for_name(arch.cluster.name)


def kind_clusters(versions: Mapping[str, Mapping[str, str]] | None = None) -> list[str]:
    kind = tool("kind", version(versions or load_versions(), "kind"))
    if not Path(kind).is_file():
        return []
    done = subprocess.run([kind, "get", "clusters"], capture_output=True, text=True, check=False)
    return done.stdout.split() if done.returncode == 0 else []
