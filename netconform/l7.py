"""What a flow's HTTP rules expect of Cilium's proxy, and netprobe's HTTP replies as the
replies checker reads them: each rule's request passes to the destination, the same path with
another method and a path no rule names get 403 from the proxy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netconform.checks.gateway_routes import (
    DENIED_BY_PROXY,
    Expected,
    GatewayRequest,
    Reply,
    routed_to,
)
from netconform.probe_client import ProbeSite
from netconform.spec import HttpRule

# A path no rule of the spec's default flows names; a request there must get 403.
UNNAMED_PATH = "/netconform-unnamed"
# Each request's own limit: an answer comes through a proxy.
REQUEST_TIMEOUT = 3.0


def l7_requests(
    rules: tuple[HttpRule, ...], host: str, port: int, backend: str
) -> dict[GatewayRequest, Expected]:
    """`backend`: "<namespace>/<group>" that must answer the allowed requests."""
    expected: dict[GatewayRequest, Expected] = {}
    for rule in rules:
        method = "GET" if rule.method == "*" else rule.method
        allowed = GatewayRequest("l7 allowed", "http", host, port, rule.path, method)
        expected[allowed] = routed_to(backend)
        if rule.method != "*":
            other = "POST" if rule.method != "POST" else "PUT"
            request = GatewayRequest("l7 other method", "http", host, port, rule.path, other)
            expected[request] = DENIED_BY_PROXY
    expected[GatewayRequest("l7 other path", "http", host, port, UNNAMED_PATH)] = DENIED_BY_PROXY
    return expected


def netprobe_request(request: GatewayRequest, address: str, timeout: float) -> dict[str, object]:
    """netprobe's http probe for the request, sent to `address` with its Host and SNI."""
    return {
        "id": str(request),
        "http": f"{request.scheme}://{address}:{request.port}{request.path}",
        "host": request.host,
        "sni": request.host,
        "method": request.method,
        "headers": dict(request.headers),
        **({"insecure": True} if request.scheme == "https" else {}),
        "timeout": timeout,
    }


def reply_of(result: Mapping[str, object]) -> Reply:
    """netprobe's http probe result as a Reply: "http-NNN" verdicts carry a status."""
    verdict = str(result.get("verdict", ""))
    if not verdict.startswith("http-"):
        return Reply(None, error=f"{verdict}: {result.get('detail', '')}")
    body = result.get("response")
    return Reply(
        int(verdict.removeprefix("http-")),
        body if isinstance(body, dict) else {},
        str(result.get("location", "")),
    )


def ask(
    site: ProbeSite,
    address: str,
    requests: Sequence[GatewayRequest],
    slack: float,
    timeout: float = REQUEST_TIMEOUT,
) -> dict[GatewayRequest, Reply]:
    """Each request from `site` to `address`, all in one netprobe call (`slack`: the transport's
    time on top of the requests' own)."""
    probes = [netprobe_request(request, address, timeout) for request in requests]
    results = site.probe(probes, timeout + slack)
    return {request: reply_of(result) for request, result in zip(requests, results, strict=True)}
