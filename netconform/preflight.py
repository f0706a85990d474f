"""Say, before anything starts, which tool is missing and how to get it.

A kind run needs four programs; failing on the first `kind create` with a
stack trace helps nobody, so the suite checks them first and names them all.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    name: str
    purpose: str
    how: str


KIND_TOOLS = (
    Tool(
        "docker",
        "runs the kind nodes",
        "install Docker Engine and start it (docs.docker.com/engine/install)",
    ),
    Tool(
        "kind",
        "creates the cluster",
        "make tools, or: go install sigs.k8s.io/kind@<version in cluster/versions.yaml>",
    ),
    Tool("helm", "installs Cilium", "make tools, or see helm.sh/docs/intro/install"),
    Tool(
        "kubectl",
        "reproduce commands and debugging",
        "make tools, or see kubernetes.io/docs/tasks/tools",
    ),
)


def missing(
    tools: tuple[Tool, ...], which: Callable[[str], str | None] = shutil.which
) -> list[Tool]:
    return [tool for tool in tools if which(tool.name) is None]


def report(absent: list[Tool]) -> str:
    lines = [f"netconform: cannot run against a kind cluster: {len(absent)} tool(s) missing"]
    lines += [f"  - {t.name} ({t.purpose}): {t.how}" for t in absent]
    lines.append("Or run against a cluster you already have once existing-cluster mode lands.")
    return "\n".join(lines)
