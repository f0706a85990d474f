"""manifests/ holds exactly what `make manifests` writes for the default architecture."""

from __future__ import annotations

from pathlib import Path

from netconform.manifests import GENERATED, reference_files
from netconform.spec import load

ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_manifests_are_current() -> None:
    want = reference_files(load(ROOT / "architecture.yaml"))
    directory = ROOT / "manifests"
    have = {
        path.name: path.read_text()
        for path in directory.glob("*.yaml")
        if path.read_text().startswith(GENERATED)
    }
    stale = sorted(name for name in want.keys() | have.keys() if want.get(name) != have.get(name))
    assert not stale, f"stale reference manifests {stale}: run make manifests and commit them"


def test_the_generated_files_say_so_and_cover_each_capability() -> None:
    files = reference_files(load(ROOT / "architecture.yaml"))
    assert set(files) == {"policies.yaml", "lb-ipam.yaml", "bgp.yaml", "gateway.yaml"}
    assert all(text.startswith(GENERATED) for text in files.values())
