"""Transports: one way to run a command somewhere and get its bytes back.

netprobe is the same file everywhere; only the way to reach it differs (a
pod, a container next to kind, a lab network namespace, this host). Each
transport also says how a person would run the same command by hand, so a
failing check can print a line to paste.
"""

from __future__ import annotations

import shlex
import subprocess
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


class Exec(Protocol):
    def run(
        self, argv: Sequence[str], stdin: str | None = None, timeout: float = 30.0
    ) -> Completed:
        """Run argv to completion; raise ExecTimeout past the timeout."""
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

    def command_line(self, argv: Sequence[str], stdin: str | None = None) -> str:
        return _with_stdin(shlex.join([*self.prefix, *argv]), stdin)


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

    def command_line(self, argv: Sequence[str], stdin: str | None = None) -> str:
        return self._local().command_line(argv, stdin)
