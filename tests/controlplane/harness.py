"""A real control plane on loopback: etcd, kube-apiserver, kube-controller-manager and the
Cilium operator as plain processes, built from their Go modules.

No kind cluster can start on the machines this suite is developed on, but its
Kubernetes glue and its rendered manifests must meet real API-server code
(schemas, CEL rules, server-side apply) and the real Cilium operator (LB IPAM,
BGP node configs), not fakes. Everything lives in one temporary directory and
is removed on exit, on an exception, on SIGINT and on SIGTERM; the logs of a
failed start are kept under reports/controlplane/.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from lab.processes import Processes, shielded, sigterm_interrupts
from netconform.kube import Kube
from netconform.manifest import documents
from tests.certs import sign, write_ca

ROOT = Path(__file__).resolve().parents[2]
KEPT_LOGS = ROOT / "reports" / "controlplane"
SERVICE_CIDR = "198.19.128.0/20"
# What the Cilium operator logs once it holds the leader lease.
LEADING = "Leading the operator HA deployment"
OPERATOR_CONFIG = {
    "enable-gateway-api": "true",
    "enable-envoy-config": "true",
    "kube-proxy-replacement": "true",
    "enable-bgp-control-plane": "true",
    "enable-bgp-control-plane-status-report": "true",
    "enable-lb-ipam": "true",
    "default-lb-service-ipam": "lbipam",
    "identity-allocation-mode": "crd",
    # As the chart's default: otherwise the Gateway's Service asks for a family this
    # single-stack API server refuses.
    "enable-ipv4": "true",
    "enable-ipv6": "false",
    "ipam": "kubernetes",
    "cluster-name": "netconform",
}


class ControlPlaneError(RuntimeError):
    """A component did not come up; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Operator:
    """One Cilium operator replica and its log."""

    process: subprocess.Popen[bytes]
    log: Path

    def leading(self) -> bool:
        return LEADING in self.log.read_text(errors="replace")


@dataclass(frozen=True)
class ControlPlane:
    workdir: Path
    kubeconfig: Path
    url: str
    operators: tuple[Operator, ...] = ()

    def kube(self) -> Kube:
        return Kube.from_kubeconfig(self.kubeconfig)


class _Starter:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir()
        self.processes = Processes()

    def spawn(
        self, name: str, binary: Path, args: list[str], log_name: str | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{log_name or name}.log").open("wb")
        # argv[0] is the plain name: the Cilium operator derives defaults from it.
        return self.processes.spawn([name, *args], executable=str(binary), stdout=log, stderr=log)

    def wait(
        self,
        name: str,
        process: subprocess.Popen[bytes],
        healthy: Callable[[], bool],
        timeout: float,
        stable_for: float = 0.0,
    ) -> None:
        """Until healthy() holds, then until it has held for `stable_for` seconds."""
        deadline = time.monotonic() + timeout
        since: float | None = None
        while since is None or time.monotonic() - since < stable_for:
            ok = _quietly(healthy)
            if process.poll() is not None:
                self._fail(name, f"exited with {process.returncode}")
            if not ok and time.monotonic() > deadline:
                self._fail(name, f"not healthy after {timeout:g}s")
            since = (since or time.monotonic()) if ok else None
            time.sleep(0.2)

    def _fail(self, name: str, state: str) -> None:
        tail = (self.logs / f"{name}.log").read_text(errors="replace").splitlines()[-25:]
        raise ControlPlaneError(f"{name} {state}; end of its log:\n" + "\n".join(tail))


def _quietly(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except (httpx.HTTPError, OSError):
        return False


def _pki(directory: Path) -> dict[str, Path]:
    write_ca(directory)
    server = sign(
        directory,
        "apiserver",
        "/CN=kube-apiserver",
        ["IP:127.0.0.1", "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default.svc"],
    )
    admin = sign(directory, "admin", "/O=system:masters/CN=netconform-admin", usage="clientAuth")
    subprocess.run(
        ["openssl", "genrsa", "-out", "sa.key", "2048"],
        cwd=directory,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["openssl", "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"],
        cwd=directory,
        check=True,
        capture_output=True,
    )
    return {
        "ca": server.ca,
        "apiserver.pem": server.cert,
        "apiserver.key": server.key,
        "admin.pem": admin.cert,
        "admin.key": admin.key,
        "sa.key": directory / "sa.key",
        "sa.pub": directory / "sa.pub",
    }


def _kubeconfig(path: Path, url: str, pki: Mapping[str, Path]) -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "netconform",
                        "cluster": {"server": url, "certificate-authority": str(pki["ca"])},
                    }
                ],
                "users": [
                    {
                        "name": "admin",
                        "user": {
                            "client-certificate": str(pki["admin.pem"]),
                            "client-key": str(pki["admin.key"]),
                        },
                    }
                ],
                "contexts": [
                    {"name": "netconform", "context": {"cluster": "netconform", "user": "admin"}}
                ],
                "current-context": "netconform",
            }
        )
    )


