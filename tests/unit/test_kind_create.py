"""The kind step of a bring-up: a cluster that exists is reused, a create that fails is tried
once more after deleting what it left, and a second failure says what kind said."""

from __future__ import annotations

from pathlib import Path

import pytest

from netconform import cluster


class FakeKindCluster:
    name = "home"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def create(self) -> None:
        self.calls.append("reuse")

    def delete(self) -> None:
        self.calls.append("delete")


def test_a_failed_kind_create_is_tried_once_more_after_deleting_what_it_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "kind_clusters", lambda: [])
    attempts = tmp_path / "attempts"
    fails_once = ("sh", "-c", f"echo x >> {attempts}; [ $(wc -l < {attempts}) -gt 1 ] || "
                  "{ echo 'ERROR: failed to init node with kubeadm' >&2; exit 1; }")  # fmt: skip
    fake = FakeKindCluster()
    cluster.create_kind_cluster(fake, fails_once)  # type: ignore[arg-type]
    assert fake.calls == ["delete", "reuse"]
    never = ("sh", "-c", "echo 'ERROR: node home-worker did not boot' >&2; exit 1")
    with pytest.raises(cluster.StepFailed, match="failed twice; kind said:\nERROR: node home"):
        cluster.create_kind_cluster(FakeKindCluster(), never)  # type: ignore[arg-type]


def test_an_existing_kind_cluster_is_reused_without_creating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cluster, "kind_clusters", lambda: ["home"])
    fake = FakeKindCluster()
    cluster.create_kind_cluster(fake, ("false",))  # type: ignore[arg-type]
    assert fake.calls == ["reuse"]
