"""Pure checkers: observations in, a Verdict with evidence out. No I/O here."""

from typing import Any

Manifest = dict[str, Any]  # a Kubernetes object as the API server returns it
