"""Who may talk to whom: the expected reachability matrix, derived from the spec.

A cell is one (source, destination, port) triple. Expectations are values
(cilium-cli's ResultOK / ResultDrop idea) so they can be printed, compared and
put in a report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from netconform.spec import ENTITIES, WILDCARD, Architecture, Flow, PortSpec

# netprobe's verdicts (DESIGN.md, "Verdicts") that expectations are made of.
CONNECTED = "connected"
DROPPED = "dropped"
NO_ANSWER = "no-answer"  # netprobe itself could not be run or answered garbage


@dataclass(frozen=True)
class Expect:
    name: str
    verdicts: frozenset[str]
    # Hubble's drop reason a drop must carry (cilium-cli's named results), if one is named.
    reason: str | None = None

    def accepts(self, verdict: str) -> bool:
        return verdict in self.verdicts

    def __str__(self) -> str:
        return "/".join(sorted(self.verdicts))


ALLOWED = Expect("allowed", frozenset({CONNECTED}))
# Cilium drops silently: a deny is a timeout. A refusal means the packet reached the host.
DENIED = Expect("denied", frozenset({DROPPED}))
# A deny for one reason only: a policy's, or a failed mutual authentication.
POLICY_DROP = Expect("policy drop", frozenset({DROPPED}), "POLICY_DENIED")
AUTH_DROP = Expect("auth drop", frozenset({DROPPED}), "AUTH_REQUIRED")


@dataclass(frozen=True, order=True)
class Endpoint:
    """Something that can be probed: a workload (env/group), a service or an external."""

    name: str
    kind: str  # "workload" | "service" | "external" | "client" | "entity"
    group: str
    environment: str | None = None


# Cilium's datapath differs between pods on one node and pods on two, so a flow between
# two workloads is probed both ways where their pods allow it.
SAME_NODE = "same-node"
CROSS_NODE = "cross-node"


@dataclass(frozen=True, order=True)
class Cell:
    source: Endpoint
    destination: Endpoint
    port: PortSpec
    placement: str = ""  # SAME_NODE, CROSS_NODE, or "" where it does not apply

    def __str__(self) -> str:
        where = f" [{self.placement}]" if self.placement else ""
        return f"{self.source.name} -> {self.destination.name} {self.port}{where}"


@dataclass(frozen=True)
class Observation:
    """What one probe of a cell saw: netprobe's verdict and its detail."""

    verdict: str
    detail: str = ""
    elapsed_ms: float | None = None


Observed = Mapping[Cell, Observation]


@dataclass(frozen=True)
class ExpectedMatrix:
    cells: Mapping[Cell, Expect]

    @property
    def sources(self) -> list[Endpoint]:
        return sorted({cell.source for cell in self.cells})

    @property
    def destinations(self) -> list[Endpoint]:
        return sorted({cell.destination for cell in self.cells}, key=_destination_order)

    @property
    def ports(self) -> list[PortSpec]:
        return sorted({cell.port for cell in self.cells})

    def count(self, expect: Expect) -> int:
        return sum(1 for value in self.cells.values() if value == expect)


_KIND_ORDER = {"workload": 0, "service": 1, "external": 2, "client": 3, "entity": 4}


def _destination_order(endpoint: Endpoint) -> tuple[int, str]:
    return _KIND_ORDER[endpoint.kind], endpoint.name


def workload_endpoints(arch: Architecture) -> list[Endpoint]:
    return [
        Endpoint(f"{env}/{name}", "workload", name, env)
        for name, group in arch.groups.items()
        for env in group.environments
    ]


def outside_sources(arch: Architecture) -> list[Endpoint]:
    """The clients and Cilium entities (the Gateway's Envoy, other nodes) that some flow comes
    from: each is a source of cells to every workload, so what it must not reach shows too."""
    named = {flow.from_ for flow in arch.policy.flows}
    return [
        *(Endpoint(name, "client", name) for name in arch.clients if name in named),
        *(Endpoint(name, "entity", name) for name in ENTITIES if name in named),
    ]


def workload_ports(arch: Architecture) -> list[PortSpec]:
    """Every port some flow targets on an app group: each workload serves (and is probed on)
    all of them, so a leak on any port shows."""
    return sorted(
        {
            port
            for flow in arch.policy.flows
            if flow.to == WILDCARD or flow.to in arch.groups
            for port in flow.ports
        }
    )


def service_ports(arch: Architecture, group: str) -> list[PortSpec]:
    """The ports the group's Service exposes: those it declares, else all its pods serve."""
    return sorted(arch.groups[group].service.ports) or workload_ports(arch)


