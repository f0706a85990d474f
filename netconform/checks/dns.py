"""Split DNS: does each name answer what the spec says from each vantage point, and did each
query take the resolver path it must?

Pure: takes answers as observed (an rcode, or TIMEOUT, and the addresses) and
the names each DNS server logged, and returns Verdicts whose evidence is every
answer and who resolved it. NXDOMAIN, SERVFAIL, REFUSED and a timeout are
kept apart: each points at a different fault.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from netconform.spec import Dns
from netconform.verdict import Verdict

INSIDE, OUTSIDE = "inside", "outside"
NOERROR, NXDOMAIN, TIMEOUT = "NOERROR", "NXDOMAIN", "TIMEOUT"
SHOWN = 6


@dataclass(frozen=True, order=True)
class Question:
    name: str
    type: str
    vantage: str

    def __str__(self) -> str:
        return f"{self.name} {self.type} from {self.vantage}"


@dataclass(frozen=True)
class Answer:
    rcode: str
    addresses: frozenset[str] = frozenset()

    def __str__(self) -> str:
        if self.rcode != NOERROR:
            return self.rcode
        return ", ".join(sorted(self.addresses)) or "NOERROR, no address"


# netprobe's verdicts when no DNS reply came, named so none reads as an rcode.
NO_REPLY = {"dropped": TIMEOUT, "refused": "PORT-UNREACHABLE", "unreachable": "UNREACHABLE"}


def answer_of(result: Mapping[str, Any]) -> Answer:
    """netprobe's `dns` probe result as an Answer: its rcode, or why no reply came (TIMEOUT,
    PORT-UNREACHABLE: nothing listens there, UNREACHABLE: no route)."""
    if result.get("rcode"):
        return Answer(str(result["rcode"]), frozenset(result.get("answers") or ()))
    verdict = str(result.get("verdict", "no-answer"))
    return Answer(NO_REPLY.get(verdict, verdict.upper()))


def expected_answers(dns: Dns) -> dict[Question, Answer]:
    """Inside, a name in an internal zone answers the zone's records and any other name the
    external resolver's; outside, every name answers the external resolver's."""
    expected = {}
    for record in dns.records:
        inside = record.inside if dns.zone_of(record.name) else record.outside
        for vantage, addresses in ((INSIDE, inside), (OUTSIDE, record.outside)):
            rcode = NOERROR if addresses else NXDOMAIN
            answer = Answer(rcode, frozenset(str(a) for a in addresses))
            expected[Question(record.name, record.type, vantage)] = answer
    return expected


def check_answers(
    expected: Mapping[Question, Answer],
    observed: Mapping[Question, Answer],
    resolved_by: Mapping[str, str] | None = None,
) -> Verdict:
    """Every question answered as expected. `resolved_by` (name -> the servers that logged
    it) is the resolver path shown beside each answer."""
    paths = resolved_by or {}
    lines, wrong = [], []
    for question, want in sorted(expected.items()):
        got = observed.get(question)
        path = f"  (logged by {paths[question.name]})" if question.name in paths else ""
        if got == want:
            lines.append(f". {question}: {got}{path}")
            continue
        problem = f"{question}: got {got or 'no answer'}, want {want}"
        wrong.append(problem)
        lines.append(f"! {problem}{path}")
    evidence = "\n".join(lines)
    if wrong:
        summary = f"dns: {len(wrong)} of {len(expected)} answers wrong: " + "; ".join(wrong[:SHOWN])
        return Verdict(False, summary, evidence)
    return Verdict(True, f"dns: all {len(expected)} answers as expected", evidence)


def check_paths(
    must_reach: Mapping[str, str], logs: Mapping[str, Iterable[str]], servers: Iterable[str]
) -> Verdict:
    """Each queried name (name -> the server that must resolve it) was logged by that server
    and by no other of `servers`: an internal name that reaches the external resolver leaked."""
    seen = {server: set(logs.get(server, ())) for server in servers}
    problems, lines = [], []
    for name, owner in sorted(must_reach.items()):
        by = sorted(server for server, names in seen.items() if name in names)
        lines.append(f"{name}: logged by {', '.join(by) or 'nobody'} (must be {owner} only)")
        if owner not in by:
            problems.append(f"{name} never reached {owner}")
        for other in (server for server in by if server != owner):
            problems.append(f"{name} leaked to {other}")
    evidence = "\n".join(lines)
    if problems:
        return Verdict(False, "dns paths: " + "; ".join(problems[:SHOWN]), evidence)
    return Verdict(True, f"dns paths: all {len(must_reach)} queries took their path", evidence)
