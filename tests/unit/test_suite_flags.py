"""cilium-cli's flags on the suites: `--test` selects by regex (`!` leaves out) and says so
when it selects nothing; the bundle is collected once, at the first failure."""

from __future__ import annotations

from pathlib import Path

import pytest
from netconform.fixtures.on_failure import selected

from tests.unit.test_suite_errors import ROOT, run_suites


@pytest.mark.parametrize(
    ("patterns", "kept"),
    [
        ([], True),
        (["bgp"], True),
        (["dns"], False),
        (["dns", "bgp"], True),
        (["!advertis"], False),
        (["bgp", "!withdrawn"], True),
        (["test_bgp", "!test_bgp"], False),
    ],
)
def test_patterns_select_as_cilium_cli_does(patterns: list[str], kept: bool) -> None:
    assert selected("suites/test_bgp.py::test_lb_ips_are_advertised", patterns) is kept


def test_a_run_of_a_subset_lists_only_its_tests() -> None:
    done = run_suites("--collect-only", "-q", "--test", "test_default_deny", "--test", "!cross")
    assert done.returncode == 0, done.stdout + done.stderr
    listed = [line for line in done.stdout.splitlines() if "::" in line]
    assert listed and all(line.startswith("suites/test_default_deny.py::") for line in listed)


def test_a_pattern_that_selects_nothing_is_said_and_not_a_silent_pass() -> None:
    done = run_suites("--collect-only", "-q", "--test", "no-such-test")
    assert done.returncode == 4
    assert "--test no-such-test selects none of the" in done.stderr


def test_a_bad_regex_is_said() -> None:
    done = run_suites("--collect-only", "-q", "--test", "bgp(")
    assert done.returncode == 4
    assert "--test 'bgp(' is not a regular expression" in done.stderr


def test_the_bundle_is_collected_once_at_the_first_failure(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two failing tests, a cluster handle that records each collection."""
    monkeypatch.setenv("NETCONFORM_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest(
        """
import pytest
from netconform.fixtures import on_failure
from netconform import bundle

pytest_plugins = ["netconform.fixtures.results", "netconform.fixtures.on_failure"]
CALLS = []

def fake_collect(kube, folder):
    CALLS.append(folder)
    folder.mkdir(parents=True)
    (folder / "status.txt").write_text(kube)
    return [folder / "status.txt"]

bundle.collect = fake_collect

@pytest.fixture
def target(pytestconfig):
    class Target:
        kube = "the cluster"
    on_failure.remember_target(pytestconfig, Target())
    return Target()
"""
    )
    pytester.makepyfile(
        test_two="def test_one(target):\n    assert 0\n\n\ndef test_two(target):\n    assert 0\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(failed=2)
    bundles = list((tmp_path / "reports").glob("*/bundle/status.txt"))
    assert [b.read_text() for b in bundles] == ["the cluster"]
    assert result.stdout.str().count("1 files collected at this failure into") == 1
