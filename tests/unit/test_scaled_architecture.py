"""The cluster benchmark's architectures: valid specs of the size asked, about a third of the
cells between workloads allowed as netconform's own matrix counts them, the same every time."""

import pytest

from bench.scaled_architecture import (
    ALLOWED_SHARE,
    PORTS,
    SIZES,
    allowed_share,
    architecture,
    environments_for,
    scaled,
)
from netconform.matrix import workload_endpoints, workload_ports
from netconform.spec import PortSpec


@pytest.mark.parametrize("size", SIZES)
def test_a_scaled_architecture_has_the_workloads_asked_and_a_third_of_its_cells_allowed(size):
    arch = architecture(size)
    assert len(workload_endpoints(arch)) == size
    assert len(arch.environments) == environments_for(size)
    assert abs(allowed_share(arch) - ALLOWED_SHARE) < 0.05
    assert workload_ports(arch) == sorted(PortSpec(int(p[:4]), p[5:]) for p in PORTS)


def test_some_flows_cross_environments_and_one_leaves_the_cluster():
    flows = architecture(32).policy.flows
    assert any(flow.across_environments for flow in flows)
    assert [flow.to for flow in flows if flow.to in ("partner-api", "kube-dns")] == [
        "kube-dns",
        "partner-api",
    ]


def test_a_seed_draws_the_same_architecture_and_another_seed_another():
    assert scaled(16, seed=1) == scaled(16, seed=1)
    assert scaled(16, seed=1)["policy"] != scaled(16, seed=2)["policy"]


def test_a_size_that_does_not_spread_over_its_environments_is_refused():
    with pytest.raises(ValueError, match="do not spread"):
        scaled(33)
