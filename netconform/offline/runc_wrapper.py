#!/usr/bin/env python3
"""OCI runtime wrapper: drop CAP_SYS_RESOURCE, then hand over to the real runc.

These VMs' capability bounding set lacks CAP_SYS_RESOURCE, so a container
asking for it (every --privileged one, every kind node) fails with "unable to
apply caps". Installed as the engine's default runtime (and inside kind nodes
for containerd), it removes that one capability from the bundle's config.json
before `create`/`run`; every other call passes through untouched.
"""

import json
import os
import sys

REAL_RUNC = os.environ.get("NETCONFORM_REAL_RUNC", "/usr/sbin/runc")
DROP = "CAP_SYS_RESOURCE"


def option(argv: list, names: tuple, default: str = "") -> str:
    for i, arg in enumerate(argv):
        if arg in names and i + 1 < len(argv):
            return argv[i + 1]
        for name in names:
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return default


def strip(path: str, process_only: bool) -> None:
    """Remove the capability from a bundle's config.json or from an exec process.json."""
    with open(path) as f:
        config = json.load(f)
    process = config if process_only else config.get("process", {})
    caps = process.get("capabilities") or {}
    changed = False
    for kind, names in caps.items():
        if isinstance(names, list) and DROP in names:
            caps[kind] = [name for name in names if name != DROP]
            changed = True
    if changed:
        with open(path, "w") as f:
            json.dump(config, f)


def main() -> None:
    argv = sys.argv[1:]
    if "create" in argv or "run" in argv:
        config = os.path.join(option(argv, ("--bundle", "-b"), os.getcwd()), "config.json")
        if os.path.exists(config):
            strip(config, process_only=False)
    elif "exec" in argv:
        process = option(argv, ("--process", "-p"))
        if process and os.path.exists(process):
            strip(process, process_only=True)
    os.execv(REAL_RUNC, [REAL_RUNC, *argv])


if __name__ == "__main__":
    main()
