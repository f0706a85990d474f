"""Child processes that must not outlive the test harness that started them.

Used by the lab and by the control-plane harness: both start daemons, and both
must leave nothing behind on exit, on an exception, on SIGINT or on SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block SIGTERM unwinds like Ctrl-C, so cleanup code runs for both."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def shielded(cleanup: Callable[[], None]) -> None:
    """Run cleanup to the end even if Ctrl-C is pressed again meanwhile."""
    if threading.current_thread() is not threading.main_thread():
        cleanup()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        cleanup()
    finally:
        signal.signal(signal.SIGINT, previous)


class Processes:
    def __init__(self) -> None:
        self.started: list[subprocess.Popen[Any]] = []

    def spawn(self, argv: Sequence[str], **popen: Any) -> subprocess.Popen[Any]:
        process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, **popen)
        self.started.append(process)
        return process

    def stop_all(self, grace: float = 3.0) -> None:
        """Newest first: a client goes before the server it talks to."""
        for process in reversed(self.started):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.started):
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            for stream in (process.stdout, process.stderr):
                if stream:
                    stream.close()
        self.started.clear()


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def default_interrupt() -> None:
    """For a child that must see Ctrl-C: a shell without job control starts background jobs
    with SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_script(
    script: str, signum: int, check_started: Callable[[dict[str, Any]], None], timeout: float = 60
) -> tuple[dict[str, Any], str]:
    """Run a Python script (importing from the repo) that prints one JSON line once it is set
    up; check that line, send it the signal, and return the line and the script's stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_interrupt,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line, (
            f"the script never got set up: {child.stderr.read()[-2000:] if child.stderr else ''}"
        )
        started = json.loads(line)
        check_started(started)
        child.send_signal(signum)
        _, stderr = child.communicate(timeout=timeout)
    finally:
        child.kill()
        child.wait()
    return started, stderr
