"""The docker command, for the containers netconform runs beside kind."""

from __future__ import annotations

import subprocess


def docker(*args: str) -> str:
    """Its output; on failure an error that carries the command and what docker said."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()