def _destinations(arch: Architecture) -> list[tuple[Endpoint, list[PortSpec]]]:
    ports = workload_ports(arch)
    found: list[tuple[Endpoint, list[PortSpec]]] = [(w, ports) for w in workload_endpoints(arch)]
    found += [(Endpoint(n, "service", n), s.ports) for n, s in arch.services.items()]
    found += [(Endpoint(n, "external", n), e.ports) for n, e in arch.externals.items()]
    return found


def _permits(flow: Flow, source: Endpoint, destination: Endpoint, port: PortSpec) -> bool:
    if source.kind != "workload":
        return (
            flow.from_ == source.group
            and port in flow.ports
            and destination.kind == "workload"
            and flow.to in (WILDCARD, destination.group)
            and (flow.environments is None or destination.environment in flow.environments)
        )
    if port not in flow.ports or flow.from_ not in (WILDCARD, source.group):
        return False
    if flow.environments is not None and source.environment not in flow.environments:
        return False
    if flow.to == WILDCARD:
        # A wildcard destination means the app groups, never the world.
        return destination.kind == "workload" and (
            flow.across_environments or destination.environment == source.environment
        )
    if flow.to != destination.group:
        return False
    same_env = destination.environment in (None, source.environment)
    return destination.kind != "workload" or flow.across_environments or same_env


def expected_matrix(arch: Architecture) -> ExpectedMatrix:
    """Every workload probes every other endpoint on every port that matters there; a client
    or an entity that a flow comes from probes every workload."""
    default = DENIED if arch.policy.default == "deny" else ALLOWED
    cells: dict[Cell, Expect] = {}
    workloads = [(w, workload_ports(arch)) for w in workload_endpoints(arch)]
    pairs = [(s, _destinations(arch)) for s in workload_endpoints(arch)]
    pairs += [(s, workloads) for s in outside_sources(arch)]
    for source, destinations in pairs:
        for destination, ports in destinations:
            if destination == source:
                continue
            for port in ports:
                allowed = any(
                    _permits(flow, source, destination, port) for flow in arch.policy.flows
                )
                cells[Cell(source, destination, port)] = ALLOWED if allowed else default
    return ExpectedMatrix(cells)


def cells_of_flow(arch: Architecture, name: str) -> list[Cell]:
    """The matrix's cells one flow of the spec allows."""
    flow = next(f for f in arch.policy.flows if f.name == name)
    return [
        cell
        for cell in expected_matrix(arch).cells
        if _permits(flow, cell.source, cell.destination, cell.port)
    ]


def of_flows(arch: Architecture, names: Iterable[str]) -> Callable[[Cell], bool]:
    """Whether a cell, probed same-node or cross-node, is one these flows allow."""
    cells = {cell for name in names for cell in cells_of_flow(arch, name)}
    return lambda cell: replace(cell, placement="") in cells


def by_placement(
    expected: ExpectedMatrix, placements: Iterable[tuple[Endpoint, Endpoint, str]]
) -> ExpectedMatrix:
    """Each cell between two workloads once per placement their pods offer (same node,
    other node); cells without one stay as they are."""
    offered: dict[tuple[Endpoint, Endpoint], list[str]] = defaultdict(list)
    for source, destination, placement in placements:
        offered[(source, destination)].append(placement)
    cells: dict[Cell, Expect] = {}
    for cell, expect in expected.cells.items():
        for placement in offered.get((cell.source, cell.destination)) or [cell.placement]:
            cells[replace(cell, placement=placement)] = expect
    return ExpectedMatrix(cells)


def restrict(expected: ExpectedMatrix, keep: Iterable[Cell]) -> ExpectedMatrix:
    """A sub-matrix, for suites that look at one slice (an environment, egress)."""
    wanted = set(keep)
    return ExpectedMatrix({cell: e for cell, e in expected.cells.items() if cell in wanted})


def cells_as_data(expected: ExpectedMatrix, observed: Observed) -> list[dict[str, str]]:
    """Every cell with what was expected and what was seen, for results and reports."""
    return [
        {
            "source": cell.source.name,
            "destination": cell.destination.name,
            "port": str(cell.port),
            "placement": cell.placement,
            "expected": str(expect),
            "observed": observed[cell].verdict if cell in observed else "not observed",
            "ok": str(cell in observed and expect.accepts(observed[cell].verdict)).lower(),
        }
        for cell, expect in sorted(expected.cells.items())
    ]
