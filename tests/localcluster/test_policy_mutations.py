"""The policy suites bite on real Cilium: broken policies fail, naming the cells they break.

The expectations stay those of the spec; only the applied policies change. A
reference policy weakened by one flow must fail naming the leaked cells, with
the relay's Hubble flows as evidence; one allowed flow removed must fail
naming the blocked cells. Runs on the suites' own cluster:
`pytest tests/localcluster/test_policy_mutations.py --images=local`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from netconform import results
from netconform.convergence import Convergence
from netconform.engine import ReachabilityEngine
from netconform.policy_run import PolicyRun
from netconform.spec import Architecture, Flow
from netconform.verdict import Verdict

# A broken policy shows at once; the default convergence would wait out its whole timeout.
BROKEN = Convergence(timeout=20, consistent_rounds=2)
# A flow the spec does not declare: a policy rendered with it leaks.
LEAK_FLOW = Flow.model_validate(
    {"name": "leak", "from": "frontend", "to": "db", "ports": ["5432/TCP"]}
)


def with_flows(spec: Architecture, flows: list[Flow]) -> Architecture:
    return spec.model_copy(update={"policy": spec.policy.model_copy(update={"flows": flows})})


def judge_policies_of(  # type: ignore[no-untyped-def]
    arch: Architecture, reachability, policy_run: PolicyRun, convergence: Convergence = BROKEN
) -> Verdict:
    """The reference policies rendered from `arch` in place of the healthy ones, judged
    against the spec: the rules they keep keep their authenticated peers, so only what
    `arch` changed can show as wrong within a broken run's short convergence."""
    policy_run.apply_policies(policy_run.reference_policies(arch))
    engine = reachability.engine
    return ReachabilityEngine(
        engine.prober, convergence, engine.evidence, engine.drop_reasons
    ).check(reachability.expect_matrix_from_spec().matrix)


@pytest.fixture
def healthy(reachability, policy_run: PolicyRun, spec: Architecture) -> Iterator[Verdict]:  # type: ignore[no-untyped-def]
    """The spec's reference policies applied and judged with the suites' own convergence (a
    flow that requires mutual auth connects once authenticated); removed afterwards."""
    policy_run.remove_policies()
    try:
        verdict = judge_policies_of(spec, reachability, policy_run, reachability.engine.convergence)
        assert verdict.ok, verdict
        yield verdict
    finally:
        policy_run.remove_policies()


def assert_wrong_exactly(verdict: Verdict, source: str, destination: str, got: str) -> None:
    """Failed, naming every same-node and cross-node cell from `source` to `destination` on
    5432/TCP in both environments, each with the verdict it got, and nothing else."""
    wrong = [line for line in verdict.evidence.splitlines() if line.startswith("! wrong:")]
    assert not verdict.ok
    assert {line.split(" expected")[0] for line in wrong} == {
        f"! wrong: {env}/{source} -> {env}/{destination} 5432/TCP [{placement}]"
        for env in ("prod", "staging")
        for placement in ("same-node", "cross-node")
    }
    assert all(f"got {got}" in line for line in wrong)


def test_a_weakened_policy_fails_naming_the_leaked_cells_with_hubble_flows(
    healthy: Verdict, reachability, policy_run: PolicyRun, spec: Architecture
) -> None:  # type: ignore[no-untyped-def]
    verdict = judge_policies_of(
        with_flows(spec, [*spec.policy.flows, LEAK_FLOW]), reachability, policy_run
    )
    assert_wrong_exactly(verdict, "frontend", "db", "connected")
    assert "hubble: " in verdict.evidence and "FORWARDED" in verdict.evidence


def test_a_removed_flow_fails_naming_the_blocked_cells_with_hubble_drops(
    healthy: Verdict, reachability, policy_run: PolicyRun, spec: Architecture
) -> None:  # type: ignore[no-untyped-def]
    kept = [flow for flow in spec.policy.flows if flow.name != "backend-to-db"]
    verdict = judge_policies_of(with_flows(spec, kept), reachability, policy_run)
    assert_wrong_exactly(verdict, "backend", "db", "dropped")
    assert "DROPPED" in verdict.evidence


