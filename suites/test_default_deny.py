"""Deny-all by default: before the policies everything is reachable; after them only what the
architecture declares, and nothing leaves the cluster unless allowed."""

import pytest

pytestmark = [pytest.mark.requires("policies"), pytest.mark.xdist_group("cluster-policy")]


def test_everything_is_reachable_before_any_policy(reachability, without_policies):
    reachability.expect_everything_allowed().assert_converges()


def test_only_declared_flows_once_policies_apply(reachability, with_policies):
    reachability.expect_matrix_from_spec().assert_converges()


def test_egress_to_the_world_is_denied_unless_allowed(reachability, with_policies):
    reachability.expect_matrix_from_spec().to_externals().only_denied().assert_converges()
