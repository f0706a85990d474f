"""What the external FRR router learned over BGP, judged against what the nodes must announce.

Pure: takes FRR's own JSON (`show bgp summary json`, `show bgp ipv4 unicast
json`) and returns Verdicts whose evidence is FRR's tables as a person reads
them. Both shapes are read: FRR 8.4 (Debian, the lab) writes `bestpath` as a
bool, FRR 10 as an object `{"overall": true}`, and either may leave fields out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from netconform.verdict import Verdict

ESTABLISHED = "Established"
SHOWN = 8


@dataclass(frozen=True)
class Session:
    peer: str
    state: str
    prefixes: int


@dataclass(frozen=True)
class Path:
    best: bool
    valid: bool
    next_hops: tuple[str, ...]
    as_path: str


def parse_sessions(summary: Mapping[str, Any]) -> dict[str, Session]:
    """`show bgp summary json` -> peer address -> Session (IPv4 unicast)."""
    peers = (summary.get("ipv4Unicast") or {}).get("peers") or {}
    return {
        address: Session(address, str(peer.get("state", "unknown")), int(peer.get("pfxRcd") or 0))
        for address, peer in peers.items()
    }


def _is_best(path: Mapping[str, Any]) -> bool:
    best = path.get("bestpath", False)
    return bool(best.get("overall")) if isinstance(best, Mapping) else bool(best)


def parse_rib(table: Mapping[str, Any]) -> dict[str, list[Path]]:
    """`show bgp ipv4 unicast json` -> prefix -> its paths."""
    rib: dict[str, list[Path]] = {}
    for prefix, paths in (table.get("routes") or {}).items():
        rib[prefix] = [
            Path(
                best=_is_best(path),
                valid=bool(path.get("valid", True)),
                next_hops=tuple(hop["ip"] for hop in path.get("nexthops") or [] if "ip" in hop),
                as_path=str(path.get("path", "")),
            )
            for path in paths
        ]
    return rib


def describe_sessions(sessions: Mapping[str, Session]) -> str:
    lines = [f"{s.peer:<16} {s.state:<12} {s.prefixes} prefixes" for s in sessions.values()]
    return "FRR sessions:\n" + ("\n".join(lines) or "(none)")


def describe_rib(rib: Mapping[str, list[Path]]) -> str:
    lines = [
        f"{prefix:<20} {'best' if path.best else '    '} via {', '.join(path.next_hops) or '-'}"
        f"  AS path {path.as_path or '-'}"
        for prefix, paths in sorted(rib.items())
        for path in paths
    ]
    return "FRR routes:\n" + ("\n".join(lines) or "(none)")


def check_sessions(sessions: Mapping[str, Session], nodes: Iterable[str]) -> Verdict:
    """Every node has an Established session with the router."""
    wanted = sorted(nodes)
    problems = []
    for node in wanted:
        session = sessions.get(node)
        if session is None:
            problems.append(f"no session configured for node {node}")
        elif session.state != ESTABLISHED:
            problems.append(f"node {node}: session {session.state}, not {ESTABLISHED}")
    evidence = describe_sessions(sessions)
    if problems:
        return Verdict(False, f"bgp sessions: {'; '.join(problems[:SHOWN])}", evidence)
    return Verdict(True, f"bgp sessions: all {len(wanted)} nodes {ESTABLISHED}", evidence)


def check_rib(
    rib: Mapping[str, list[Path]],
    wanted: Mapping[str, Iterable[str]],
    nodes: Iterable[str],
    withdrawn: Iterable[str] = (),
) -> Verdict:
    """Each wanted prefix is best-path via exactly the nodes that should announce it; a
    withdrawn prefix is gone; no best path leads to anything but a node."""
    node_set = set(nodes)
    problems = []
    for prefix, announcers in sorted(wanted.items()):
        paths = rib.get(prefix) or []
        best = [p for p in paths if p.best and p.valid]
        if not best:
            problems.append(f"{prefix} not announced (no best path in FRR)")
            continue
        hops = {hop for path in paths if path.valid for hop in path.next_hops}
        expected = set(announcers)
        if hops - node_set:
            problems.append(f"{prefix} via foreign next hop {', '.join(sorted(hops - node_set))}")
        elif hops != expected:
            problems.append(
                f"{prefix} wrong next hop: via {', '.join(sorted(hops))}, "
                f"want {', '.join(sorted(expected))}"
            )
    for prefix in sorted(withdrawn):
        if rib.get(prefix):
            problems.append(f"{prefix} not withdrawn: still in FRR")
    evidence = describe_rib(rib)
    if problems:
        return Verdict(False, f"bgp routes: {'; '.join(problems[:SHOWN])}", evidence)
    return Verdict(
        True, f"bgp routes: all {len(wanted)} prefixes best-path via their nodes", evidence
    )


def check_session_lost(sessions: Mapping[str, Session], node: str) -> Verdict:
    """The router no longer holds an Established session with `node` (a node gone silent,
    given up once the hold time ran out)."""
    session = sessions.get(node)
    evidence = describe_sessions(sessions)
    if session is not None and session.state == ESTABLISHED:
        held = f"node {node}: session still {ESTABLISHED} ({session.prefixes} prefixes)"
        return Verdict(False, held, evidence)
    return Verdict(True, f"node {node}: session {session.state if session else 'gone'}", evidence)
