"""kind's node image and kubeadm's images, built here for machines that reach no registry.

Every image kubeadm expects (`kubeadm config images list`) is a minimal root
filesystem around one binary built from its Go module; the node image is a
Debian root filesystem (debootstrap) with systemd and containerd, assembled
the way kind's node-image build does it but without its registry fetches,
with those images preloaded. Each step is cached by version in
~/.cache/netconform/images and prints its time (`make local-images`, see local_images).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from netconform.offline import gobuild as builder
from netconform.offline.cache import IMAGES_DIR

IMAGES = IMAGES_DIR
NODE_IMAGE_FILE = IMAGES / "node-image"  # read by `netconform cluster up --images=local`
NODE_BINARIES = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kubeadm",
    "kubectl",
)
SOURCE_LABEL = "netconform.source"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ImageError(RuntimeError):
    """A step failed; the message names it and carries the tool's own words."""


@contextmanager
def step(name: str) -> Iterator[None]:
    start = time.monotonic()
    print(f"[{name}] ...", flush=True)
    yield
    print(f"[{name}] done in {time.monotonic() - start:.1f}s", flush=True)


def run(argv: list[str], stdin: bytes | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, check=False)
    if done.returncode:
        tail = done.stderr.decode(errors="replace").strip()[-1500:]
        raise ImageError(f"{' '.join(argv[:4])} ... failed ({done.returncode}): {tail}")
    return done.stdout.decode(errors="replace")


def image_exists(ref: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", ref], capture_output=True, check=False
        ).returncode
        == 0
    )


def image_label(ref: str, label: str) -> str | None:
    template = "{{index .Config.Labels " + json.dumps(label) + "}}"
    done = subprocess.run(
        ["docker", "image", "inspect", "-f", template, ref], capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else None


def pause_binary(kubernetes_version: str) -> Path:
    """kubeadm's sandbox image entrypoint, compiled from the C file in the Kubernetes module."""
    out = builder.BIN_DIR / f"pause-{kubernetes_version}"
    if out.exists():
        return out
    module = json.loads(
        run(["go", "mod", "download", "-json", f"k8s.io/kubernetes@{kubernetes_version}"])
    )
    source = Path(module["Dir"]) / "build" / "pause" / "linux" / "pause.c"
    run(["gcc", "-static", "-O2", "-DVERSION=" + kubernetes_version, "-o", str(out), str(source)])
    return out


def rootfs_tar(files: Mapping[str, Path], dirs: Sequence[str] = (), owner: int = 0) -> bytes:
    """A root filesystem holding just these files (path in image -> file here) and empty
    directories, all owned by uid and gid `owner`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for inside in dirs:
            info = tarfile.TarInfo(inside.lstrip("/"))
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o755, owner, owner
            tar.addfile(info)
        for inside, source in files.items():
            info = tar.gettarinfo(str(source), arcname=inside.lstrip("/"))
            info.mode, info.uid, info.gid, info.uname, info.gname = 0o755, owner, owner, "", ""
            with source.open("rb") as f:
                tar.addfile(info, f)
    return buffer.getvalue()


def matching_binary(name: str, tag: str, log: Callable[[str], None]) -> Path:
    """etcd or CoreDNS at exactly the version kubeadm's image tag names (3.6.8-0 -> v3.6.8)."""
    wanted = "v" + tag.removeprefix("v").split("-")[0]
    return builder.ensure([name], log=log, pins={name: wanted})[name]


def coredns_image(ref: str, log: Callable[[str], None]) -> str:
    """CoreDNS at the version its tag names, alone on an empty image as upstream ships it."""
    binary = matching_binary("coredns", ref.rsplit(":", 1)[1], log)
    import_files(ref, {"/coredns": binary}, ["/coredns"])
    return ref


def import_files(
    ref: str,
    files: Mapping[str, Path],
    entry: list[str],
    dirs: Sequence[str] = (),
    owner: int = 0,
    changes: Sequence[str] = (),
) -> None:
    """Import `files` (and empty `dirs`) as an image, unless `ref` already holds these very
    files (its label names them and their sizes, so a rebuilt or re-pinned binary replaces
    the image)."""
    source = fingerprint(file_source(*files.values()), dirs, owner, changes)
    if image_label(ref, SOURCE_LABEL) != source:
        changes = [
            f"ENV {DEFAULT_PATH}",
            *changes,
            f"ENTRYPOINT {json.dumps(entry)}",
            f"LABEL {SOURCE_LABEL}={source}",
        ]
        flags = [arg for change in changes for arg in ("--change", change)]
        run(["docker", "import", *flags, "-", ref], stdin=rootfs_tar(files, dirs, owner))


def component_images(
    kubeadm: Path,
    binaries: Mapping[str, Path],
    kubernetes_version: str,
    log: Callable[[str], None],
) -> list[str]:
    """Import one image per `kubeadm config images list` entry, under exactly that name."""
    listed = run(
        [str(kubeadm), "config", "images", "list", "--kubernetes-version", kubernetes_version]
    ).split()
    made = []
    for ref in listed:
        name, tag = ref.rsplit("/", 1)[-1].split(":")
        if name == "kube-proxy":
            continue  # kubeProxyMode: none; Cilium replaces it
        if name == "pause":
            files, entry = {"/pause": pause_binary(kubernetes_version)}, ["/pause"]
        elif name == "coredns":
            made.append(coredns_image(ref, log))
            continue
        elif name == "etcd":
            files, entry = {"/usr/local/bin/etcd": matching_binary("etcd", tag, log)}, ["etcd"]
        else:
            files, entry = {f"/usr/local/bin/{name}": binaries[name]}, [name]
        import_files(ref, files, entry)
        made.append(ref)
    return made


NODE_FILES = Path(__file__).with_name("node")
WRAPPER = Path(__file__).with_name("runc_wrapper.py")
RELEASE = "bookworm"
BASE_PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "containerd", "runc", "iptables", "nftables", "iproute2",
    "ethtool", "util-linux", "mount", "kmod", "libseccomp2", "conntrack", "ca-certificates",
    "procps", "containernetworking-plugins", "socat", "bash", "python3",
)  # fmt: skip
NODE_ENTRYPOINT = '["/usr/local/bin/entrypoint", "/sbin/init"]'


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:12]


