"""Only the flows declared in architecture.yaml are possible between app groups."""

import pytest

pytestmark = [pytest.mark.requires("policies"), pytest.mark.xdist_group("cluster-policy")]


def test_declared_flows_and_nothing_else(reachability, with_policies):
    reachability.expect_matrix_from_spec().to_workloads().assert_converges()


def test_dns_stays_open_under_default_deny(reachability, with_policies):
    reachability.expect_matrix_from_spec().to_services().assert_converges()
