"""Egress control: only the declared groups reach the declared external targets."""

import pytest

pytestmark = [
    pytest.mark.requires("policies"),
    pytest.mark.egress,
    pytest.mark.xdist_group("cluster-policy"),
]


def test_only_declared_egress(reachability, with_policies):
    reachability.expect_matrix_from_spec().to_externals().assert_converges()