@contextmanager
def control_plane(
    binaries: Mapping[str, Path],
    crds: Path,
    controller_manager: bool = True,
    operator: bool = True,
    timeout: float = 90,
    operator_replicas: int = 1,
) -> Iterator[ControlPlane]:
    """`operator_replicas` > 1: more operators behind leader election, as in a Deployment."""
    workdir = Path(tempfile.mkdtemp(prefix="netconform-cp-"))
    starter = _Starter(workdir)
    failed = True
    with sigterm_interrupts():
        try:
            pki = _pki(workdir)
            etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
            url = f"https://127.0.0.1:{api_port}"
            kubeconfig = workdir / "admin.kubeconfig"
            _kubeconfig(kubeconfig, url, pki)
            tls = ssl.create_default_context(cafile=pki["ca"])
            tls.load_cert_chain(pki["admin.pem"], pki["admin.key"])
            client = httpx.Client(verify=tls, timeout=2)

            etcd = starter.spawn(
                "etcd",
                binaries["etcd"],
                [
                    f"--data-dir={workdir / 'etcd'}",
                    f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                    "--unsafe-no-fsync",
                ],
            )
            starter.wait(
                "etcd",
                etcd,
                lambda: (
                    httpx.get(f"http://127.0.0.1:{etcd_port}/health", timeout=2).json()["health"]
                    == "true"
                ),
                timeout,
            )

            apiserver = starter.spawn(
                "kube-apiserver",
                binaries["kube-apiserver"],
                [
                    f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={api_port}",
                    f"--tls-cert-file={pki['apiserver.pem']}",
                    f"--tls-private-key-file={pki['apiserver.key']}",
                    f"--client-ca-file={pki['ca']}",
                    "--authorization-mode=RBAC",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    "--service-account-issuer=https://kubernetes.default.svc",
                    f"--service-account-key-file={pki['sa.pub']}",
                    f"--service-account-signing-key-file={pki['sa.key']}",
                    "--endpoint-reconciler-type=none",
                    "--allow-privileged=true",
                    "--disable-admission-plugins=ServiceAccount",
                ],
            )
            starter.wait(
                "kube-apiserver",
                apiserver,
                lambda: client.get(f"{url}/readyz").status_code == 200,
                timeout,
            )

            if controller_manager:
                kcm_port = free_port()
                kcm = starter.spawn(
                    "kube-controller-manager",
                    binaries["kube-controller-manager"],
                    [
                        f"--kubeconfig={kubeconfig}",
                        "--bind-address=127.0.0.1",
                        f"--secure-port={kcm_port}",
                        "--leader-elect=false",
                        f"--service-account-private-key-file={pki['sa.key']}",
                        f"--root-ca-file={pki['ca']}",
                        "--use-service-account-credentials=false",
                        "--controllers=*,-nodeipam,-nodelifecycle,-service-lb-controller,-cloud-node-lifecycle,-route",
                    ],
                )
                starter.wait(
                    "kube-controller-manager",
                    kcm,
                    lambda: (
                        httpx.get(
                            f"https://127.0.0.1:{kcm_port}/healthz", verify=False, timeout=2
                        ).status_code
                        == 200
                    ),
                    timeout,
                )

            kube = Kube.from_kubeconfig(kubeconfig)
            kube.apply(
                [
                    doc
                    for path in sorted(crds.glob("*.yaml"))
                    for doc in documents(path.read_text())
                ],
                timeout=timeout,
            )

            operators = tuple(
                _start_operator(
                    starter, binaries["cilium-operator-generic"], kubeconfig, kube, timeout, index
                )
                for index in range(operator_replicas if operator else 0)
            )
            failed = False
            yield ControlPlane(workdir, kubeconfig, url, operators)
        except BaseException:
            failed = True
            raise
        finally:
            shielded(lambda: _teardown(starter, workdir, keep_logs=failed))


def _start_operator(
    starter: _Starter, binary: Path, kubeconfig: Path, kube: Kube, timeout: float, index: int = 0
) -> Operator:
    """The first replica is waited for until it leads; the others until they are healthy."""
    config_dir = starter.workdir / "cilium-config"
    config_dir.mkdir(exist_ok=True)
    for key, value in OPERATOR_CONFIG.items():
        (config_dir / key).write_text(value)
    kube.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cilium-secrets"}}])
    api_port = free_port()
    name = "cilium-operator-generic"
    log_name = f"{name}-{index}" if index else name

    def healthy() -> bool:
        return httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=2).status_code == 200

    process = starter.spawn(
        name,
        binary,
        [
            f"--config-dir={config_dir}",
            f"--k8s-kubeconfig-path={kubeconfig}",
            "--k8s-namespace=kube-system",
            f"--operator-api-serve-addr=127.0.0.1:{api_port}",
            f"--operator-prometheus-serve-addr=127.0.0.1:{free_port()}",
            "--enable-metrics=false",
            "--gops-port=0",
            "--enable-gops=false",
        ],
        log_name,
    )
    starter.wait(log_name, process, healthy, timeout)
    replica = Operator(process, starter.logs / f"{log_name}.log")
    if index:
        return replica
    for crd in (
        "ciliumloadbalancerippools.cilium.io",
        "ciliumbgpclusterconfigs.cilium.io",
        "ciliumbgpnodeconfigs.cilium.io",
        "ciliumnodes.cilium.io",
    ):
        kube.wait_for(
            f"CRD {crd} registered by the operator",
            lambda crd=crd: kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd),
            lambda obj: obj is not None,
            timeout,
        )
        kube.wait_condition(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            crd,
            None,
            "Established",
            timeout=timeout,
        )

    # Leadership starts the controllers; a misconfigured one makes the operator exit right after.
    def leading() -> bool:
        lease = kube.get(
            "coordination.k8s.io/v1", "Lease", "cilium-operator-resource-lock", "kube-system"
        )
        return bool((lease or {}).get("spec", {}).get("holderIdentity")) and healthy()

    starter.wait(log_name, process, leading, timeout, stable_for=3)
    return replica


def _teardown(starter: _Starter, workdir: Path, keep_logs: bool) -> None:
    starter.processes.stop_all(grace=5)
    if keep_logs and starter.logs.exists():
        KEPT_LOGS.mkdir(parents=True, exist_ok=True)
        for log in starter.logs.iterdir():
            shutil.copy(log, KEPT_LOGS / log.name)
    shutil.rmtree(workdir, ignore_errors=True)
