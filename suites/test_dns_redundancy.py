"""CoreDNS redundancy: a steady stream of queries from a pod loses at most the spec's budget
(dns.disruption_budget) while one CoreDNS replica is deleted and replaced."""

from __future__ import annotations

import threading
import time

import pytest

from fixtures.dns import PodResolver
from netconform.checks.dns import NOERROR, Question
from netconform.cluster_dns import ClusterDns, rolled_out
from netconform.policy_run import PolicyRun
from netconform.timeouts import Timeouts

pytestmark = [pytest.mark.dns, pytest.mark.xdist_group("cluster-policy")]

BATCH = 10
# Queries keep flowing this long before the deletion and after the replacement is ready.
MARGIN = 3.0


class Replacement(threading.Thread):
    """Deletes one CoreDNS pod after MARGIN seconds, then waits until a new one serves."""

    def __init__(self, coredns: ClusterDns, timeout: float) -> None:
        super().__init__(daemon=True)
        self.coredns, self.timeout = coredns, timeout
        self.pod, self.seconds, self.error = "", 0.0, ""

    def run(self) -> None:
        time.sleep(MARGIN)
        self.pod = self.coredns.pods()[0]["metadata"]["name"]
        started = time.monotonic()
        try:
            self.coredns.kube.core().delete_namespaced_pod(self.pod, "kube-system")
            self.coredns.kube.wait_for(
                f"a CoreDNS pod to replace {self.pod}",
                self.coredns.deployment,
                lambda d: (
                    rolled_out(d)
                    and self.pod not in {p["metadata"]["name"] for p in self.coredns.pods()}
                ),
                self.timeout,
            )
        except Exception as error:  # reported by the test, which must not hang on it
            self.error = str(error)
        self.seconds = time.monotonic() - started


def test_losing_a_coredns_replica_stays_within_the_budget(
    policy_run: PolicyRun,
    pod_resolver: PodResolver,
    timeouts: Timeouts,
    without_policies: PolicyRun,
    capsys: pytest.CaptureFixture[str],
    record_property,
) -> None:
    coredns = ClusterDns(policy_run.kube)
    replicas = coredns.deployment()["spec"].get("replicas", 1)
    assert replicas >= 2, f"CoreDNS runs {replicas} replica(s): redundancy needs two or more"
    name = f"kubernetes.default.svc.{policy_run.arch.dns.cluster_domain}"
    batch = [Question(name, "A", f"stream-{i}") for i in range(BATCH)]
    replacement = Replacement(coredns, timeouts.dns)
    replacement.start()
    failures: list[str] = []
    total = 0
    deadline = time.monotonic() + timeouts.dns + 2 * MARGIN
    done_at = None
    while time.monotonic() < deadline:
        answers = pod_resolver.ask(batch, timeout=1.0)
        total += len(answers)
        failures += [f"{time.strftime('%T')} {a}" for a in answers.values() if a.rcode != NOERROR]
        if not replacement.is_alive():
            done_at = done_at or time.monotonic()
            if time.monotonic() - done_at > MARGIN:
                break
    assert not replacement.error, replacement.error
    budget = policy_run.arch.dns.disruption_budget
    figure = (
        f"CoreDNS redundancy: {len(failures)} of {total} queries lost "
        f"({len(failures) / total:.2%}) while {replacement.pod} was deleted and replaced in "
        f"{replacement.seconds:.1f} s (budget {budget:.2%})"
    )
    record_property("coredns_redundancy", figure)
    with capsys.disabled():
        print(f"\n{figure}")
    assert len(failures) <= budget * total, f"{figure}\nlost: {failures[:10]}"