def debian_rootfs(name: str, packages: tuple[str, ...]) -> Path:
    """A Debian root filesystem with these packages (debootstrap, Debian's own mirror),
    cached by its package list."""
    rootfs = IMAGES / f"{name}-{RELEASE}-{fingerprint(*packages)}"
    if not rootfs.exists():
        scratch = rootfs.with_suffix(".tmp")
        shutil.rmtree(scratch, ignore_errors=True)
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(packages)}",
                RELEASE,
                str(scratch),
            ]
        )
        scratch.rename(rootfs)
    return rootfs


def base_rootfs() -> Path:
    """The node's root filesystem: systemd and containerd."""
    return debian_rootfs("rootfs", BASE_PACKAGES)


def import_rootfs(rootfs: Path, ref: str, changes: list[str]) -> None:
    """`docker import` a root filesystem directory as `ref`, with Dockerfile-style changes."""
    tar = subprocess.run(
        ["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], capture_output=True, check=True
    )
    flags = [arg for change in changes for arg in ("--change", change)]
    run(["docker", "import", *flags, "-", ref], stdin=tar.stdout)


def _install(rootfs: Path, inside: str, content: bytes, mode: int = 0o644) -> None:
    target = rootfs / inside.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    target.chmod(mode)


def _enable(rootfs: Path, unit: str, source: str) -> None:
    wants = rootfs / "etc/systemd/system/multi-user.target.wants" / unit
    wants.parent.mkdir(parents=True, exist_ok=True)
    wants.unlink(missing_ok=True)
    wants.symlink_to(source)


def base_image(pause: str, crictl: Path) -> str:
    """The node base: our entrypoint, containerd and kubelet configuration on the Debian rootfs."""
    rootfs = base_rootfs()
    files = {p.name: p.read_bytes() for p in sorted(NODE_FILES.iterdir())}
    parts = (rootfs.name, files, WRAPPER.read_bytes(), pause, crictl.name)
    ref = f"netconform/kind-base:{fingerprint(*parts)}"
    if image_exists(ref):
        return ref
    _install(rootfs, "/usr/local/bin/entrypoint", files["entrypoint"], 0o755)
    _install(rootfs, "/usr/local/sbin/runc-wrapper", WRAPPER.read_bytes(), 0o755)
    config = files["containerd-config.toml"].replace(b"@PAUSE@", pause.encode())
    _install(rootfs, "/etc/containerd/config.toml", config)
    _install(rootfs, "/etc/systemd/system/kubelet.service", files["kubelet.service"])
    _install(rootfs, "/etc/sysctl.d/10-netconform.conf", files["sysctl.conf"])
    _install(rootfs, "/usr/local/bin/crictl", crictl.read_bytes(), 0o755)
    _install(rootfs, "/etc/crictl.yaml", files["crictl.yaml"])
    _enable(rootfs, "kubelet.service", "/etc/systemd/system/kubelet.service")
    _enable(rootfs, "containerd.service", "/lib/systemd/system/containerd.service")
    for plugin in ("loopback", "host-local", "portmap", "ptp"):
        _install(
            rootfs, f"/opt/cni/bin/{plugin}", (rootfs / "usr/lib/cni" / plugin).read_bytes(), 0o755
        )
    (rootfs / "kind").mkdir(exist_ok=True)
    import_rootfs(rootfs, ref, ["ENV container=docker", f"ENTRYPOINT {NODE_ENTRYPOINT}"])
    return ref


def containerd_name(ref: str) -> str:
    """The full name containerd lists for a Docker short name (python:3 is
    docker.io/library/python:3)."""
    first, _, rest = ref.partition("/")
    if not rest:
        return f"docker.io/library/{ref}"
    if "." in first or ":" in first or first == "localhost":
        return ref
    return f"docker.io/{ref}"


def node_image(base: str, binaries: Mapping[str, Path], images: list[str], version: str) -> str:
    """kind's node-image build by hand: binaries in, kubeadm's images preloaded into containerd."""
    stamps = [binaries[name].stat().st_mtime for name in NODE_BINARIES]
    ids = [run(["docker", "image", "inspect", "-f", "{{.Id}}", image]).strip() for image in images]
    ref = f"netconform/kind-node:{version}-{fingerprint(base, ids, *stamps)}"
    if image_exists(ref):
        return ref
    container = run(
        ["docker", "run", "-d", "--privileged", "--entrypoint", "sleep", base, "infinity"]
    ).strip()
    try:
        for name in ("kubeadm", "kubelet", "kubectl"):
            run(["docker", "cp", str(binaries[name]), f"{container}:/usr/bin/{name}"])
        run(["docker", "exec", container, "sh", "-c", f"echo {version} > /kind/version"])
        run(["docker", "exec", "-d", container, "containerd"])
        deadline = time.monotonic() + 30
        while subprocess.run(
            ["docker", "exec", container, "ctr", "version"], capture_output=True
        ).returncode:
            if time.monotonic() > deadline:
                raise ImageError("containerd in the node image never answered")
            time.sleep(0.5)
        for image in images:
            saved = subprocess.run(
                ["docker", "save", image], capture_output=True, check=True
            ).stdout
            run(
                [
                    "docker",
                    "exec",
                    "-i",
                    container,
                    "ctr",
                    "-n",
                    "k8s.io",
                    "images",
                    "import",
                    "--no-unpack",
                    "-",
                ],
                stdin=saved,
            )
        loaded = run(
            ["docker", "exec", container, "ctr", "-n", "k8s.io", "images", "ls", "-q"]
        ).split()
        missing = [i for i in images if containerd_name(i) not in loaded]
        if missing:
            raise ImageError(f"not preloaded in the node image: {missing}")
        run(["docker", "exec", container, "pkill", "containerd"])
        time.sleep(1)
        run(["docker", "commit", "--change", f"ENTRYPOINT {NODE_ENTRYPOINT}", container, ref])
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
    return ref


def docker_build(ref: str, dockerfile: str, context: Mapping[str, Path], source: object) -> None:
    """`docker build` from `context` (name in the build context -> file or directory here),
    unless `ref` was built from this very source and Dockerfile already: then nothing is
    copied at all."""
    label = fingerprint(source, dockerfile)
    if image_label(ref, SOURCE_LABEL) == label:
        return
    with tempfile.TemporaryDirectory(prefix="netconform-image-") as tmp:
        root = Path(tmp)
        for name, path in context.items():
            if path.is_dir():
                ignore = shutil.ignore_patterns("tests", "complexity-tests")
                shutil.copytree(path, root / name, ignore=ignore)
            else:
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, root / name)
        (root / "Dockerfile").write_text(f"{dockerfile}\nLABEL {SOURCE_LABEL}={label}\n")
        run(["docker", "build", "--quiet", "--tag", ref, str(root)])


def file_source(*paths: Path) -> str:
    """What an image is made of: file names and sizes, cheap to compare on every run."""
    return fingerprint(*((path.name, path.stat().st_size, path.stat().st_mtime) for path in paths))
