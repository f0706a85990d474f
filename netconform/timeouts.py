"""Every bound a run waits for, in one documented place.

Modelled on the Gateway API conformance suite's timeout configuration: each
field is one wait, in seconds, with why it is as long as it is; `pytest`
takes `--timeout-<field>=SECONDS` for each (underscores as dashes), and
`netconform cluster up` uses the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Timeouts:
    # A matrix is re-probed until it matches and then holds for `consistent_rounds` rounds;
    # Cilium takes seconds to regenerate endpoints after a policy change.
    convergence: float = 90.0
    consistent_rounds: int = 3
    # Probe Deployments until available: image unpacking on a fresh kind node is the long part.
    workloads_ready: float = 300.0
    # One netprobe call's start-up and transport latency, on top of the probe timeout.
    exec_slack: float = 20.0
    # One `hubble observe` through the relay for a wrong cell's evidence.
    hubble: float = 20.0
    # Cilium's DaemonSet and operator rolling out after `helm upgrade --install`.
    cilium_rollout: float = 600.0
    # Every node Ready once the CNI is there.
    nodes_ready: float = 300.0
    # BGP sessions up, routes learned or withdrawn. Cilium reconciles in seconds; a session
    # whose first connect failed retries after the peer's connect-retry time (120 s default).
    bgp: float = 150.0
    # A Cilium agent restarted: it compiles its datapath before it peers again (minutes on two
    # cores), and its DaemonSet pod must be replaced first.
    agent_restart: float = 300.0
    # Connections held open while the agents at both ends restart one after the other: long
    # enough for both restarts (each a new pod and its datapath rebuilt; 16-17 s each on the
    # local cluster), or nothing is proven.
    agent_restart_hold: float = 120.0
    # SPIRE's server up and every node's agent attested after Cilium's install (the server
    # makes an RSA 4096 CA first; agents retry every few seconds).
    spire: float = 180.0
    # How often a state that changes in seconds, not instantly (SPIRE's entries and streams,
    # certificates), is read again while waiting for it.
    poll: float = 5.0
    # A Gateway Programmed (its LoadBalancer Service addressed), its certificates issued by
    # cert-manager, and its routes answering from Envoy.
    gateway: float = 180.0
    # CoreDNS restarted with a new Corefile until it answers with it (pods replaced, images
    # already on the nodes).
    dns: float = 120.0
    # A deleted Cilium agent's BGP session seen down on the router: the TCP session ends
    # when the pod goes, well inside FRR's hold time (180 s) the router would wait otherwise.
    bgp_session_down: float = 60.0
    # CoreDNS redundancy: queries keep flowing this long before a replica is deleted and after
    # its replacement serves, so the stream covers the whole disruption.
    dns_margin: float = 3.0
    # One batch of the steady DNS query stream: a lost answer counts as a failure.
    dns_query: float = 1.0

    @classmethod
    def options(cls) -> list[tuple[str, str, Any]]:
        """(flag, field, default) for each field."""
        return [(f"--timeout-{f.name.replace('_', '-')}", f.name, f.default) for f in fields(cls)]

    def overridden(self, values: dict[str, Any]) -> Timeouts:
        return replace(self, **{k: v for k, v in values.items() if v is not None})


DEFAULT = Timeouts()
