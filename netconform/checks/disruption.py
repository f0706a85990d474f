"""Disruption while something changes under a running cluster (a Cilium upgrade): per steady
probe, how many attempts failed, the longest time without a good answer, and whether a
connection that must be denied got through even once.

Pure: takes each probe's attempts (when, good or not, what was seen) and returns the
figures and a Verdict. A leak of a denied cell always fails; an outage only fails past
the budget the caller gives (none: figures only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netconform.verdict import Verdict

# What a probe must see to count as good.
ANSWERED, DENIED = "answered", "denied"
SHOWN = 5


@dataclass(frozen=True)
class Attempt:
    at: float  # seconds since the monitoring started
    good: bool
    seen: str  # the verdict or answer, as the report shows it


@dataclass(frozen=True)
class Series:
    """One steady probe: a cell, a DNS question or a LoadBalancer address."""

    name: str
    wants: str  # ANSWERED or DENIED
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True)
class Figures:
    name: str
    wants: str
    attempts: int
    failed: int
    longest_gap: float  # seconds from the last good attempt before a failure to the next good
    first_failure: str  # "<at> s: <seen>", or ""

    @property
    def leaked(self) -> bool:
        return self.wants == DENIED and self.failed > 0


def longest_gap(attempts: Sequence[Attempt]) -> float:
    """The longest stretch without a good attempt around failed ones, bounded by the first
    and the last attempt where the series starts or ends failing."""
    if not attempts:
        return 0.0
    longest, last_good, failing_since = 0.0, attempts[0].at, None
    for attempt in attempts:
        if attempt.good:
            if failing_since is not None:
                longest = max(longest, attempt.at - last_good)
                failing_since = None
            last_good = attempt.at
        elif failing_since is None:
            failing_since = attempt.at
    if failing_since is not None:
        longest = max(longest, attempts[-1].at - last_good)
    return longest


def figures(series: Series) -> Figures:
    failed = [a for a in series.attempts if not a.good]
    first = f"{failed[0].at:.1f} s: {failed[0].seen}" if failed else ""
    return Figures(
        series.name,
        series.wants,
        len(series.attempts),
        len(failed),
        longest_gap(series.attempts),
        first,
    )


def table(all_figures: Sequence[Figures]) -> str:
    """One row per probe, aligned: the one screen a person reads."""
    width = max((len(f.name) for f in all_figures), default=5)
    lines = [f"{'probe':<{width}}  wants     attempts  failed  longest gap  first failure"]
    for f in all_figures:
        lines.append(
            f"{f.name:<{width}}  {f.wants:<8}  {f.attempts:>8}  {f.failed:>6}  "
            f"{f.longest_gap:>9.1f} s  {f.first_failure or '-'}"
        )
    return "\n".join(lines)


def check_disruption(
    series: Sequence[Series], max_gap: float | None = None, min_attempts: int = 2
) -> Verdict:
    """Fails on any leak, on a probe that was hardly tried (nothing measured), and on a gap
    over `max_gap` seconds where one is given."""
    all_figures = [figures(s) for s in series]
    problems: list[str] = []
    if not all_figures:
        problems.append("no steady probe ran: nothing was measured")
    thin = [f.name for f in all_figures if f.attempts < min_attempts]
    if thin:
        problems.append(f"tried fewer than {min_attempts} times: {', '.join(thin[:SHOWN])}")
    leaks = [f for f in all_figures if f.leaked]
    if leaks:
        names = ", ".join(f"{f.name} ({f.failed}x)" for f in leaks[:SHOWN])
        problems.append(f"{len(leaks)} denied probe(s) got through: {names}")
    if max_gap is not None:
        over = [f for f in all_figures if f.wants == ANSWERED and f.longest_gap > max_gap]
        if over:
            names = ", ".join(f"{f.name} ({f.longest_gap:.1f} s)" for f in over[:SHOWN])
            problems.append(f"{len(over)} probe(s) out longer than {max_gap:g} s: {names}")
    answered = [f for f in all_figures if f.wants == ANSWERED]
    worst = max(answered, key=lambda f: f.longest_gap, default=None)
    measured = (
        f"{len(all_figures)} probes, {sum(f.attempts for f in all_figures)} attempts, "
        f"{sum(f.failed for f in answered)} failed, "
        + (
            f"longest gap {worst.longest_gap:.1f} s ({worst.name})"
            if worst and worst.longest_gap
            else "no gap"
        )
        + f", {len(leaks)} leaks"
    )
    summary = "; ".join(problems) if problems else f"no leak: {measured}"
    disturbed = sorted((f for f in all_figures if f.failed), key=lambda f: -f.longest_gap)
    calm = len(all_figures) - len(disturbed)
    shown = table(disturbed) + "\n" if disturbed else ""
    return Verdict(not problems, summary, f"{measured}\n{shown}{calm} probes never disturbed")
