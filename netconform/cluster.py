"""The kind cluster with Cilium: configuration rendered from the spec, and its bring-up.

Everything a run will do is first a plan of plain commands and files, so
`netconform cluster up --dry-run` can print exactly what a real run executes.
"""

from __future__ import annotations

import copy
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netconform.offline import cache
from netconform.spec import Architecture

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_DIR = ROOT / "cluster"
TOOLS_DIR = ROOT / ".bin"
# Where `make local-images` leaves kind, kubectl and the node image (no registry access).
LOCAL_NODE_IMAGE = cache.IMAGES_DIR / "node-image"
GATEWAY_API_CRDS = "https://github.com/kubernetes-sigs/gateway-api/releases/download/{version}/standard-install.yaml"


def load_versions(path: Path = CLUSTER_DIR / "versions.yaml") -> dict[str, dict[str, str]]:
    return {
        key: {k: str(v) for k, v in entry.items()}
        for key, entry in yaml.safe_load(path.read_text()).items()
    }


def version(versions: Mapping[str, Mapping[str, str]], key: str) -> str:
    return versions[key]["version"]


def overlays(arch: Architecture) -> list[str]:
    """The Helm value overlays (cluster/values/<name>.yaml) this architecture needs."""
    wanted = {
        "encryption": arch.encryption.wireguard != "off",
        "mutual-auth": bool(arch.mutual_auth.required_for),
        "gateway-api": bool(arch.gateway.listeners),
        "bgp": arch.bgp is not None,
        "l2-announcements": arch.lb_ipam.announce == "l2",
    }
    return [name for name, on in wanted.items() if on]


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def helm_values(arch: Architecture, cluster_dir: Path = CLUSTER_DIR) -> dict[str, Any]:
    values = yaml.safe_load((cluster_dir / "values" / "base.yaml").read_text())
    for name in overlays(arch):
        values = merge(
            values, yaml.safe_load((cluster_dir / "values" / f"{name}.yaml").read_text())
        )
    # kube-proxy replacement reaches the API server directly, not through a Service.
    values["k8sServiceHost"] = f"{arch.cluster.name}-control-plane"
    return values


def kind_config(
    arch: Architecture, local: bool = False, cluster_dir: Path = CLUSTER_DIR
) -> dict[str, Any]:
    config = yaml.safe_load((cluster_dir / "kind-config.yaml").read_text())
    if local:
        config = merge(config, yaml.safe_load((cluster_dir / "kind-local.yaml").read_text()))
    config["name"] = arch.cluster.name
    config["nodes"] = [{"role": "control-plane"}] * arch.cluster.control_planes + [
        {"role": "worker"}
    ] * arch.cluster.workers
    return config


@dataclass(frozen=True)
class Step:
    """One command of a bring-up, with the files it reads written beside it."""

    what: str
    argv: tuple[str, ...]
    files: Mapping[str, str] = field(default_factory=dict)
    # Run this instead of argv (which stays what --dry-run prints): pytest-kind drives kind.
    action: Callable[[], None] | None = None


def tool(name: str, pinned_version: str | None = None) -> str:
    """The pinned copy `make tools` put in .bin/, else the one `make local-images` built,
    else PATH."""
    candidates = [TOOLS_DIR / name]
    if pinned_version:
        candidates.append(cache.BIN_DIR / f"{name}-{pinned_version}")
    found = next((c for c in candidates if c.exists()), None)
    return str(found) if found else (shutil.which(name) or name)


class LocalImagesMissing(RuntimeError):
    """--images=local before `make local-images` ran."""


def local_node_image() -> str:
    if not LOCAL_NODE_IMAGE.exists():
        raise LocalImagesMissing("local images not built: run make docker-up local-images")
    return LOCAL_NODE_IMAGE.read_text().strip()


def up_plan(
    arch: Architecture,
    versions: Mapping[str, Mapping[str, str]],
    workdir: Path,
    local: bool = False,
) -> list[Step]:
    """The bring-up. `local`: node image and tools from `make local-images`, what this machine
    needs added to the kind config, and no Cilium yet (its local images are the next stage)."""
    name = arch.cluster.name
    kubeconfig = workdir / "kubeconfig"
    config_file, values_file = workdir / "kind-config.yaml", workdir / "cilium-values.yaml"
    cilium = version(versions, "cilium").removeprefix("v")
    kubectl = (tool("kubectl", version(versions, "kubernetes")), f"--kubeconfig={kubeconfig}")
    image = local_node_image() if local else f"kindest/node:{version(versions, 'kind_node_image')}"
    kind = tool("kind", version(versions, "kind"))
    kind_create = (kind, "create", "cluster", f"--name={name}", f"--image={image}")
    helm = (tool("helm"), f"--kubeconfig={kubeconfig}", "upgrade", "--install", "cilium", "cilium")
    create = Step(
        f"create kind cluster {name} (reused if it exists)",
        (*kind_create, f"--kubeconfig={kubeconfig}", "--config", str(config_file)),
        {str(config_file): yaml.safe_dump(kind_config(arch, local), sort_keys=False)},
        lambda: kind_cluster(name, kubeconfig, image, versions).create(config_file),
    )
    if local:
        return [
            create,
            Step("wait until the API server is ready", (*kubectl, "get", "--raw", "/readyz")),
            Step(
                "wait until every control-plane static pod is Running and Ready",
                (
                    *kubectl,
                    "-n",
                    "kube-system",
                    "wait",
                    "--for=condition=Ready",
                    "pod",
                    "--selector=tier=control-plane",
                    "--timeout=5m",
                ),
            ),
        ]
    return [
        create,
        Step(
            "install the Gateway API CRDs",
            (
                *kubectl,
                "apply",
                "--server-side",
                "-f",
                GATEWAY_API_CRDS.format(version=version(versions, "gateway_api")),
            ),
        ),
        Step(
            f"install Cilium {cilium} with Helm",
            (
                *helm,
                "--repo",
                versions["cilium"]["chart_repository"],
                "--version",
                cilium,
                "--namespace",
                "kube-system",
                "--values",
                str(values_file),
            ),
            {str(values_file): yaml.safe_dump(helm_values(arch), sort_keys=False)},
        ),
        *(
            Step(
                f"wait until {what} is ready",
                (*kubectl, "-n", "kube-system", "rollout", "status", what, "--timeout=10m"),
            )
            for what in ("daemonset/cilium", "deployment/cilium-operator")
        ),
        Step(
            "wait until every node is Ready",
            (*kubectl, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=5m"),
        ),
    ]


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
        Step(
            "remove kind's Docker network if no other cluster uses it",
            ("docker", "network", "rm", "kind"),
            action=lambda: _remove_network_if_unused("kind"),
        ),
    ]


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


def workdir_for_name(name: str) -> Path:
    return Path(os.environ.get("NETCONFORM_STATE", ROOT / ".netconform")) / name


def workdir_for(arch: Architecture) -> Path:
    return workdir_for_name(arch.cluster.name)


def kind_clusters(versions: Mapping[str, Mapping[str, str]] | None = None) -> list[str]:
    kind = tool("kind", version(versions or load_versions(), "kind"))
    if not Path(kind).is_file():
        return []
    done = subprocess.run([kind, "get", "clusters"], capture_output=True, text=True, check=False)
    return done.stdout.split() if done.returncode == 0 else []
