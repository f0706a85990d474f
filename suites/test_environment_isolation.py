"""Environments are isolated: nothing crosses between them except declared cross-namespace flows."""

import pytest

pytestmark = [
    pytest.mark.requires("policies"),
    pytest.mark.isolation,
    pytest.mark.xdist_group("cluster-policy"),
]


def test_no_flow_crosses_environments_unless_declared(reachability, with_policies):
    reachability.expect_matrix_from_spec().across_environments().assert_converges()
