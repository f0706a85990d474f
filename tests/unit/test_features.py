"""Named features: the overlays a spec's features install, why a test that needs one skips,
and CI's rule that a skip of what the spec asks for and this environment runs is a failure."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from netconform import features
from netconform.spec import Architecture, load, parse

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "architecture.yaml"


def edited(**changes: object) -> Architecture:
    data = yaml.safe_load(SPEC.read_text())
    for path, value in changes.items():
        section, key = path.split("__")
        data[section][key] = value
    return parse(yaml.safe_dump(data))


def test_an_overlay_is_installed_exactly_when_its_feature_is_asked_for() -> None:
    arch = load(SPEC)
    asked = {f.overlay for f in features.FEATURES.values() if f.overlay and f.asked(arch)}
    assert set(features.overlays(arch, local=False)) == asked
    off = edited(encryption__wireguard="off")
    assert "encryption" in asked and "encryption" not in features.overlays(off, local=False)


def test_the_local_path_leaves_out_only_what_cilium_cannot_start_without() -> None:
    arch = load(SPEC)
    anywhere = features.overlays(arch, local=False)
    here = features.overlays(arch, local=True)
    assert here == [*(o for o in anywhere if o != "encryption"), "local-images"]
    assert "gateway-api" in here  # the Gateway's controller runs; only its data path is absent


def test_why_a_feature_cannot_run_names_the_spec_or_the_environment() -> None:
    arch = load(SPEC)
    assert features.why_not("encryption", arch, local=False) is None
    assert (
        features.why_not("encryption", arch, local=True)
        == (features.LOCAL_LACKS[features.KERNEL_WIREGUARD])
    )
    off = edited(encryption__wireguard="off")
    assert "encryption.wireguard: off" in str(features.why_not("encryption", off, local=False))
    assert features.why_not("gateway", arch, local=True) == features.LOCAL_LACKS[features.ENVOY]
    # cert-manager is built for the local-images path: its certificates are tested there.
    assert features.why_not("certificates", arch, local=True) is None
    assert features.why_not("policies", arch, local=True) is None
    with pytest.raises(ValueError, match="no feature 'wireguard'; known: policies, encryption"):
        features.why_not("wireguard", arch, local=False)


def test_the_summary_lists_what_is_asked_and_what_is_not_run_here() -> None:
    line = features.summary(load(SPEC), local=True)
    assert line.startswith("features asked: policies, encryption, mutual_auth")
    assert "not run here: encryption (this machine's kernel has no WireGuard module)" in line
    assert "not run here" not in features.summary(load(SPEC), local=False)


SUITE = """
import pytest

pytestmark = pytest.mark.requires("{feature}")

def test_skipped_by_something_else():
    pytest.skip("the cluster did not let it run")
"""


@pytest.mark.parametrize(
    ("feature", "outcome"),
    [("policies", "failed"), ("encryption", "skipped"), ("gateway", "skipped")],
)
def test_under_ci_a_skip_fails_only_where_the_spec_asks_and_this_environment_runs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, feature: str, outcome: str
) -> None:
    """On the local-images path: policies run here, WireGuard and Envoy do not."""
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(test_suite=SUITE.format(feature=feature))
    result = pytester.runpytest_subprocess(
        "-p", "netconform.fixtures.plugin", "-p", "no:cacheprovider", "--images=local",
        f"--spec={SPEC}", "-rA",
    )  # fmt: skip
    result.assert_outcomes(**{outcome: 1})


def test_outside_ci_a_skip_stays_a_skip(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "false")
    pytester.makepyfile(test_suite=SUITE.format(feature="policies"))
    result = pytester.runpytest_subprocess(
        "-p", "netconform.fixtures.plugin", "-p", "no:cacheprovider", f"--spec={SPEC}"
    )
    result.assert_outcomes(skipped=1)