LEAK = re.compile(r"^(prod|staging)/frontend -> \1/db 5432/TCP \[(same|cross)-node\]$")


def run_of(name: str, verdict: Verdict) -> dict:
    """One check's run, as the results plugin writes it."""
    check = results.Check(
        "suites/test_allowed_flows.py::test_declared_flows_and_nothing_else",
        "test_allowed_flows",
        "passed" if verdict.ok else "failed",
        verdict.summary,
        verdict.evidence,
        wrong_cells=verdict.wrong,
    )
    return results.document(name, "2026-11-30T00:00:00+00:00", {}, "0" * 64, [check])


def test_diff_of_a_healthy_and_a_weakened_run_names_exactly_the_leaked_cells(
    healthy: Verdict, reachability, policy_run: PolicyRun, spec: Architecture
) -> None:  # type: ignore[no-untyped-def]
    weakened = judge_policies_of(
        with_flows(spec, [*spec.policy.flows, LEAK_FLOW]), reachability, policy_run
    )
    lines, worse = results.diff(run_of("healthy", healthy), run_of("weakened", weakened))
    assert worse
    assert lines[0].endswith(": passed -> failed")
    # Exactly the cells the weakened run found wrong: how many of the four leaks show by the
    # end of a broken run's short convergence is the datapath's business, not the diff's.
    leaked = {cell.cell for cell in weakened.wrong}
    assert leaked and all(LEAK.match(cell) for cell in leaked), leaked
    named = {line.split(" (got ")[0].removeprefix("cell now wrong: ") for line in lines[1:]}
    assert named == leaked, lines
    assert all(" (got connected" in line for line in lines[1:]), lines


@pytest.fixture(autouse=True)
def _only_on_a_cluster_the_suite_made(pytestconfig: pytest.Config) -> None:
    if pytestconfig.getoption("cluster") != "kind":
        pytest.skip("applies deliberately broken policies: only on a kind cluster the suite made")


def selecting(service: dict, selector: dict[str, str]) -> dict:
    """The Service as applied (server-side apply keeps only what it is given), to `selector`."""
    spec = {key: service["spec"][key] for key in ("type", "ports") if key in service["spec"]}
    meta = {key: service["metadata"][key] for key in ("name", "namespace", "labels")}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {**spec, "selector": selector},
    }


def test_a_service_sending_to_another_group_fails_naming_its_address_cells(
    healthy: Verdict, reachability, policy_run: PolicyRun, spec: Architecture
) -> None:  # type: ignore[no-untyped-def]
    """Cilium translates a Service's address to a pod's before policy and the pod's own ingress
    rules judge what arrives, so no policy opens the Service path alone; what can differ is
    where the address leads. prod's db Service made to select backend's pods: the cells to db's
    address in prod fail, named as such, and no other cell does. frontend's 8080 reaches a
    backend pod whichever is picked; backend's own cells depend on the pick (a pod reaching
    itself through a Service passes whatever the policy), so they are not asserted."""
    namespace = policy_run.layout.namespace("prod")
    service = policy_run.kube.get("v1", "Service", "db", namespace)
    assert service, f"no Service db in {namespace}"
    misrouted = policy_run.layout.pod_selector(spec, "backend", "prod")
    through = reachability.through_services()
    try:
        policy_run.kube.apply([selecting(service, misrouted)])
        verdict = ReachabilityEngine(
            through.engine.prober, BROKEN, through.engine.evidence, through.engine.drop_reasons
        ).check(through.expect_matrix_from_spec().to_workloads().matrix)
    finally:
        policy_run.kube.apply([selecting(service, service["spec"]["selector"])])
    wrong = {cell.cell for cell in verdict.wrong}
    assert not verdict.ok and wrong, verdict
    assert all(re.match(r"^\S+ -> prod/db \S+$", cell) for cell in wrong), wrong
    assert "prod/frontend -> prod/db 8080/TCP" in wrong, wrong
