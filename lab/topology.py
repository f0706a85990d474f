"""Lab hosts as network namespaces on one bridge, removed whatever happens.

Every namespace of a lab is named `nclab-<pid>-<token>-<host>`: the bridge
lives in a namespace of its own (`...-sw`), so the lab never touches the
host's own network, and a lab whose process died can be recognised and swept.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lab.processes import Processes, shielded, sigterm_interrupts
from netconform.exec import NetnsExec

PREFIX = "nclab"
# FRR keeps each instance's sockets in a directory here, named after the lab run.
FRR_RUN = Path("/var/run/frr")


def _ip(*args: str, stdin: str | None = None) -> None:
    done = subprocess.run(["ip", *args], input=stdin, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


def _kill_namespace(name: str) -> None:
    pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    for pid in pids.split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def sweep_stale() -> list[str]:
    """Remove the namespaces of labs whose process is gone (killed with SIGKILL, say)."""
    swept = []
    for name in namespaces():
        parts = name.split("-")
        if len(parts) < 3 or parts[0] != PREFIX or not parts[1].isdigit():
            continue
        try:
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            _kill_namespace(name)
            swept.append(name)
    for run_dir in FRR_RUN.glob(f"{PREFIX}-*-*"):
        pid = run_dir.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
            swept.append(str(run_dir))
    return swept


@dataclass(frozen=True)
class Host:
    name: str
    netns: str
    address: str
    exec: NetnsExec


@dataclass
class Lab:
    """A context manager; leaving it (normally, by exception, SIGINT or SIGTERM) removes all."""

    prefix_len: int = 15
    run: str = field(default_factory=lambda: f"{PREFIX}-{os.getpid()}-{secrets.token_hex(3)}")
    hosts: dict[str, Host] = field(default_factory=dict)
    processes: Processes = field(default_factory=Processes)
    _created: list[str] = field(default_factory=list)
    _signals: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def switch(self) -> str:
        return f"{self.run}-sw"

    def __enter__(self) -> Lab:
        self._signals.enter_context(sigterm_interrupts())
        try:
            self._add_namespace(self.switch)
            _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.switch, "link", "set", "br0", "up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self._created.append(name)

    def _attached(self, name: str, outside: str, leg: str, address: str, prefix_len: int) -> Host:
        """A new namespace whose eth0 is the far end of veth `leg` in namespace `outside`."""
        if name in self.hosts:
            raise ValueError(f"lab host {name!r} exists already")
        netns = f"{self.run}-{name}"
        self._add_namespace(netns)
        _ip(
            "-n",
            outside,
            "link",
            "add",
            leg,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            netns,
        )
        _ip("-n", netns, "addr", "add", f"{address}/{prefix_len}", "dev", "eth0")
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("-n", netns, "link", "set", "eth0", "up")
        host = Host(name, netns, address, NetnsExec(netns))
        self.hosts[name] = host
        return host

    def host(self, name: str, address: str, routes: Sequence[str] = ()) -> Host:
        """A host with one leg on the bridge; extra routes are sent out that leg."""
        leg = f"h{len(self.hosts)}"
        host = self._attached(name, self.switch, leg, address, self.prefix_len)
        _ip("-n", self.switch, "link", "set", leg, "master", "br0", "up")
        for route in routes:
            _ip("-n", host.netns, "route", "add", route, "dev", "eth0")
        return host

    def alias(self, host: Host, address: str) -> None:
        """A second address on the host's leg (a Service's virtual one), answered on the bridge."""
        _ip("-n", host.netns, "addr", "add", f"{address}/32", "dev", "eth0")

    def behind(self, gateway: Host, name: str, address: str, prefix_len: int = 24) -> Host:
        """A host reached only through `gateway` (a pod behind its node): a veth pair, the
        gateway side `to-<name>` holding the subnet's first address and forwarding."""
        network = ipaddress.ip_network(f"{address}/{prefix_len}", strict=False)
        side = str(next(network.hosts()))
        leg = f"to-{name}"
        host = self._attached(name, gateway.netns, leg, address, prefix_len)
        _ip("-n", gateway.netns, "addr", "add", f"{side}/{prefix_len}", "dev", leg)
        _ip("-n", gateway.netns, "link", "set", leg, "up")
        _ip("-n", host.netns, "route", "add", "default", "via", side)
        gateway.exec.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], timeout=10)
        return host

    def spawn(
        self, host: Host, argv: Sequence[str], log: Path | None = None
    ) -> subprocess.Popen[str]:
        """A long-running process inside the host, its output in `log` if given; stopped when
        the lab closes."""
        with log.open("w") if log else open(os.devnull, "w") as stdout:
            return self.processes.spawn(
                [*host.exec.prefix, *argv], stdout=stdout, stderr=subprocess.PIPE, text=True
            )

    def wait_listening(
        self, host: Host, ports: Sequence[int], process: subprocess.Popen[str], timeout: float = 15
    ) -> None:
        """Until every TCP port accepts on the host's address; a daemon that died says why."""
        check = (
            "import socket,sys\n"
            "for p in sys.argv[2:]: socket.create_connection((sys.argv[1], int(p)), 0.5).close()"
        )
        deadline = time.monotonic() + timeout
        while host.exec.run(
            ["python3", "-c", check, host.address, *map(str, ports)], timeout=timeout
        ).rc:
            if process.poll() is not None:
                why = process.stderr.read() if process.stderr else ""
                raise RuntimeError(f"{process.args} in lab host {host.name} exited: {why.strip()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"lab host {host.name} is not listening on {list(ports)}")
            time.sleep(0.1)

    def nft(self, host: Host, ruleset: str) -> None:
        done = host.exec.run(["nft", "-f", "-"], ruleset, timeout=10)
        if done.rc:
            raise RuntimeError(f"nft in {host.name}: {done.stderr.strip()}\n{ruleset}")

    def close(self) -> None:
        shielded(self._remove_all)
        self._signals.close()

    def _remove_all(self) -> None:
        self.processes.stop_all()
        for name in reversed(self._created):
            _kill_namespace(name)
        self._created.clear()
        self.hosts.clear()
