"""The control plane leaves nothing behind when its run is interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import json, os, sys, time
sys.path.insert(0, {root!r})
from tests.controlplane.conftest import BINARIES, CRDS
from tests.controlplane.build.builder import binary_path
from tests.controlplane.harness import control_plane
with control_plane({{n: binary_path(n) for n in BINARIES}}, CRDS / "gateway-api") as cp:
    children = open(f"/proc/self/task/{{os.getpid()}}/children").read()
    pids = [int(pid) for pid in children.split()]
    print(json.dumps({{"workdir": str(cp.workdir), "pids": pids}}), flush=True)
    time.sleep(300)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_control_plane_leaves_no_process_or_file(signum: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(root=str(ROOT))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line, child.stderr.read()[-2000:]
        started = json.loads(line)
        assert len(started["pids"]) == 4 and all(alive(pid) for pid in started["pids"])
        child.send_signal(signum)
        _, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
    assert "KeyboardInterrupt" in stderr
    assert not Path(started["workdir"]).exists()
    assert [pid for pid in started["pids"] if alive(pid)] == []
