"""Connections held across a Cilium agent restart: each must end held, after the restarts."""

from netconform.checks.connection_tracking import check_held

RESTARTS = [("the agent on worker", 3.0, 41.0), ("the agent on worker2", 45.0, 80.0)]


def held(name, verdict="connected", seconds=90.0, wait=15.0):
    return {"id": name, "verdict": verdict, "held_s": seconds, "echoes": 400, "detail": "x",
            "longest_wait_ms": wait}  # fmt: skip


def test_connections_that_echo_through_both_restarts_hold():
    verdict = check_held([held("a", wait=1200.0), held("b")], RESTARTS)
    assert verdict.ok, verdict
    assert "longest wait for an echo 1200 ms" in verdict.summary


def test_a_connection_reset_during_a_restart_names_that_restart():
    verdict = check_held([held("a"), held("b", "refused", 47.5)], RESTARTS)
    assert not verdict.ok
    assert "1 of 2 connections" in verdict.summary
    assert "b: refused after 47.5 s while the agent on worker2 restarted" in verdict.evidence


def test_a_connection_that_ended_before_the_restarts_did_proves_nothing():
    verdict = check_held([held("a", seconds=60.0)], RESTARTS)
    assert not verdict.ok
    assert "ended before the restarts did (80.0 s)" in verdict.evidence


def test_no_connection_is_no_evidence():
    assert not check_held([], RESTARTS).ok
