"""Whether connections opened before a Cilium agent restarted lived through it: Cilium keeps
its datapath and connection tracking while its agent is away, so an established connection
must keep echoing, however long the agent takes to come back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from netconform.verdict import Verdict

# How far apart the caller's clock and a connection's own may be: the connections open once
# netprobe has started at the source, a moment after the caller starts counting.
SKEW = 5.0


def check_held(
    held: Sequence[Mapping[str, Any]], restarted: Sequence[tuple[str, float, float]]
) -> Verdict:
    """`held`: netprobe's hold results; `restarted`: (whose agent, from, to), in seconds
    since the connections opened. Each connection must outlast every restart and end held."""
    if not held:
        return Verdict(False, "no connection was held: nothing was measured")
    last = max((until for _, _, until in restarted), default=0.0)
    problems = []
    for result in held:
        lived = float(result.get("held_s", 0.0))
        if result.get("verdict") != "connected":
            during = [
                what for what, since, until in restarted if since - SKEW <= lived <= until + SKEW
            ]
            when = f" while {' and '.join(during)} restarted" if during else ""
            problems.append(
                f"{result.get('id')}: {result.get('verdict')} after {lived:.1f} s{when} "
                f"({result.get('detail')}, {result.get('echoes', 0)} echoes)"
            )
        elif lived < last:
            problems.append(
                f"{result.get('id')}: held {lived:.1f} s, ended before the restarts did "
                f"({last:.1f} s): nothing proven"
            )
    waits = [float(r.get("longest_wait_ms", 0.0)) for r in held]
    measured = f"{len(held)} connections, longest wait for an echo {max(waits):.0f} ms"
    if problems:
        return Verdict(False, f"{len(problems)} of {len(held)} connections did not live "
                              "through the restarts", "\n".join([measured, *problems]))  # fmt: skip
    return Verdict(True, f"every connection lived through the restarts: {measured}")
