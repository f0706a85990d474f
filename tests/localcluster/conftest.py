"""Tests of kind on this machine (marker `localcluster`, run by `make test-local`).

They need Debian's Docker engine; the cluster tests also need the images that
`make local-images` builds (hours on two cores, so CI does not build them).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.localcluster)
            if not shutil.which("dockerd"):
                reason = (
                    "Debian's Docker engine is missing: apt-get install docker.io containerd runc"
                )
                item.add_marker(pytest.mark.skip(reason=reason))
