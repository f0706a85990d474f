"""Whether a Service's address reaches each pod behind it, and only those."""

from netconform.checks.services import EntryPoint, check_backends, check_exposed

BACKENDS = {"prod/db": ["db-a", "db-b"], "prod/backend": ["backend-a", "backend-b"]}


def test_every_backend_answering_holds():
    answered = {"prod/db": ["db-a", "db-b", "db-a"], "prod/backend": ["backend-b", "backend-a"]}
    verdict = check_backends(BACKENDS, answered)
    assert verdict.ok, verdict
    assert "4 backends" in verdict.summary


def test_a_pod_never_picked_is_named():
    answered = {"prod/db": ["db-a"] * 24, "prod/backend": ["backend-b", "backend-a"]}
    verdict = check_backends(BACKENDS, answered, reproduce="netprobe probe")
    assert not verdict.ok
    assert "prod/db: 24 probes; never answered: db-b" in verdict.evidence
    assert "prod/backend" not in verdict.evidence
    assert "reproduce: netprobe probe" in verdict.evidence


def test_a_pod_of_another_group_answering_or_no_answer_is_named():
    answered = {"prod/db": ["db-a", "db-b", "backend-a"], "prod/backend": ["(dropped)"] * 3}
    verdict = check_backends(BACKENDS, answered)
    assert not verdict.ok
    assert "prod/db: 3 probes; answered instead: backend-a" in verdict.evidence
    assert "never answered: backend-a, backend-b; answered instead: (dropped)" in verdict.evidence
    assert verdict.summary == "2 of 2 Services miss backends"


CLIENT = "198.18.100.1"
LOCAL = EntryPoint("prod/frontend", "worker", "172.18.0.3:30080", frozenset({"fe-a"}), True)
CLOSED = EntryPoint("prod/frontend", "worker2", "172.18.0.4:30080")


def _answer(pod: str, client: str = CLIENT) -> dict:
    return {"verdict": "connected", "response": {"pod": pod, "client": f"{client}:40000"}}


def test_ways_in_answered_by_their_pods_and_closed_elsewhere_hold():
    verdict = check_exposed(
        CLIENT, {LOCAL: [_answer("fe-a")] * 3, CLOSED: [{"verdict": "dropped"}]}
    )
    assert verdict.ok, verdict
    assert verdict.summary == f"from {CLIENT}: 1 open and 1 closed ways in, as declared"


def test_a_node_without_a_pod_that_answers_is_named():
    """externalTrafficPolicy Local broken: a node forwards to another node's pod."""
    verdict = check_exposed(
        CLIENT, {LOCAL: [_answer("fe-a")], CLOSED: [_answer("fe-a"), {"verdict": "dropped"}]}
    )
    assert not verdict.ok
    assert (
        f"{CLIENT} -> prod/frontend at 172.18.0.4:30080 via worker2: 1 of 2 connections accepted"
        in (verdict.evidence)
    )
    assert [(w.expected, w.got) for w in verdict.wrong] == [
        ("closed", "1 of 2 connections accepted")
    ]


def test_a_source_address_rewritten_is_named():
    verdict = check_exposed(CLIENT, {LOCAL: [_answer("fe-a", "10.244.1.7")]})
    assert not verdict.ok
    assert f"the pod saw the client as 10.244.1.7, not {CLIENT}" in verdict.evidence


def test_a_remote_pod_answering_at_a_local_entry_or_a_failed_try_is_named():
    verdict = check_exposed(CLIENT, {LOCAL: [_answer("fe-b")]})
    assert "answered by fe-b" in verdict.evidence and not verdict.ok
    dropped = check_exposed(CLIENT, {LOCAL: [_answer("fe-a"), {"verdict": "dropped"}]})
    assert "1 of 2 tries dropped" in dropped.evidence and not dropped.ok


def test_a_source_rewritten_where_it_need_not_be_kept_holds():
    cluster = EntryPoint("prod/frontend", "worker2", "172.18.0.4:30080", frozenset({"fe-a"}))
    assert check_exposed(CLIENT, {cluster: [_answer("fe-a", "172.18.0.4")]}).ok


def test_an_http_answer_is_a_connection_either_way():
    answer = {"verdict": "http-200", "response": {"pod": "fe-a", "client": f"{CLIENT}:1"}}
    assert check_exposed(CLIENT, {LOCAL: [answer]}).ok
    leaked = check_exposed(CLIENT, {CLOSED: [answer]})
    assert not leaked.ok and "1 of 1 connections accepted" in leaked.evidence
