"""Egress control: only the declared groups reach the declared external targets."""

import pytest

pytestmark = [pytest.mark.policies, pytest.mark.egress, pytest.mark.xdist_group("cluster-policy")]


def test_only_declared_egress(reachability, with_policies):
    reachability.expect_matrix_from_spec().only(
        lambda cell: cell.destination.kind == "external"
    ).assert_converges()
