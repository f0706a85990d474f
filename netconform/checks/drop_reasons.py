"""Why a denied cell was dropped: a deny is not one thing. A cell expected to drop for a named
reason (a policy, a failed mutual authentication) must show that reason in Hubble's drops;
dropped for another reason, or with no drop seen at all, it fails with what Hubble saw.

Pure: takes the expectations and each cell's drop reasons as Hubble reported them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netconform.matrix import Cell, ExpectedMatrix
from netconform.verdict import Verdict


def check_drop_reasons(expected: ExpectedMatrix, reasons: Mapping[Cell, Sequence[str]]) -> Verdict:
    named = {cell: e.reason for cell, e in expected.cells.items() if e.reason}
    lines, wrong = [], 0
    for cell, want in sorted(named.items()):
        seen = list(reasons.get(cell, ()))
        newest = seen[-1] if seen else None
        ok = newest == want
        wrong += not ok
        got = f"Hubble's newest drop: {newest}" if newest else "Hubble saw no drop"
        lines.append(f"{'  ' if ok else '! '}{cell}: expected a {want} drop; {got}")
    if not named:
        return Verdict(True, "drop reasons: no cell names one")
    summary = (
        f"drop reasons: {wrong} of {len(named)} cells dropped for another reason or not seen"
        if wrong
        else f"drop reasons: all {len(named)} cells dropped for the reason expected"
    )
    return Verdict(not wrong, summary, "\n".join(lines))
