"""Services on the real cluster: each app group's Service address holds the same matrix as its
pods' addresses (Cilium translates the address before policy), reaches every pod of the group
and no other, and a Service with no pod behind it answers at once instead of hanging."""

import pytest

pytestmark = [pytest.mark.requires("policies"), pytest.mark.xdist_group("cluster-policy")]

ANSWERED_AT_ONCE = ("refused", "unreachable")


def test_every_service_address_reaches_each_pod_of_its_group(services, without_policies):
    verdict = services.backends_answering()
    assert verdict.ok, verdict


def test_policies_hold_the_same_through_each_service_address(reachability, with_policies):
    through = reachability.through_services().expect_matrix_from_spec().to_workloads()
    through.on_service_ports().assert_converges()


def test_a_service_without_backends_answers_at_once(services):
    result, reproduce = services.without_backends()
    assert result["verdict"] in ANSWERED_AT_ONCE, (
        f"a Service with no pod behind it answered {result['verdict']} ({result.get('detail')}), "
        f"not one of {', '.join(ANSWERED_AT_ONCE)}\nreproduce: {reproduce}"
    )


@pytest.mark.requires("exposed_services")
def test_each_service_answers_from_outside_only_where_the_spec_opens_it(ways_in, with_policies):
    """From each client: every node's node port and the LoadBalancer address through every
    node answer from the group's pods where a flow lets the client in (externalTrafficPolicy
    Local: only nodes running one, keeping the client's address), and stay closed elsewhere, as
    does a node port no Service holds."""
    verdict = ways_in.judged()
    assert verdict.ok, verdict
