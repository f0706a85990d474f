"""The one result type every checker returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WrongCell:
    """A matrix cell a check found wrong, as data: what `netconform diff` compares."""

    cell: str
    expected: str
    got: str


@dataclass(frozen=True)
class Verdict:
    """A checker's answer: never a bare bool, always what a person needs to act on it; the
    cells it found wrong travel beside the text, so rewording the text loses none."""

    ok: bool
    summary: str
    evidence: str = ""
    wrong: tuple[WrongCell, ...] = ()

    def __str__(self) -> str:
        return f"{self.summary}\n\n{self.evidence}" if self.evidence else self.summary

    @classmethod
    def all(cls, verdicts: list[Verdict]) -> Verdict:
        """Holds when every one holds; says what failed first, and keeps all the evidence."""
        failed = [v for v in verdicts if not v.ok]
        shown = failed or verdicts
        return cls(
            not failed,
            "; ".join(v.summary for v in shown),
            "\n\n".join(v.evidence for v in verdicts if v.evidence),
            tuple(w for v in verdicts for w in v.wrong),
        )
