"""LB IPAM: did each Service get (or not get) the address the architecture says?

Pure: reads Services and CiliumLoadBalancerIPPools as the API server returns
them and compares them with expectations written as data. The operator's own
words (condition reason and message) are the evidence.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from netconform.manifest import Manifest
from netconform.verdict import Verdict

SATISFIED = "cilium.io/IPAMRequestSatisfied"
CONFLICT = "cilium.io/PoolConflict"


def _name(obj: Manifest) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def _condition(obj: Manifest, kind: str) -> Manifest:
    found = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in found if c.get("type") == kind), {})


@dataclass(frozen=True)
class ServiceState:
    name: str
    ips: tuple[str, ...]
    reason: str
    message: str

    @classmethod
    def of(cls, service: Manifest) -> ServiceState:
        ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        condition = _condition(service, SATISFIED)
        return cls(
            _name(service),
            tuple(i["ip"] for i in ingress if i.get("ip")),
            str(condition.get("reason", "")),
            str(condition.get("message", "")),
        )

    def __str__(self) -> str:
        addresses = ", ".join(self.ips) or "no address"
        return f"{self.name}: {addresses} [{self.reason or 'no condition'}] {self.message}".rstrip()


@dataclass(frozen=True)
class PoolState:
    name: str
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    conflict: bool
    disabled: bool

    @classmethod
    def of(cls, pool: Manifest) -> PoolState:
        blocks = pool.get("spec", {}).get("blocks") or []
        return cls(
            _name(pool),
            tuple(ipaddress.ip_network(b["cidr"]) for b in blocks if b.get("cidr")),
            _condition(pool, CONFLICT).get("status") == "True",
            bool(pool.get("spec", {}).get("disabled")),
        )

    def __str__(self) -> str:
        flags = [
            flag for flag, on in (("conflict", self.conflict), ("disabled", self.disabled)) if on
        ]
        return f"{self.name}: {', '.join(map(str, self.networks))} {' '.join(flags)}".rstrip()

    def holds(self, ip: str) -> bool:
        address = ipaddress.ip_address(ip)
        return any(address in network for network in self.networks)


@dataclass(frozen=True)
class Allocated:
    """The Service has exactly one address, from `pool` (and equal to `ip` when given)."""

    service: str
    pool: str | None = None
    ip: str | None = None


@dataclass(frozen=True)
class Refused:
    """The Service has no address and the operator says why with `reason` (e.g. out_of_ips)."""

    service: str
    reason: str


@dataclass(frozen=True)
class Shared:
    """Both Services answer on the same address (sharing key)."""

    first: str
    second: str


@dataclass(frozen=True)
class Conflicting:
    """The pool overlaps another and the operator flagged it."""

    pool: str


LbExpectation = Allocated | Refused | Shared | Conflicting


def _problem(
    expectation: LbExpectation, services: dict[str, ServiceState], pools: dict[str, PoolState]
) -> str | None:
    if isinstance(expectation, Conflicting):
        pool = pools.get(expectation.pool)
        if pool is None:
            return f"pool {expectation.pool} does not exist"
        return (
            None
            if pool.conflict
            else f"pool {pool.name} overlaps another but has no {CONFLICT}=True"
        )
    names = (
        [expectation.first, expectation.second]
        if isinstance(expectation, Shared)
        else [expectation.service]
    )
    missing = [n for n in names if n not in services]
    if missing:
        return f"service {missing[0]} does not exist"
    if isinstance(expectation, Shared):
        a, b = services[expectation.first], services[expectation.second]
        if not a.ips or a.ips != b.ips:
            return (
                f"{a.name} has {list(a.ips)} and {b.name} has {list(b.ips)}: not one shared address"
            )
        return None
    state = services[expectation.service]
    if isinstance(expectation, Refused):
        if state.ips:
            return f"{state.name} got {list(state.ips)} but should have none ({expectation.reason})"
        if state.reason != expectation.reason:
            why = state.reason or "missing"
            return f"{state.name} has no address, but for {why!r}, not {expectation.reason!r}"
        return None
    if len(state.ips) != 1:
        return f"{state} instead of one address"
    ip = state.ips[0]
    if expectation.ip and ip != expectation.ip:
        return f"{state.name} got {ip}, not the requested {expectation.ip}"
    if expectation.pool:
        pool = pools.get(expectation.pool)
        if pool is None or not pool.holds(ip):
            return f"{state.name} got {ip}, outside pool {expectation.pool}"
    return None


def _describe(expectation: LbExpectation) -> str:
    if isinstance(expectation, Allocated):
        where = f" from {expectation.pool}" if expectation.pool else ""
        return f"{expectation.service} allocated{where}" + (
            f" as {expectation.ip}" if expectation.ip else ""
        )
    if isinstance(expectation, Refused):
        return f"{expectation.service} refused ({expectation.reason})"
    if isinstance(expectation, Shared):
        return f"{expectation.first} shares with {expectation.second}"
    return f"pool {expectation.pool} flagged as conflicting"


def check_lb_ipam(
    services: Sequence[Manifest],
    pools: Sequence[Manifest],
    expectations: Sequence[LbExpectation],
) -> Verdict:
    service_states = {s.name: s for s in map(ServiceState.of, services)}
    pool_states = {p.name: p for p in map(PoolState.of, pools)}
    problems = [(e, _problem(e, service_states, pool_states)) for e in expectations]
    wrong = [(e, p) for e, p in problems if p]
    lines = [f"{'!' if p else '.'} {_describe(e)}" + (f": {p}" if p else "") for e, p in problems]
    lines.append("services:")
    lines += [f"  {s}" for s in service_states.values()]
    lines.append("pools:")
    lines += [f"  {p}" for p in pool_states.values()]
    if wrong:
        named = "; ".join(p for _, p in wrong[:3] if p)
        summary = f"lb-ipam: {len(wrong)} of {len(expectations)} expectations wrong: {named}"
        return Verdict(False, summary, "\n".join(lines))
    return Verdict(True, f"lb-ipam: all {len(expectations)} expectations hold", "\n".join(lines))
