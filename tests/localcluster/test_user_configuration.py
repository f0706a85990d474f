"""A user's own repository on real Cilium: examples/homelab's policies agree with the analyzer
cell by cell, and four mistakes people make, each applied to a copy of one file, fail naming
exactly the cells they break and the file to fix.

Runs on the example's cluster, after its suites (`make test-example`):
`pytest tests/localcluster/test_user_configuration.py --images=local
--spec=examples/homelab/architecture.yaml`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from netconform.fixtures.policy import ReachabilitySuite

from netconform import sources
from netconform.analyze import predicted_matrix, predictions
from netconform.convergence import Convergence
from netconform.engine import ReachabilityEngine
from netconform.matrix import ExpectedMatrix
from netconform.policy_run import PolicyRun
from netconform.sources import POLICY_KINDS, UserConfig
from netconform.spec import Architecture, load
from netconform.timeouts import Timeouts
from netconform.verdict import Verdict

# A broken policy shows at once; the default convergence would wait out its whole timeout.
BROKEN = Convergence(timeout=30, consistent_rounds=2)


@pytest.fixture(scope="module", autouse=True)
def _the_example(spec: Architecture) -> None:
    if not spec.sources.used:
        pytest.fail("run with --spec=examples/homelab/architecture.yaml (make test-example)")


@dataclass(frozen=True)
class Mistake:
    """One edit of one file of the user's tree, and the cells it must be caught on."""

    file: str
    edit: Callable[[str], str]
    wrong: frozenset[str]  # cells without placement, as "source -> destination port"
    got: str


def replacing(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, f"the example no longer holds {old!r}"
        return text.replace(old, new)

    return edit


def cells(*pairs: tuple[str, str, str]) -> frozenset[str]:
    return frozenset(f"{source} -> {destination} {port}" for source, destination, port in pairs)


MISTAKES = {
    # The file holding both ends of the API's database traffic made clusterwide, to serve
    # every environment at once: its selectors now span every namespace, and each
    # environment's API reaches the other's database.
    "a clusterwide policy that forgets the namespace": Mistake(
        "apps/base/backend-to-db.yaml",
        replacing("kind: CiliumNetworkPolicy", "kind: CiliumClusterwideNetworkPolicy"),
        cells(
            ("prod/backend", "staging/db", "5432/TCP"), ("staging/backend", "prod/db", "5432/TCP")
        ),
        "connected",
    ),
    "a port with the wrong protocol": Mistake(
        "apps/base/backend/policy.yaml",
        replacing('[{port: "8080", protocol: TCP}]', '[{port: "8080", protocol: UDP}]'),
        cells(
            ("prod/frontend", "prod/backend", "8080/TCP"),
            ("staging/frontend", "staging/backend", "8080/TCP"),
        ),
        "dropped",
    ),
    # A NetworkPolicy peer without its namespaceSelector means pods of the policy's own
    # namespace: Prometheus in ops can no longer scrape.
    "a podSelector without its namespaceSelector": Mistake(
        "apps/base/allow-monitoring.yaml",
        replacing(
            "        - namespaceSelector:\n            matchLabels:\n"
            "              kubernetes.io/metadata.name: ops\n          podSelector:",
            "        - podSelector:",
        ),
        cells(
            *(
                ("ops/monitoring", f"{env}/{group}", "9090/TCP")
                for env in ("prod", "staging")
                for group in ("frontend", "backend", "db")
            )
        ),
        "dropped",
    ),
    # The partner's address widened to its provider's whole range "because it changes":
    # production's API now reaches the rest of the internet.
    "an egress CIDR wider than the partner": Mistake(
        "apps/prod/partner-api.yaml",
        replacing("198.18.150.10/32", "198.18.150.0/23"),
        cells(("prod/backend", "internet", "443/TCP")),
        "connected",
    ),
}


def mistaken_copy(spec: Architecture, mistake: Mistake, folder: Path) -> Architecture:
    shutil.copytree(spec.base, folder, dirs_exist_ok=True)
    path = folder / mistake.file
    path.write_text(mistake.edit(path.read_text()))
    return load(folder / Path(spec.file).name)


@pytest.fixture
def restored(policy_run: PolicyRun) -> Iterator[PolicyRun]:
    """The run with its own files again after a test swaps them, no policy applied."""
    user = policy_run.user
    yield policy_run
    policy_run.user = user
    policy_run.remove_policies()


def applied(
    run: PolicyRun, user: UserConfig, expected: ExpectedMatrix, timeouts: Timeouts,
    reachability: ReachabilitySuite, convergence: Convergence,
) -> tuple[Verdict, ReachabilityEngine]:  # fmt: skip
    """The user's policies of `user` on the cluster, judged against `expected`."""
    run.user = user
    run.remove_policies()
    run.apply_policies(user.manifests(POLICY_KINDS))
    run.wait_mutual_auth(timeouts)
    engine = reachability.engine
    judge = ReachabilityEngine(engine.prober, convergence, engine.evidence, engine.drop_reasons)
    return judge.check(expected), judge


def test_the_analyzer_agrees_with_cilium_on_the_users_policies(
    restored: PolicyRun, reachability: ReachabilitySuite, timeouts: Timeouts
) -> None:
    user = restored.user
    assert user is not None
    manifests = user.manifests(POLICY_KINDS)
    predicted = predictions(restored.arch, manifests, restored.layout, restored.externals)
    expected = reachability.probed(predicted_matrix(predicted))
    assert len(expected.cells) > 200
    verdict, _ = applied(
        restored, user, expected, timeouts, reachability, reachability.engine.convergence
    )
    assert verdict.ok, f"the analyzer's prediction is not what Cilium does:\n{verdict}"


@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_mistake_fails_naming_its_cells_and_its_file(
    name: str,
    spec: Architecture,
    restored: PolicyRun,
    reachability: ReachabilitySuite,
    timeouts: Timeouts,
    tmp_path: Path,
) -> None:
    mistake = MISTAKES[name]
    user = sources.load(mistaken_copy(spec, mistake, tmp_path / "homelab"))
    expected = reachability.expect_matrix_from_spec().matrix
    verdict, judge = applied(restored, user, expected, timeouts, reachability, BROKEN)
    wrong = {
        cell
        for cell, expect in expected.cells.items()
        if not expect.accepts(judge.last[cell].verdict)
    }
    assert not verdict.ok
    assert {str(replace(cell, placement="")) for cell in wrong} == mistake.wrong, verdict
    assert {judge.last[cell].verdict for cell in wrong} == {mistake.got}, verdict
    assert f"({mistake.file})" in verdict.evidence, verdict
