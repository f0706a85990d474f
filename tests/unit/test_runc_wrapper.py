"""The runtime wrapper removes exactly CAP_SYS_RESOURCE, from bundles and from exec processes."""

from __future__ import annotations

import json
from pathlib import Path

from netconform.offline import runc_wrapper

CAPS = ["CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"]


def caps_config(process_only: bool) -> dict:
    caps = {kind: list(CAPS) for kind in ("bounding", "effective", "permitted")}
    return (
        {"capabilities": caps}
        if process_only
        else {"ociVersion": "1.0.2", "process": {"capabilities": caps}}
    )


def test_bundle_config_loses_only_sys_resource(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(caps_config(process_only=False)))
    runc_wrapper.strip(str(config), process_only=False)
    caps = json.loads(config.read_text())["process"]["capabilities"]
    assert caps == {
        kind: ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"] for kind in ("bounding", "effective", "permitted")
    }


def test_exec_process_spec_loses_it_too(tmp_path: Path) -> None:
    process = tmp_path / "process.json"
    process.write_text(json.dumps(caps_config(process_only=True)))
    runc_wrapper.strip(str(process), process_only=True)
    assert "CAP_SYS_RESOURCE" not in process.read_text()


def test_options_are_found_in_both_spellings() -> None:
    argv = ["--root", "/run/runc", "create", "--bundle", "/b", "id"]
    assert runc_wrapper.option(argv, ("--bundle", "-b")) == "/b"
    assert (
        runc_wrapper.option(["exec", "--process=/p.json", "id"], ("--process", "-p")) == "/p.json"
    )
    assert runc_wrapper.option(["start", "id"], ("--bundle", "-b"), "/cwd") == "/cwd"
