"""The control plane leaves nothing behind when its run is interrupted."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from lab.processes import alive, interrupt_script

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import json, os, time
from tests.controlplane.conftest import BINARIES, CRDS
from netconform.offline.gobuild import binary_path
from tests.controlplane.harness import control_plane
with control_plane({n: binary_path(n) for n in BINARIES}, CRDS / "gateway-api") as cp:
    children = open(f"/proc/self/task/{os.getpid()}/children").read()
    pids = [int(pid) for pid in children.split()]
    print(json.dumps({"workdir": str(cp.workdir), "pids": pids}), flush=True)
    time.sleep(300)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_control_plane_leaves_no_process_or_file(signum: int) -> None:
    def check(started: dict) -> None:
        assert len(started["pids"]) == 4 and all(alive(pid) for pid in started["pids"])

    started, stderr = interrupt_script(CHILD, signum, check)
    assert "KeyboardInterrupt" in stderr
    assert not Path(started["workdir"]).exists()
    assert [pid for pid in started["pids"] if alive(pid)] == []
