"""The suite's own Docker engine: privileged containers run (the runtime wrapper drops the
capability these VMs lack), networks come from the lab range, and `down` leaves nothing."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from netconform.offline import engine

IMAGE = "netconform/busybox:test"


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    busybox = shutil.which("busybox")
    if (
        busybox is None
        or "static" not in subprocess.run(["file", busybox], capture_output=True, text=True).stdout
    ):
        pytest.skip("a static busybox makes the test image: apt-get install busybox-static file")
    was_running = engine._running_pid() is not None
    engine.up()
    root = tmp_path_factory.mktemp("rootfs")
    (root / "bin").mkdir()
    shutil.copy(busybox, root / "bin" / "busybox")
    for applet in ("sh", "grep", "cat"):
        (root / "bin" / applet).symlink_to("busybox")
    tar = subprocess.run(
        ["tar", "-C", str(root), "-c", "."], capture_output=True, check=True
    ).stdout
    subprocess.run(["docker", "import", "-", IMAGE], input=tar, capture_output=True, check=True)
    yield
    if not was_running:
        engine.down()


def test_up_is_idempotent(running: None) -> None:
    assert engine.up().startswith("docker engine already running")


def test_a_privileged_container_runs_without_cap_sys_resource(running: None) -> None:
    done = docker("run", "--rm", "--privileged", IMAGE, "grep", "CapBnd", "/proc/self/status")
    assert done.returncode == 0, done.stderr
    bounding = int(done.stdout.split()[-1], 16)
    assert not bounding & (1 << 24)  # CAP_SYS_RESOURCE
    assert bounding & (1 << 21)  # CAP_SYS_ADMIN: still privileged


def test_without_the_wrapper_the_same_container_fails(running: None) -> None:
    done = docker("run", "--rm", "--runtime", "runc", "--privileged", IMAGE, "true")
    assert done.returncode != 0 and "unable to apply caps" in done.stderr


def test_networks_come_from_the_lab_range(running: None) -> None:
    name = "netconform-engine-test"
    assert docker("network", "create", name).returncode == 0
    try:
        subnet = docker(
            "network", "inspect", name, "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}"
        ).stdout
        assert subnet.strip().startswith("198.18.")
    finally:
        docker("network", "rm", name)


def test_down_leaves_no_process(running: None) -> None:
    docker("run", "-d", "--name", "netconform-sleeper", IMAGE, "sh", "-c", "sleep 300")
    # A host-network container leaves dockerd's netns/default mount under the exec root.
    assert docker("run", "--rm", "--network", "host", IMAGE, "sh", "-c", "true").returncode == 0
    assert "container(s) removed" in engine.down()
    assert engine._running_pid() is None
    for name in ("dockerd", "containerd", "containerd-shim"):
        found = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout
        running = [pid for pid in map(int, found.split()) if engine._alive(pid)]
        assert running == [], f"{name} still running: {running}"
    assert not Path(engine.EXEC_ROOT).exists()
    engine.up()  # the module's other tests and its teardown expect it running
