"""The CoreDNS redundancy measurement with a fake cluster and resolver: a question counts as
lost only when asked again in vain, the retries are reported, and a CoreDNS that stops
answering is measured as lost."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable

from netconform.fixtures.dns_redundancy import measure

from netconform.checks.dns import NOERROR, Answer, Question
from netconform.timeouts import DEFAULT

FAST = dataclasses.replace(DEFAULT, dns=2.0, dns_margin=0.2, dns_query=0.1)
ROLLED_OUT = {"metadata": {"generation": 1}, "spec": {"replicas": 2},
              "status": {"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 2,
                         "replicas": 2}}  # fmt: skip


class FakeKube:
    def __init__(self, pods: list[str]) -> None:
        self.pods = pods

    def core(self) -> FakeKube:
        return self

    def delete_namespaced_pod(self, name: str, namespace: str) -> None:
        self.pods[self.pods.index(name)] = f"{name}-replaced"

    def wait_for(self, what, fetch, ready, timeout) -> None:  # type: ignore[no-untyped-def]
        assert ready(fetch())


class FakeCoreDns:
    def __init__(self) -> None:
        self.kube = FakeKube(["coredns-a", "coredns-b"])

    def deployment(self) -> dict:
        return ROLLED_OUT

    def pods(self) -> list[dict]:
        return [{"metadata": {"name": name}} for name in self.kube.pods]


class FakeResolver:
    """Answers by `answer(n)` for the n-th question asked."""

    def __init__(self, answer: Callable[[int], str]) -> None:
        self.answer, self.asked = answer, itertools.count()

    def ask(self, questions: Iterable[Question], timeout: float) -> dict[Question, Answer]:
        return {q: Answer(self.answer(next(self.asked))) for q in questions}


def test_a_question_answered_on_the_retry_is_not_lost_but_reported() -> None:
    first_batch_times_out = FakeResolver(lambda n: "TIMEOUT" if n < 10 else NOERROR)
    seen = measure(FakeCoreDns(), first_batch_times_out, "kubernetes.default", FAST)
    assert seen.total > 10 and seen.retried == 10 and seen.lost == []
    assert "0 of" in str(seen) and "10 answered only when asked again" in str(seen)
    assert seen.pod == "coredns-a" and not seen.error


def test_a_coredns_that_stops_answering_is_measured_as_lost() -> None:
    silent = FakeResolver(lambda n: "TIMEOUT")
    seen = measure(FakeCoreDns(), silent, "kubernetes.default", FAST)
    assert len(seen.lost) == seen.total == seen.retried > 0
    assert "answered only when asked again" not in str(seen)
