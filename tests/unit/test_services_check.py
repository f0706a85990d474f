"""Whether a Service's address reaches each pod behind it, and only those."""

from netconform.checks.services import check_backends

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
