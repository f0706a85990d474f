"""The lab leaves nothing behind: not on exit, not on an exception, not on SIGINT or SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.processes import alive, default_interrupt, interrupt_script
from lab.topology import PREFIX, Lab, namespaces, sweep_stale

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]


def leftovers(run: str) -> list[str]:
    return [name for name in namespaces() if name.startswith(run)]


def pids_in(run: str) -> list[int]:
    listed = (
        subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
        for name in leftovers(run)
    )
    return [int(pid) for text in listed for pid in text.split()]


def test_hosts_talk_over_the_bridge_and_vanish_on_exit() -> None:
    with Lab() as lab:
        a = lab.host("a", "198.18.3.1")
        lab.host("b", "198.18.3.2")
        sleeper = lab.spawn(a, ["sleep", "300"])
        ping = a.exec.run(
            ["python3", "-c", "import socket; socket.create_connection(('198.18.3.2', 9), 2)"]
        )
        assert "ConnectionRefusedError" in ping.stderr  # the RST of a real host across the bridge
        assert len(leftovers(lab.run)) == 3
        run = lab.run
    assert leftovers(run) == []
    assert sleeper.poll() is not None


def test_an_exception_inside_still_cleans_up() -> None:
    run = ""
    with pytest.raises(RuntimeError, match="boom"), Lab() as lab:
        run = lab.run
        lab.host("a", "198.18.3.1")
        raise RuntimeError("boom")
    assert run and leftovers(run) == []


def test_duplicate_host_name_is_refused() -> None:
    with Lab() as lab:
        lab.host("a", "198.18.3.1")
        with pytest.raises(ValueError, match="exists already"):
            lab.host("a", "198.18.3.2")


CHILD = """
import json, time
from lab.topology import Lab
with Lab() as lab:
    a = lab.host("a", "198.18.3.1")
    lab.host("b", "198.18.3.2")
    sleeper = lab.spawn(a, ["sleep", "300"])
    print(json.dumps({"run": lab.run, "pid": sleeper.pid}), flush=True)
    time.sleep(300)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_test_leaves_no_namespace_interface_or_process(signum: int) -> None:
    def check(started: dict) -> None:
        assert len(leftovers(started["run"])) == 3 and alive(started["pid"])

    started, stderr = interrupt_script(CHILD, signum, check, timeout=20)
    assert "KeyboardInterrupt" in stderr
    assert leftovers(started["run"]) == []
    assert not alive(started["pid"])


def test_sweep_removes_labs_whose_process_died() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"{PREFIX}-{dead.pid}-abcdef-x"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        assert stale in sweep_stale()
        assert stale not in namespaces()
    finally:
        subprocess.run(["ip", "netns", "del", stale], capture_output=True)


def test_an_interrupted_pytest_lab_run_leaves_nothing_behind() -> None:
    """Ctrl-C in the middle of the real policy-matrix tests, as a person would press it."""
    target = "tests/lab/test_policy_matrix.py::test_ten_healthy_rounds_observe_identical_matrices"
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=default_interrupt,
    )
    run = f"{PREFIX}-{child.pid}-"
    try:
        deadline = time.monotonic() + 60
        while len(pids_in(run)) < 8:  # the agents of the policy lab are serving
            assert child.poll() is None and time.monotonic() < deadline, "the lab never came up"
            time.sleep(0.2)
        time.sleep(1.5)  # well inside the probing rounds
        pids = pids_in(run)
        child.send_signal(signal.SIGINT)
        output, _ = child.communicate(timeout=60)
    finally:
        child.kill()
    assert "KeyboardInterrupt" in output
    assert leftovers(run) == []
    assert [pid for pid in pids if alive(pid)] == []
