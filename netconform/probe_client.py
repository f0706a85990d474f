"""The one client of netprobe (`netconform/netprobe.py`, the probe): where it runs, and its protocol
(a JSON batch of probes on stdin, a result per probe on stdout), so every caller asks the same
way and a change to either is made once."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netconform.exec import Exec, ExecTimeout

NETPROBE_FILE = Path(__file__).with_name("netprobe.py")
NETPROBE_DIR = "/netprobe"
# Pods and containers have it mounted at NETPROBE_DIR; this host and the lab's namespaces run it
# where it is.
NETPROBE_ARGV = ("python3", f"{NETPROBE_DIR}/{NETPROBE_FILE.name}")
HOST_NETPROBE_ARGV = (sys.executable, str(NETPROBE_FILE))


def mounted(netprobe: Path = NETPROBE_FILE) -> tuple[str, str]:
    """The `docker run` flags that put netprobe where NETPROBE_ARGV finds it."""
    return ("-v", f"{netprobe}:{NETPROBE_ARGV[1]}:ro")


class NetprobeUnanswered(RuntimeError):
    """No results: the call outlasted its timeout, or netprobe wrote no protocol answer."""


@dataclass(frozen=True)
class ProbeSite:
    """Where probes start: a transport, and netprobe's argv there."""

    exec: Exec
    argv: tuple[str, ...] = NETPROBE_ARGV

    def probe(self, probes: Sequence[Mapping[str, Any]], timeout: float) -> list[dict[str, Any]]:
        """One netprobe call for every probe; a result each, in their order. `timeout` bounds
        the whole call (the probes' own timeouts plus the transport's)."""
        payload = json.dumps({"probes": list(probes)})
        try:
            done = self.exec.run([*self.argv, "probe"], payload, timeout=timeout)
        except ExecTimeout as error:
            raise NetprobeUnanswered(str(error)) from None
        try:
            results = json.loads(done.stdout)["results"]
        except (ValueError, KeyError, TypeError):
            results = None
        if not isinstance(results, list) or len(results) != len(probes):
            said = (done.stderr or done.stdout).strip()[-300:]
            raise NetprobeUnanswered(f"netprobe exit {done.rc}: {said}")
        return results

    def by_id(self, probes: Sequence[Mapping[str, Any]], timeout: float) -> dict[str, Any]:
        """The results by each probe's id."""
        return {p["id"]: r for p, r in zip(probes, self.probe(probes, timeout), strict=True)}

    def command_line(self, probe: Mapping[str, Any]) -> str:
        """One probe as a person runs it from a shell, to reproduce a result."""
        return self.exec.command_line([*self.argv, "probe"], json.dumps(probe))
