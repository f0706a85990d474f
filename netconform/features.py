"""Named features: what a spec asks for and what an environment has, in one place.

The Helm overlays a run installs, the suites' requirements (`@pytest.mark.requires(...)`:
a test skips with the feature's reason), CI's rule that a skip of what can run here is a
failure, and the report header all read these. Adding a feature is adding one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from netconform.spec import Architecture

KERNEL_WIREGUARD = "kernel WireGuard"
ENVOY = "Envoy"

# What the local-images path (no registry: every image built on this machine) lacks, and why.
LOCAL_LACKS: Mapping[str, str] = {
    KERNEL_WIREGUARD: "this machine's kernel has no WireGuard module",
    ENVOY: (
        "no Envoy can be built on this machine: Cilium's Gateway data path and L7 proxy do not "
        "exist on the local-images path"
    ),
}
# What Cilium itself cannot start without: its overlay is left out where this is lacking.
INSTALL_NEEDS = frozenset({KERNEL_WIREGUARD})


@dataclass(frozen=True)
class Feature:
    name: str  # also the marker that selects its suites (-m)
    meaning: str
    asked: Callable[[Architecture], bool]
    not_asked: str
    overlay: str | None = None  # cluster/values/<overlay>.yaml
    needs: tuple[str, ...] = ()


def _https(arch: Architecture) -> bool:
    return any(listener.protocol == "HTTPS" for listener in arch.gateway.listeners)


# In the order their overlays merge.
FEATURES: Mapping[str, Feature] = {
    f.name: f
    for f in (
        Feature("policies", "network policy suites (need a cluster)", lambda a: True, ""),
        Feature(
            "encryption",
            "WireGuard between nodes, proven by packets",
            lambda a: a.encryption.wireguard != "off",
            "architecture.yaml does not ask for WireGuard (encryption.wireguard: off)",
            "encryption",
            (KERNEL_WIREGUARD,),
        ),
        Feature(
            "mutual_auth",
            "mutual authentication (SPIRE) on the flows that require it",
            lambda a: bool(a.mutual_auth.required_for),
            "architecture.yaml requires no mutual authentication (mutual_auth)",
            "mutual-auth",
        ),
        Feature(
            "gateway",
            "Gateway API routing (needs Envoy)",
            lambda a: bool(a.gateway.listeners),
            "architecture.yaml declares no gateway listeners",
            "gateway-api",
            (ENVOY,),
        ),
        Feature(
            "certificates",
            "cert-manager issuing and renewing the HTTPS listeners' certificates",
            _https,
            "architecture.yaml declares no HTTPS listener: nothing to issue",
        ),
        Feature(
            "l7",
            "L7 (HTTP) policy through Cilium's proxy (needs Envoy)",
            lambda a: any(flow.http for flow in a.policy.flows),
            "architecture.yaml declares no HTTP rules on a flow",
            needs=(ENVOY,),
        ),
        Feature(
            "bgp",
            "BGP to an FRR router next to the cluster",
            lambda a: a.bgp is not None,
            "architecture.yaml declares no bgp section",
            "bgp",
        ),
        Feature(
            "l2_announcements",
            "LB addresses announced on the nodes' LAN (ARP)",
            lambda a: a.lb_ipam.announce == "l2",
            "architecture.yaml announces LB addresses by BGP or not at all",
            "l2-announcements",
        ),
        Feature(
            "operator_failover",
            "Cilium operator failover: another operator leads when the leader goes",
            lambda a: a.high_availability.operator_failover,
            "architecture.yaml does not ask for operator failover "
            "(high_availability.operator_failover)",
            "operator-failover",
        ),
        Feature(
            "exposed_services",
            "NodePort and LoadBalancer Services reached from clients outside the cluster",
            lambda a: (
                any(f.from_ in a.clients for f in a.policy.flows)
                and any(g.service.external for g in a.groups.values())
            ),
            "architecture.yaml exposes no group's Service (groups.<group>.service) to a client "
            "outside the cluster (clients)",
        ),
        Feature(
            "node_loss",
            "load balancer redundancy: a lost node's LoadBalancer traffic moves to the others",
            lambda a: a.high_availability.node_loss,
            "architecture.yaml does not ask for node loss (high_availability.node_loss)",
        ),
        Feature("lb_ipam", "LoadBalancer IP allocation from pools", lambda a: True, ""),
        Feature("dns", "the cluster's DNS: split DNS and CoreDNS redundancy", lambda a: True, ""),
        Feature(
            "split_dns",
            "names answered inside and outside as declared",
            lambda a: bool(a.dns.zones or a.dns.records),
            "architecture.yaml declares no split DNS (dns.zones, dns.records)",
        ),
    )
}


def lacking(local: bool) -> Mapping[str, str]:
    """What this environment lacks, each with why: the local-images path, or nothing."""
    return LOCAL_LACKS if local else {}


def feature(name: str) -> Feature:
    try:
        return FEATURES[name]
    except KeyError:
        raise ValueError(f"no feature {name!r}; known: {', '.join(FEATURES)}") from None


def why_not(name: str, arch: Architecture, local: bool) -> str | None:
    """Why a test that needs the feature cannot run against this spec here, or None."""
    wanted = feature(name)
    if not wanted.asked(arch):
        return wanted.not_asked
    return next((lacking(local)[need] for need in wanted.needs if need in lacking(local)), None)


def overlays(arch: Architecture, local: bool) -> list[str]:
    """The Helm value overlays (cluster/values/<name>.yaml) of the features the spec asks for;
    without those Cilium cannot start here, and with the local-images path's own."""
    gone = INSTALL_NEEDS & set(lacking(local))
    names = [
        f.overlay
        for f in FEATURES.values()
        if f.overlay and f.asked(arch) and not gone & set(f.needs)
    ]
    return names + (["local-images"] if local else [])


def summary(arch: Architecture, local: bool) -> str:
    """The features the spec asks for, and which of them this environment cannot run."""
    asked = [f.name for f in FEATURES.values() if f.asked(arch)]
    missing = [
        f"{name} ({why_not(name, arch, local)})" for name in asked if why_not(name, arch, local)
    ]
    return f"features asked: {', '.join(asked)}" + (
        f"; not run here: {'; '.join(missing)}" if missing else ""
    )
