"""What requests through a Gateway (or an L7 policy's proxy) got: each declared route answered
by its backend (netprobe's echo names the pod and namespace that answered), an unknown host
404 over HTTP and no TLS handshake over HTTPS, a redirect where one is declared, a request an
L7 rule denies 403 from the proxy; a request that got no answer at all is a drop, never a 403.

Pure: takes the expected replies and the observed ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netconform.verdict import Verdict

NO_ANSWER = "no answer"


@dataclass(frozen=True)
class GatewayRequest:
    name: str
    scheme: str  # http or https
    host: str
    port: int
    path: str = "/"
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        extra = "".join(f" [{k}: {v}]" for k, v in self.headers)
        return (
            f"{self.name}: {self.method} {self.scheme}://{self.host}:{self.port}{self.path}{extra}"
        )


@dataclass(frozen=True)
class Reply:
    status: int | None  # None: no HTTP answer (a drop, a refused connection, a TLS failure)
    body: Mapping[str, Any] = field(default_factory=dict)
    location: str = ""
    error: str = ""

    def backend(self) -> str | None:
        """ "<namespace>/<group>" of the pod that answered (pods are named <group>-<hash>...)."""
        pod, namespace = self.body.get("pod"), self.body.get("namespace")
        if not pod or not namespace:
            return None
        return f"{namespace}/{str(pod).rsplit('-', 2)[0]}"

    def __str__(self) -> str:
        if self.status is None:
            return f"{NO_ANSWER} ({self.error})" if self.error else NO_ANSWER
        served = f" from {self.backend()}" if self.backend() else ""
        moved = f" to {self.location}" if self.location else ""
        return f"{self.status}{served}{moved}"


@dataclass(frozen=True)
class Expected:
    status: int | None  # None: the connection is refused or closed before any HTTP answer
    backend: str | None = None  # "<namespace>/<group>" that must answer
    location: str | None = None  # where a redirect must point

    def __str__(self) -> str:
        if self.status is None:
            return "a refused connection or TLS handshake (not a timeout)"
        served = f" from {self.backend}" if self.backend else ""
        moved = f" to {self.location}" if self.location else ""
        return f"{self.status}{served}{moved}"

    def accepts(self, reply: Reply) -> bool:
        if self.status is None:
            # A silent drop times out; a listener without a name's filter chain closes at once.
            why = reply.error.split(":", 1)[0]
            return reply.status is None and why != "dropped" and "Timeout" not in why
        return (
            reply.status == self.status
            and (self.backend is None or reply.backend() == self.backend)
            and (self.location is None or reply.location == self.location)
        )


def routed_to(backend: str) -> Expected:
    return Expected(200, backend)


NOT_FOUND = Expected(404)
# An HTTPS listener has one filter chain per hostname and no default one: an unknown SNI
# gets no handshake (Cilium's operator translation, basic_https_multi_port_listener).
NO_HANDSHAKE = Expected(None)
DENIED_BY_PROXY = Expected(403)


def check_replies(
    expected: Mapping[GatewayRequest, Expected], replies: Mapping[GatewayRequest, Reply]
) -> Verdict:
    lines, wrong = [], 0
    for request, want in expected.items():
        got = replies.get(request, Reply(None, error="not requested"))
        ok = want.accepts(got)
        wrong += not ok
        verdict = "" if ok else f" expected {want}, got {got}"
        lines.append(f"{'  ' if ok else '! '}{request}{verdict or f' -> {got}'}")
    if not expected:
        return Verdict(False, "requests: none expected, nothing was checked")
    summary = (
        f"requests: {wrong} of {len(expected)} answered otherwise than declared"
        if wrong
        else f"requests: all {len(expected)} answered as declared"
    )
    return Verdict(not wrong, summary, "\n".join(lines))
