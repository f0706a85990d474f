"""Exec into a pod through the API server, as a transport for netprobe.

Lives apart from `exec.py` because it needs the Kubernetes client. The
client's exec exit code is unreliable across versions, which is why the
netprobe's JSON on stdout, not the exit code, carries every result.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.stream import stream
from websocket import WebSocketException

from netconform.exec import Channel, ChannelClosed, Completed, ExecTimeout


@dataclass(frozen=True)
class PodExec:
    core: CoreV1Api
    namespace: str
    pod: str
    container: str | None = None
    context: str | None = None

    def _connect(self, argv: Sequence[str], stdin: bool) -> tuple[ApiClient, Any]:
        # stream() swaps the request function of the client it is given until the websocket
        # is open; on a shared client, other threads' plain requests would go out as
        # websockets and fail. A client of its own per exec keeps them apart.
        private = ApiClient(self.core.api_client.configuration)
        session = stream(
            CoreV1Api(private).connect_get_namespaced_pod_exec,
            self.pod,
            self.namespace,
            **({"container": self.container} if self.container else {}),
            command=list(argv),
            stdin=stdin,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        return private, session

    def open(self, argv: Sequence[str]) -> Channel:
        try:
            return PodChannel(f"{self.namespace}/{self.pod}", *self._connect(argv, stdin=True))
        except (OSError, WebSocketException) as error:
            raise ChannelClosed(f"exec in {self.namespace}/{self.pod}: {error}") from None

    def run(
        self, argv: Sequence[str], stdin: str | None = None, timeout: float = 30.0
    ) -> Completed:
        private, session = self._connect(argv, stdin=stdin is not None)
        out: list[str] = []
        err: list[str] = []
        deadline = time.monotonic() + timeout
        try:
            if stdin is not None:
                session.write_stdin(stdin)
                session.close_channel(0)  # EOF for netprobe (channel protocol v5, Kubernetes 1.30+)
            while session.is_open():
                if time.monotonic() > deadline:
                    raise ExecTimeout(
                        f"exec in {self.namespace}/{self.pod} still running after {timeout:g}s"
                    )
                session.update(timeout=1)
                out.append(session.read_stdout() if session.peek_stdout() else "")
                err.append(session.read_stderr() if session.peek_stderr() else "")
        finally:
            session.close()
            private.close()
        return Completed(
            session.returncode if session.returncode is not None else -1, "".join(out), "".join(err)
        )

    def command_line(self, argv: Sequence[str], stdin: str | None = None) -> str:
        context = f" --context {shlex.quote(self.context)}" if self.context else ""
        line = f"kubectl{context} -n {self.namespace} exec -i {self.pod} -- {shlex.join(argv)}"
        return f"{line} <<< {shlex.quote(stdin)}" if stdin is not None else line


class PodChannel:
    """An exec kept open: its websocket carries each line in and the next line out."""

    def __init__(self, where: str, private: ApiClient, session: Any) -> None:
        self.where = where
        self._private = private
        self._session = session

    def ask(self, line: str, timeout: float) -> str:
        try:
            self._session.write_stdin(line + "\n")
            answer = self._session.readline_stdout(timeout=timeout)
        except (OSError, WebSocketException) as error:
            raise ChannelClosed(f"exec in {self.where} broke: {error}") from None
        if answer:
            return str(answer)
        if not self._session.is_open():
            said = (self._session.read_stderr() or "").strip()[-300:]
            raise ChannelClosed(f"exec in {self.where} ended: {said}")
        raise ExecTimeout(f"exec in {self.where} gave no answer within {timeout:g}s")

    def close(self) -> None:
        try:
            self._session.close()
        finally:
            self._private.close()
