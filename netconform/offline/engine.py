"""A Docker engine of the suite's own, for kind on machines that reach no image registry.

Debian's dockerd, started by hand (these machines run no init system) with a
data root in the cache, address pools inside 198.18.0.0/15, and the
CAP_SYS_RESOURCE-dropping runc wrapper as its default runtime. `down` stops
it and everything it started; the data root (images) stays for the next `up`.

    python -m netconform.offline.engine up | down | status
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from netconform.offline.cache import DOCKER_DIR

DATA_ROOT = DOCKER_DIR
EXEC_ROOT = Path("/run/netconform-docker")
PIDFILE = EXEC_ROOT / "dockerd.pid"
LOG = DATA_ROOT.parent / "dockerd.log"
WRAPPER = Path(__file__).with_name("runc_wrapper.py")
RUNTIME = "netconform-runc"
# Bridge networks (kind's among them) come from here; the default bridge sits beside.
ADDRESS_POOL = "base=198.18.192.0/18,size=24"
DEFAULT_BRIDGE = "198.19.254.1/24"
# What the local path needs on the host, by the program that shows it is there: the engine,
# debootstrap for root filesystems, a C compiler for kubeadm's pause, and a static busybox
# for the engine's own test image.
PACKAGES = {
    "dockerd": "docker.io",
    "containerd": "containerd",
    "runc": "runc",
    "iptables": "iptables",
    "debootstrap": "debootstrap",
    "gcc": "gcc libc6-dev",
    "busybox": "busybox-static",
    "file": "file",
}


class EngineError(RuntimeError):
    """The engine would not start or stop; the message says why and what to do."""


def _running_pid() -> int | None:
    try:
        pid = int(PIDFILE.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _children() -> list[str]:
    found = subprocess.run(
        ["pgrep", "-af", f"containerd.*{EXEC_ROOT}"], capture_output=True, text=True
    )
    return found.stdout.splitlines()


def _answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def install_host_packages() -> list[str]:
    """Install the missing Debian packages when root (CI, a fresh runner); else say which."""
    missing = sorted({pkg for tool, pkg in PACKAGES.items() if not shutil.which(tool)})
    if not missing:
        return []
    packages = " ".join(missing).split()
    if os.geteuid() != 0:
        raise EngineError(f"missing Debian packages: apt-get install {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if done.returncode:
            raise EngineError(f"{' '.join(argv)} failed: {done.stderr.strip()[-800:]}")
    return packages


def up(timeout: float = 60) -> str:
    installed = install_host_packages()
    if installed:
        print(f"installed Debian packages: {' '.join(installed)}", flush=True)
    if _running_pid():
        return f"docker engine already running (pid {_running_pid()})"
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    EXEC_ROOT.mkdir(parents=True, exist_ok=True)
    argv = [
        "dockerd",
        f"--data-root={DATA_ROOT}",
        f"--exec-root={EXEC_ROOT}",
        f"--pidfile={PIDFILE}",
        f"--default-address-pool={ADDRESS_POOL}",
        f"--bip={DEFAULT_BRIDGE}",
        f"--add-runtime={RUNTIME}={WRAPPER}",
        f"--default-runtime={RUNTIME}",
    ]
    with LOG.open("ab") as log:
        subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while not _answers():
        if time.monotonic() > deadline:
            tail = "\n".join(LOG.read_text(errors="replace").splitlines()[-15:])
            raise EngineError(
                f"dockerd did not answer within {timeout:g}s; end of {LOG.name}:\n{tail}"
            )
        time.sleep(0.5)
    return f"docker engine up (pid {_running_pid()}, data root {DATA_ROOT})"


def down(timeout: float = 60) -> str:
    pid = _running_pid()
    if pid is None:
        return "docker engine not running"
    running = subprocess.run(
        ["docker", "ps", "-q"], capture_output=True, text=True, check=False
    ).stdout.split()
    if running:
        # -v: kind's nodes keep /var in anonymous volumes, gigabytes each, left behind without it.
        subprocess.run(["docker", "rm", "-f", "-v", *running], capture_output=True, check=False)
    subprocess.run(["docker", "volume", "prune", "-f"], capture_output=True, check=False)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    # dockerd removes its pidfile before it is done: wait for the process itself.
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.5)
    # dockerd's managed containerd and its shims must be gone too, not merely told to go.
    deadline = time.monotonic() + timeout
    while _children():
        subprocess.run(["pkill", "-f", f"containerd.*{EXEC_ROOT}"], check=False)
        if time.monotonic() > deadline:
            raise EngineError(f"still running after {timeout:g}s: {_children()}")
        time.sleep(0.3)
    _unmount_under(EXEC_ROOT)
    shutil.rmtree(EXEC_ROOT, ignore_errors=True)
    if EXEC_ROOT.exists():
        left = sorted(str(path) for path in EXEC_ROOT.rglob("*"))
        raise EngineError(f"{EXEC_ROOT} could not be removed, it still holds {left}")
    return f"docker engine stopped ({len(running)} container(s) removed)"


def _mounts_under(root: Path) -> list[str]:
    """Mount points below root, deepest first; mountinfo escapes blanks as octal."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if Path(point).is_relative_to(root):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def _unmount_under(root: Path) -> None:
    """dockerd may leave its netns/default bind mount behind, which keeps the directory busy."""
    for point in _mounts_under(root):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m netconform.offline.engine", description=__doc__
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    try:
        if args.action == "status":
            pid = _running_pid()
            print(f"docker engine {f'running (pid {pid})' if pid else 'not running'}")
            return 0 if pid else 1
        print(up() if args.action == "up" else down())
    except EngineError as error:
        print(f"engine: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
