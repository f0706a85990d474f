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

from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.stream import stream

from netconform.exec import Completed, ExecTimeout


@dataclass(frozen=True)
class PodExec:
    core: CoreV1Api
    namespace: str
    pod: str
    container: str | None = None
    context: str | None = None

    def run(
        self, argv: Sequence[str], stdin: str | None = None, timeout: float = 30.0
    ) -> Completed:
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
            stdin=stdin is not None,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
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
