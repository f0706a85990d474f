"""The one client of netprobe (`netconform/netprobe.py`, the probe): where it runs, and its protocol
(a JSON batch of probes on stdin, a result per probe on stdout), so every caller asks the same
way and a change to either is made once."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netconform.exec import Channel, ChannelClosed, Exec, ExecTimeout

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
        said = (done.stderr or done.stdout).strip()[-300:]
        return _results(done.stdout, len(probes), f"exit {done.rc}: {said}")

    def by_id(self, probes: Sequence[Mapping[str, Any]], timeout: float) -> dict[str, Any]:
        """The results by each probe's id."""
        return {p["id"]: r for p, r in zip(probes, self.probe(probes, timeout), strict=True)}

    def command_line(self, probe: Mapping[str, Any]) -> str:
        """One probe as a person runs it from a shell, to reproduce a result."""
        return self.exec.command_line([*self.argv, "probe"], json.dumps(probe))


class ProbeSession(ProbeSite):
    """A site whose netprobe keeps running between batches (`netprobe.py session`): one exec
    per source for a whole run instead of one per batch. On a busy cluster an exec costs
    seconds (API server, kubelet, runc and a Python start share the cores); a batch on an open
    session costs only its probes. A batch that comes while another runs (connections held
    through an agent restart while rounds go on beside them) goes by an exec of its own."""

    def __init__(self, exec: Exec, argv: tuple[str, ...] = NETPROBE_ARGV) -> None:
        super().__init__(exec, argv)
        self._lock = threading.Lock()
        self._channel: Channel | None = None

    def probe(self, probes: Sequence[Mapping[str, Any]], timeout: float) -> list[dict[str, Any]]:
        if not self._lock.acquire(blocking=False):
            return super().probe(probes, timeout)
        try:
            answer = self._ask(json.dumps({"probes": list(probes)}), timeout)
        except (ChannelClosed, ExecTimeout) as error:
            self._drop()  # a late answer must never be read as the next batch's
            raise NetprobeUnanswered(str(error)) from None
        finally:
            self._lock.release()
        return _results(answer, len(probes), f"session answered: {answer.strip()[-300:]}")

    def _ask(self, payload: str, timeout: float) -> str:
        if self._channel is not None:
            try:
                return self._channel.ask(payload, timeout)
            except ChannelClosed:
                self._drop()  # it ended since the last batch (its pod restarted): start it again
        self._channel = self.exec.open([*self.argv, "session"])
        return self._channel.ask(payload, timeout)

    def _drop(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()

    def close(self) -> None:
        with self._lock:
            self._drop()


def _results(stdout: str, count: int, said: str) -> list[dict[str, Any]]:
    """netprobe's results from its answer, exactly one per probe; else what it `said`."""
    try:
        results = json.loads(stdout)["results"]
    except (ValueError, KeyError, TypeError):
        results = None
    if not isinstance(results, list) or len(results) != count:
        raise NetprobeUnanswered(f"netprobe {said}")
    return results
