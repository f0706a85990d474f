"""The wheel a user installs holds every file a run reads (one copy of each: the checkout's
suites/, fixtures/ and cluster/ are the packaged ones), and runs the suites from a folder that
is not the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = {"suites": "netconform/suites", "fixtures": "netconform/fixtures",
            "cluster": "netconform/cluster_files", "netconform": "netconform"}  # fmt: skip


def tracked(folder: str = ".") -> list[str]:
    """The checkout's files (untracked ones not ignored included), not what a build left."""
    listed = subprocess.run(
        ["git", "-C", ROOT, "ls-files", "--cached", "--others", "--exclude-standard", folder],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return [name for name in listed.stdout.splitlines() if (ROOT / name).exists()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the checkout: a build writes build/ beside its sources."""
    source, dist = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in tracked():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", dist, source],
        check=True,
        capture_output=True,
    )
    [built] = dist.glob("netconform-*.whl")
    return built


def test_the_wheel_holds_the_suites_fixtures_cluster_data_schema_and_agent(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, packaged in PACKAGED.items():
        files = tracked(folder)
        assert files, folder
        missing = [f for f in files if f"{packaged}/{f.split('/', 1)[1]}" not in names]
        assert not missing, f"not in the wheel: {missing}"
    assert {"netconform/results.schema.json", "netconform/netprobe.py"} <= names


def test_the_installed_suites_run_from_a_users_folder(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    user = tmp_path / "homelab"
    shutil.copytree(ROOT / "examples" / "homelab", user)
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    where = subprocess.run(
        [sys.executable, "-c", "import netconform.fixtures.plugin as p; print(p.__file__)"],
        cwd=user, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(site)), where.stdout

    def collect(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "netconform.cli", "test", "--collect-only", *args],
            cwd=user, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    header = collect()
    assert "netconform: a kind cluster with Cilium v" in header, header[:2000]
    assert "netconform: features asked: policies" in header
    collected = {line.split("::")[0] for line in collect("-q").splitlines() if "::" in line}
    assert collected == {f"suites/{Path(f).name}" for f in tracked("suites")
                         if Path(f).name.startswith("test_")}  # fmt: skip
