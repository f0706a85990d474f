"""Where built things live: one cache root, outside the repository, shared by every tool.

`NETCONFORM_CACHE` moves it (default ~/.cache/netconform); binaries, Go wrapper
modules, image root filesystems and the Docker data root sit below it and
survive between runs.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("NETCONFORM_CACHE", "~/.cache/netconform")).expanduser()
BIN_DIR = ROOT / "bin"
GOMOD_DIR = ROOT / "gomod"
IMAGES_DIR = ROOT / "images"
DOCKER_DIR = ROOT / "docker"


def tilde(path: Path | str) -> str:
    """Show paths as ~/... so logs and reports carry no machine-specific home."""
    text = str(path)
    home = str(Path.home())
    return "~" + text[len(home) :] if text == home or text.startswith(home + os.sep) else text
