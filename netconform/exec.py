"""Transports: one way to run a command somewhere and get its bytes back.

netprobe is the same file everywhere; only the way to reach it differs (a
pod, a container next to kind, a lab network namespace, this host). Each
transport also says how a person would run the same command by hand, so a
failing check can print a line to paste.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Completed:
    rc: int
    stdout: str
    stderr: str


class ExecTimeout(TimeoutError):
    """The command outlived its timeout and was killed."""


class ChannelClosed(RuntimeError):
    """The command behind a channel ended (or its connection broke); the message says how."""


class Channel(Protocol):
    """A command kept running: a line to its stdin, the next line of its stdout back."""

    def ask(self, line: str, timeout: float) -> str:
        """Raise ExecTimeout when no whole line came back in time, ChannelClosed when the
        command is gone; after either the channel is of no further use."""
        ...

    def close(self) -> None: ...


class Exec(Protocol):
    def run(
        self, argv: Sequence[str], stdin: str | None = None, timeout: float = 30.0
    ) -> Completed:
        """Run argv to completion; raise ExecTimeout past the timeout."""
        ...

    def open(self, argv: Sequence[str]) -> Channel:
        """Start argv and keep it running, to talk to it a line at a time."""
        ...

    def command_line(self, argv: Sequence[str], stdin: str | None = None) -> str:
        """The same command as a person would type it in a shell."""
        ...


def _with_stdin(line: str, stdin: str | None) -> str:
    return f"{line} <<< {shlex.quote(stdin)}" if stdin is not None else line


@dataclass(frozen=True)
class LocalExec:
    """This host, optionally behind a fixed argv prefix (sudo, nsenter, ...)."""

    prefix: tuple[str, ...] = ()

    def run(
        self, argv: Sequence[str], stdin: str | None = None, timeout: float = 30.0
    ) -> Completed:
        full = [*self.prefix, *argv]
        try:
            done = subprocess.run(
                full, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise ExecTimeout(f"{shlex.join(full)} still running after {timeout:g}s") from None
        except FileNotFoundError as error:
            return Completed(127, "", f"{full[0]}: {error.strerror}")
        return Completed(done.returncode, done.stdout, done.stderr)

    def open(self, argv: Sequence[str]) -> Channel:
        return LocalChannel([*self.prefix, *argv])

    def command_line(self, argv: Sequence[str], stdin: str | None = None) -> str:
        return _with_stdin(shlex.join([*self.prefix, *argv]), stdin)


class LocalChannel:
    """A child process on pipes; its stderr goes to a file so a chatty one never blocks."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the channel
        self._buffer = b""
        try:
            self._process = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
            )
        except FileNotFoundError as error:
            self._stderr.close()
            raise ChannelClosed(f"{self.argv[0]}: {error.strerror}") from None

    def ask(self, line: str, timeout: float) -> str:
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            self._process.stdin.write(line.encode() + b"\n")
            self._process.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise ChannelClosed(self._ended()) from None
        deadline = time.monotonic() + timeout
        stdout = self._process.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ExecTimeout(f"{shlex.join(self.argv)} gave no answer within {timeout:g}s")
            if select.select([stdout], [], [], left)[0]:
                chunk = os.read(stdout, 1 << 16)
                if not chunk:
                    raise ChannelClosed(self._ended())
                self._buffer += chunk
        answer, _, self._buffer = self._buffer.partition(b"\n")
        return answer.decode()

    def _ended(self) -> str:
        self._stderr.seek(0)
        said = self._stderr.read().decode(errors="replace").strip()[-300:]
        return f"{shlex.join(self.argv)} ended (exit {self._process.poll()}): {said}"

    def close(self) -> None:
        assert self._process.stdin is not None and self._process.stdout is not None
        with contextlib.suppress(BrokenPipeError):  # a line it never read is flushed on close
            self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()
        self._stderr.close()


class NetnsExec(LocalExec):
    """A named network namespace (`ip netns exec`): how the lab reaches its hosts."""

    def __init__(self, namespace: str) -> None:
        super().__init__(("ip", "netns", "exec", namespace))

    @property
    def namespace(self) -> str:
        return self.prefix[-1]


@dataclass(frozen=True)
class DockerExec:
    """A container next to kind (the FRR router, an outside client), via `docker exec -i`."""

    container: str

    def _local(self) -> LocalExec:
        return LocalExec(("docker", "exec", "-i", self.container))

    def run(
        self, argv: Sequence[str], stdin: str | None = None, timeout: float = 30.0
    ) -> Completed:
        return self._local().run(argv, stdin, timeout)

    def open(self, argv: Sequence[str]) -> Channel:
        return self._local().open(argv)

    def command_line(self, argv: Sequence[str], stdin: str | None = None) -> str:
        return self._local().command_line(argv, stdin)
