"""Whether each Service's virtual address reaches every pod behind it and nothing else: a backend
the datapath never picks is a Service that half works, a stranger answering is one misrouted."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from netconform.verdict import Verdict


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
