"""The one result type every checker returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """A checker's answer: never a bare bool, always what a person needs to act on it."""

    ok: bool
    summary: str
    evidence: str = ""

    def __str__(self) -> str:
        return f"{self.summary}\n\n{self.evidence}" if self.evidence else self.summary
