"""Egress targets next to a kind cluster: containers on kind's Docker network running the agent.

The spec's external CIDRs are the production intent; on kind the suite stands
up one container per external and tests the same policy against its address.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from netconform.kube import MANAGED_BY
from netconform.spec import Architecture
from netconform.workloads import AGENT_FILE, RUN_LABEL

KIND_NETWORK = "kind"


def container_name(run: str, external: str) -> str:
    return f"netconform-{run}-{external}"


def _docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def start(arch: Architecture, run: str, image: str, agent: Path = AGENT_FILE) -> dict[str, str]:
    """One serving container per external; returns name -> address on the kind network."""
    addresses = {}
    for name, external in arch.externals.items():
        tcp = ",".join(str(p.port) for p in external.ports if p.protocol == "TCP")
        udp = ",".join(str(p.port) for p in external.ports if p.protocol == "UDP")
        serve = ["serve", *(["--tcp", tcp] if tcp else []), *(["--udp", udp] if udp else [])]
        container = container_name(run, name)
        label_pairs = {**MANAGED_BY, RUN_LABEL: run}.items()
        labels = [arg for k, v in label_pairs for arg in ("--label", f"{k}={v}")]
        _docker(
            *("run", "-d", "--rm", "--name", container, "--network", KIND_NETWORK),
            *labels,
            *("-e", f"POD_NAME={name}", "-v", f"{agent}:/agent/agent.py:ro"),
            *(image, "python3", "/agent/agent.py", *serve),
        )
        addresses[name] = _docker(
            "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container
        )
    return addresses


def stop(run: str, externals: Mapping[str, str]) -> None:
    for name in externals:
        subprocess.run(
            ["docker", "rm", "-f", container_name(run, name)], capture_output=True, check=False
        )


def remove_leftovers() -> list[str]:
    """Outside containers of any run (for `make clean`); none where Docker does not answer."""
    if not shutil.which("docker"):
        return []
    label = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        check=False,
    )
    containers = listed.stdout.split() if listed.returncode == 0 else []
    for container in containers:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
    return [f"container {c}" for c in containers]
