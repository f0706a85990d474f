"""A kept cluster outlives sessions that do not use it: the last session that used a cluster
netconform made removes it at its end (a `make check` after `make test ARGS=--keep-cluster`
once deleted the kept cluster), while `make test-example`'s second session, which reuses the
first one's kept cluster, still removes it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from netconform.fixtures.cluster_under_test import (
    CREATED_MARK,
    SESSION_ENV,
    adopt,
    made_by_this_session,
)


def test_only_the_last_session_that_used_the_cluster_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SESSION_ENV, "this-session")
    adopt(tmp_path)
    assert not made_by_this_session(tmp_path), "a cluster netconform did not make is never removed"
    (tmp_path / CREATED_MARK).write_text("an-earlier-session")
    assert not made_by_this_session(tmp_path), "a session that did not use it removes nothing"
    adopt(tmp_path)
    assert made_by_this_session(tmp_path)


def test_this_session_has_a_token_of_its_own() -> None:
    assert os.environ.get(SESSION_ENV)
