"""What the API server would refuse in a policy file, said before the analyzer reads it: a
document that is not an object, a misspelled policy kind, a field no policy kind has, an
address that is not a CIDR. Silently skipping any of these would analyze less than the user
wrote and call it a pass.

Pure: takes the parsed documents of one file.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

CILIUM_KINDS = ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy")
POLICY_KINDS = (*CILIUM_KINDS, "NetworkPolicy")
_CILIUM_SPEC = {
    "endpointSelector", "nodeSelector", "ingress", "ingressDeny", "egress", "egressDeny",
    "labels", "description", "enableDefaultDeny", "log",
}  # fmt: skip
_CILIUM_RULE = {"toPorts", "icmps", "authentication"}
_CILIUM_FROM = {f"from{k}" for k in ("Endpoints", "Requires", "CIDR", "CIDRSet", "Entities",
                                     "Groups", "Nodes")}  # fmt: skip
_CILIUM_TO = {f"to{k}" for k in ("Endpoints", "Requires", "CIDR", "CIDRSet", "Entities",
                                 "Groups", "Nodes", "Services", "FQDNs")}  # fmt: skip
_NETPOL_SPEC = {"podSelector", "policyTypes", "ingress", "egress"}
_NETPOL_PEER = {"podSelector", "namespaceSelector", "ipBlock"}


def problems(documents: Sequence[Any], where: str) -> list[str]:
    """One line per problem, naming `where` (the file), the object and the field."""
    found: list[str] = []
    for index, doc in enumerate(documents):
        if not isinstance(doc, Mapping):
            found.append(f"{where}: document {index + 1} is a {type(doc).__name__}, not an object")
            continue
        kind = str(doc.get("kind", ""))
        name = f"{kind} {(doc.get('metadata') or {}).get('name', '?')}"
        if kind not in POLICY_KINDS:
            close = difflib.get_close_matches(kind, POLICY_KINDS, n=1, cutoff=0.8)
            if close:
                found.append(f"{where}: {name}: unknown kind {kind!r}: did you mean {close[0]}?")
            continue
        found += [f"{where}: {name}: {line}" for line in _fields(doc)]
    return found


def _fields(doc: Mapping[str, Any]) -> Iterator[str]:
    cilium = doc["kind"] in CILIUM_KINDS
    specs = [("spec", doc.get("spec"))] + [
        (f"specs[{i}]", s) for i, s in enumerate(doc.get("specs") or [])
    ]
    for path, spec in specs:
        if spec is None:
            continue
        if not isinstance(spec, Mapping):
            yield f"{path}: not an object"
            continue
        yield from _unknown(spec, _CILIUM_SPEC if cilium else _NETPOL_SPEC, path)
        for section in ("ingress", "ingressDeny", "egress", "egressDeny"):
            for i, rule in enumerate(spec.get(section) or []):
                at = f"{path}.{section}[{i}]"
                if not isinstance(rule, Mapping):
                    yield f"{at}: not an object"
                elif cilium:
                    peers = _CILIUM_FROM if section.startswith("ingress") else _CILIUM_TO
                    yield from _unknown(rule, _CILIUM_RULE | peers, at)
                    yield from _cidrs(rule, at)
                else:
                    yield from _netpol_rule(rule, section, at)


def _unknown(given: Mapping[str, Any], known: set[str], at: str) -> Iterator[str]:
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.75)
            hint = f": did you mean {close[0]}?" if close else ""
            yield f"{at}: unknown field {key!r}{hint}"


def _cidrs(rule: Mapping[str, Any], at: str) -> Iterator[str]:
    for key in ("fromCIDR", "toCIDR"):
        for value in rule.get(key) or []:
            yield from _cidr(value, f"{at}.{key}")
    for key in ("fromCIDRSet", "toCIDRSet"):
        for item in rule.get(key) or []:
            if isinstance(item, Mapping):
                for value in [item.get("cidr"), *(item.get("except") or [])]:
                    if value is not None:
                        yield from _cidr(value, f"{at}.{key}")


def _netpol_rule(rule: Mapping[str, Any], section: str, at: str) -> Iterator[str]:
    side = "from" if section == "ingress" else "to"
    yield from _unknown(rule, {side, "ports"}, at)
    for j, peer in enumerate(rule.get(side) or []):
        if isinstance(peer, Mapping):
            yield from _unknown(peer, _NETPOL_PEER, f"{at}.{side}[{j}]")
            block = peer.get("ipBlock") or {}
            for value in [block.get("cidr"), *(block.get("except") or [])]:
                if value is not None:
                    yield from _cidr(value, f"{at}.{side}[{j}].ipBlock")


def _cidr(value: Any, at: str) -> Iterator[str]:
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError as error:
        yield f"{at}: {value!r} is not a CIDR ({error})"
