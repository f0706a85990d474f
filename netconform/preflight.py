"""Say, before anything starts, which tool is missing or too old and how to get it.

A kind run needs four programs and a running Docker daemon; failing on the
first `kind create` with a stack trace helps nobody, so the suite checks them
all first and names every problem at once.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from netconform.versions import load_versions, tool, version


@dataclass(frozen=True)
class Tool:
    name: str
    purpose: str
    version_argv: tuple[str, ...]
    minimum: tuple[int, int]
    how: str
    # versions.yaml key of a copy `make local-images` may have built
    built_as: str | None = None
    # versions.yaml key this tool must be within one minor of (kubectl's version skew)
    skew_from: str | None = None


KIND_TOOLS = (
    Tool(
        "docker",
        "runs the kind nodes",
        ("version", "--format", "{{.Server.Version}}"),
        (20, 10),
        "install Docker Engine and start it (see docs.docker.com/engine/install); on a "
        "machine without registry access: make docker-up, then make test IMAGES=local",
    ),
    Tool("kind", "creates the cluster", ("version",), (0, 27), "make tools", "kind"),
    Tool("helm", "installs Cilium", ("version", "--short"), (3, 12), "make tools"),
    Tool(
        "kubectl",
        "applies CRDs, waits, reproduces failures",
        ("version", "--client"),
        (1, 30),
        "make tools",
        "kubernetes",
        "kubernetes",
    ),
)

Versions = Mapping[str, Mapping[str, str]]
Run = Callable[[Sequence[str]], tuple[int, str]]


def _run(argv: Sequence[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=20, check=False)
    except FileNotFoundError:
        return 127, "not found"
    except subprocess.TimeoutExpired:
        return 124, "did not answer within 20s"
    return done.returncode, (done.stdout + done.stderr).strip()


def problem(t: Tool, versions: Versions, run: Run = _run) -> str | None:
    """None when the tool is there, works and is recent enough; else what is wrong."""
    pinned = version(versions, t.built_as) if t.built_as else None
    rc, out = run([tool(t.name, pinned), *t.version_argv])
    if rc == 127:
        return f"{t.name} ({t.purpose}) is missing: {t.how}"
    found = re.search(r"(\d+)\.(\d+)", out) if rc == 0 else None
    if found is None:
        first = out.splitlines()[0] if out else f"exit {rc}"
        return f"{t.name} ({t.purpose}) does not work: {first}; {t.how}"
    have = (int(found.group(1)), int(found.group(2)))
    if have < t.minimum:
        return (
            f"{t.name} {have[0]}.{have[1]} is too old, need {t.minimum[0]}.{t.minimum[1]}+: {t.how}"
        )
    if t.skew_from:
        target = re.search(r"(\d+)\.(\d+)", version(versions, t.skew_from))
        assert target is not None, f"versions.yaml {t.skew_from} is not a version"
        major, minor = int(target.group(1)), int(target.group(2))
        if have[0] != major or abs(have[1] - minor) > 1:
            return (
                f"{t.name} {have[0]}.{have[1]} is more than one minor away from the pinned "
                f"{t.skew_from} {major}.{minor} (kubectl supports one minor of skew): {t.how}"
            )
    return None


def problems(tools: Sequence[Tool] = KIND_TOOLS, run: Run = _run) -> list[str]:
    versions = load_versions()
    return [p for t in tools if (p := problem(t, versions, run))]


def report(found: Sequence[str]) -> str:
    lines = [f"netconform: cannot run against a kind cluster ({len(found)} problem(s)):"]
    lines += [f"  - {p}" for p in found]
    lines.append("Fix these, or run against a cluster you already have: make test CLUSTER=existing")
    return "\n".join(lines)
