"""Whether each Service's virtual address reaches every pod behind it and nothing else: a backend
the datapath never picks is a Service that half works, a stranger answering is one misrouted."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netconform.verdict import Verdict, WrongCell


def check_backends(
    backends: Mapping[str, Collection[str]],
    answered: Mapping[str, Collection[str]],
    reproduce: str = "",
) -> Verdict:
    """`backends`: each Service's pods; `answered`: who answered the probes of its address
    (a probe that got no identity counts as its verdict in parentheses)."""
    problems = []
    for service, pods in sorted(backends.items()):
        seen = set(answered.get(service, ()))
        silent = sorted(set(pods) - seen)
        strangers = sorted(seen - set(pods))
        if silent or strangers:
            said = [f"{len(answered.get(service, ()))} probes"]
            said += [f"never answered: {', '.join(silent)}"] if silent else []
            said += [f"answered instead: {', '.join(strangers)}"] if strangers else []
            problems.append(f"{service}: {'; '.join(said)}")
    if problems:
        evidence = "\n".join([*problems, *([f"reproduce: {reproduce}"] if reproduce else [])])
        return Verdict(
            False, f"{len(problems)} of {len(backends)} Services miss backends", evidence
        )
    total = sum(len(pods) for pods in backends.values())
    return Verdict(True, f"{len(backends)} Services: every one of {total} backends answered")


@dataclass(frozen=True, order=True)
class EntryPoint:
    """Where an outside client enters a group's Service: a node's address on the node port, or
    the LoadBalancer address sent through that node. `pods` are the pods that may answer
    there (with externalTrafficPolicy Local, those on the node); none: nothing may connect."""

    service: str
    node: str
    address: str
    pods: frozenset[str] = frozenset()
    keeps_source: bool = False
    http: bool = False  # asked by an HTTP request (the port serves HTTP), else a TCP echo

    def __str__(self) -> str:
        return f"{self.service} at {self.address} via {self.node}"


def _source_host(seen: str) -> str:
    """The address part of netprobe's "client" (host:port, [v6]:port)."""
    return seen.rpartition(":")[0].strip("[]")


def check_exposed(
    client: str,
    tries: Mapping[EntryPoint, Sequence[Mapping[str, Any]]],
    reproduce: Mapping[EntryPoint, str] | None = None,
) -> Verdict:
    """Each entry point probed several times from `client` (the backend is picked per
    connection): where pods may answer, every try connects and is answered by one of them,
    seeing the client's own address where the source is kept; elsewhere none connects."""
    problems: list[str] = []
    wrong: list[WrongCell] = []
    for entry, results in sorted(tries.items()):
        got = _exposed_problem(client, entry, results)
        if got:
            expected = "answered by " + ", ".join(sorted(entry.pods)) if entry.pods else "closed"
            wrong.append(WrongCell(f"{client} -> {entry}", expected, got))
            how = (reproduce or {}).get(entry)
            problems.append(
                f"{client} -> {entry}: {got}" + (f"\n  reproduce: {how}" if how else "")
            )
    if problems:
        return Verdict(
            False,
            f"{len(problems)} of {len(tries)} ways in from {client} are wrong",
            "\n".join(problems),
            tuple(wrong),
        )
    open_ = sum(1 for entry in tries if entry.pods)
    return Verdict(
        True, f"from {client}: {open_} open and {len(tries) - open_} closed ways in, as declared"
    )


def _exposed_problem(
    client: str, entry: EntryPoint, results: Sequence[Mapping[str, Any]]
) -> str | None:
    verdicts = [str(r.get("verdict")) for r in results]
    through = [r for r in results if _got_through(str(r.get("verdict")))]
    if not entry.pods:
        return f"{len(through)} of {len(results)} connections accepted" if through else None
    answered = [r.get("response") or {} for r in through]
    if len(answered) < len(results):
        failed = sorted({v for v in verdicts if not _got_through(v)})
        return f"{len(results) - len(answered)} of {len(results)} tries {'/'.join(failed)}"
    strangers = sorted({str(a.get("pod")) for a in answered} - entry.pods)
    if strangers:
        return f"answered by {', '.join(strangers)}"
    if entry.keeps_source:
        seen = sorted({_source_host(str(a.get("client", ""))) for a in answered} - {client})
        if seen:
            return f"the pod saw the client as {', '.join(seen)}, not {client}"
    return None


def _got_through(verdict: str) -> bool:
    """A connection accepted: a TCP echo's, or any HTTP answer (the server is reached)."""
    return verdict == "connected" or verdict.startswith("http-")
