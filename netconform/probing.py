"""Turn matrix cells into netprobe calls: one batched call per source, all sources at once.

Exec round-trips and deny timeouts dominate a run, so the cost of a whole
matrix is about one probe timeout, however many cells are denied.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from netconform.matrix import (
    NO_ANSWER,
    Cell,
    Endpoint,
    ExpectedMatrix,
    Observation,
    by_placement,
    restrict,
)
from netconform.probe_client import NetprobeUnanswered, ProbeSite
from netconform.spec import PortSpec
from netconform.timeouts import DEFAULT as DEFAULT_TIMEOUTS

DNS_UDP = PortSpec(53, "UDP")


def host_port(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class MatrixProber:
    """Observes cells by running netprobe at each cell's source."""

    def __init__(
        self,
        sites: Mapping[Endpoint, ProbeSite],
        addresses: Mapping[Endpoint, str],
        timeout: float,
        dns_query: str | None = None,
        placed: Mapping[tuple[Endpoint, Endpoint, str], str] | None = None,
        exec_slack: float = DEFAULT_TIMEOUTS.exec_slack,
    ) -> None:
        """`dns_query`: a name to ask real DNS servers on 53/UDP, which ignore an echo payload.
        `placed`: the destination's address per (source, destination, placement) where its
        pods sit on the source's node or another one; else `addresses`."""
        self.sites = sites
        self.addresses = addresses
        self.timeout = timeout
        self.dns_query = dns_query
        self.placed = placed or {}
        self.exec_slack = exec_slack

    def probed(self, expected: ExpectedMatrix) -> ExpectedMatrix:
        """Cells whose source has a site and whose destination an address here (an external
        needs one given; the Gateway's Envoy is no site: its cells are the analyzer's and the
        Gateway suite's), each between workloads once per placement (same node, other node)."""
        known = (
            c for c in expected.cells if c.source in self.sites and c.destination in self.addresses
        )
        return by_placement(restrict(expected, known), self.placed)

    def through(
        self, addresses: Mapping[Endpoint, str], sources: Collection[Endpoint]
    ) -> MatrixProber:
        """These sources, probing these destinations at these addresses (a Service's virtual
        one, where the datapath picks the pod): no placement applies to them."""
        placed = {key: a for key, a in self.placed.items() if key[1] not in addresses}
        return MatrixProber(
            {source: site for source, site in self.sites.items() if source in sources},
            {**self.addresses, **addresses},
            self.timeout,
            self.dns_query,
            placed,
            self.exec_slack,
        )

    def address(self, cell: Cell) -> str:
        placed = self.placed.get((cell.source, cell.destination, cell.placement))
        return placed or self.addresses[cell.destination]

    def probe(self, cell: Cell) -> dict[str, Any]:
        target = host_port(self.address(cell), cell.port.port)
        if self.dns_query and cell.port == DNS_UDP:
            return {
                "id": str(cell),
                "dns": self.dns_query,
                "server": target,
                "timeout": self.timeout,
            }
        return {"id": str(cell), cell.port.protocol.lower(): target, "timeout": self.timeout}

    def reproduce(self, cell: Cell) -> str:
        return self.sites[cell.source].command_line(self.probe(cell))

    def observe(self, cells: Iterable[Cell]) -> dict[Cell, Observation]:
        """One netprobe call per source, every source at the same time."""
        by_source: dict[Endpoint, list[Cell]] = defaultdict(list)
        for cell in cells:
            by_source[cell.source].append(cell)
        return self._run_batches(list(by_source.values()))

    def observe_one_by_one(self, cells: Iterable[Cell]) -> dict[Cell, Observation]:
        """The naive way, one netprobe call per cell in turn: the benchmark's baseline."""
        observed: dict[Cell, Observation] = {}
        for cell in cells:
            observed.update(self._batch([cell]))
        return observed

    def _run_batches(self, batches: Sequence[list[Cell]]) -> dict[Cell, Observation]:
        observed: dict[Cell, Observation] = {}
        if not batches:
            return observed
        with ThreadPoolExecutor(max_workers=len(batches)) as pool:
            for result in pool.map(self._batch, batches):
                observed.update(result)
        return observed

    def _batch(self, cells: list[Cell]) -> dict[Cell, Observation]:
        site = self.sites[cells[0].source]
        try:
            results = site.probe(
                [self.probe(cell) for cell in cells], self.timeout + self.exec_slack
            )
        except NetprobeUnanswered as error:
            return dict.fromkeys(cells, Observation(NO_ANSWER, str(error)))
        return {cell: _observation(result) for cell, result in zip(cells, results, strict=True)}


def _observation(result: Mapping[str, Any]) -> Observation:
    return Observation(
        str(result["verdict"]), str(result.get("detail", "")), result.get("elapsed_ms")
    )
