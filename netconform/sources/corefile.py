"""The user's CoreDNS configuration: a Corefile's server blocks and where each forwards, and the
Corefile the CoreDNS Helm chart renders from its `servers:` values.

Only what split DNS is judged on is read: each block's zones and its `forward .` targets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_COMMENT = re.compile(r"#.*$", re.MULTILINE)


@dataclass(frozen=True)
class ServerBlock:
    zones: tuple[str, ...]  # as written, without scheme and port ("." for the root)
    forward_to: tuple[str, ...]  # addresses of `forward .`, without ports


def _zone(key: str) -> str:
    """A server block key (`dns://home.arpa:53`, `.:53`, `home.arpa`) as its zone."""
    zone = re.sub(r":\d+$", "", re.sub(r"^[a-z]+://", "", key))
    return "." if zone in (".", "") else zone.rstrip(".").lower()


def _address(target: str) -> str:
    """A forward target's address: without its dns:// scheme and port."""
    bare = re.sub(r"^[a-z]+://", "", target)
    if bare.startswith("["):
        return bare[1 : bare.index("]")]
    return bare.rsplit(":", 1)[0] if bare.count(":") == 1 else bare


def server_blocks(corefile: str) -> list[ServerBlock]:
    """Top-level blocks `zone[:port] [zone...] { ... }` and the `forward . X...` inside each."""
    text = _COMMENT.sub("", corefile)
    blocks = []
    depth, start, keys = 0, 0, ""
    for index, char in enumerate(text):
        if char == "{":
            if depth == 0:
                keys, start = text[text.rfind("}", 0, index) + 1 : index], index + 1
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                blocks.append(_block(keys, text[start:index]))
    return blocks


def _block(keys: str, body: str) -> ServerBlock:
    zones = tuple(_zone(key) for key in keys.split())
    forward: tuple[str, ...] = ()
    depth = 0
    for line in body.splitlines():
        words = line.split()
        if depth == 0 and len(words) >= 3 and words[0] == "forward" and words[1] == ".":
            forward = tuple(_address(w) for w in words[2:] if w != "{")
        depth += line.count("{") - line.count("}")
    return ServerBlock(zones, forward)


def forwarding(corefile: str) -> dict[str, tuple[str, ...]]:
    """Zone -> the addresses it forwards to ("." is the catch-all)."""
    return {zone: block.forward_to for block in server_blocks(corefile) for zone in block.zones}


def from_helm_servers(servers: Sequence[Mapping[str, Any]]) -> str:
    """The Corefile the CoreDNS chart renders (templates/configmap.yaml) from `servers:`."""
    out = []
    for server in servers:
        port = server.get("port", 53)
        keys = " ".join(
            f"{zone.get('scheme', '')}{zone.get('zone', '.')}:{port}"
            for zone in server.get("zones") or [{}]
        )
        lines = []
        for plugin in server.get("plugins") or []:
            line = f"    {plugin['name']}"
            if plugin.get("parameters") is not None:
                line += f" {plugin['parameters']}"
            if plugin.get("configBlock"):
                inner = "\n".join(f"        {x}" for x in str(plugin["configBlock"]).splitlines())
                line += f" {{\n{inner}\n    }}"
            lines.append(line)
        out.append(f"{keys} {{\n" + "\n".join(lines) + "\n}")
    return "\n".join(out) + "\n"
