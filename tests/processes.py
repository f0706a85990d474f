"""Child processes that must not outlive the test harness that started them.

Used by the lab and by the control-plane harness: both start daemons, and both
must leave nothing behind on exit, on an exception, on SIGINT or on SIGTERM.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any


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
