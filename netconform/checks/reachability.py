"""Expected vs observed reachability, rendered like Kubernetes' netpol e2e truth tables.

Pure: takes the expected matrix and the observed rounds, returns a Verdict
whose text is the one screen a person needs (grids, wrong cells, the command
to reproduce each).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from netconform.matrix import Cell, Endpoint, ExpectedMatrix, Observed
from netconform.spec import PortSpec
from netconform.verdict import Verdict, WrongCell

MAX_LISTED_CELLS = 12

_SYMBOLS = {
    "connected": ".",
    "dropped": "X",
    "refused": "R",
    "unreachable": "U",
    "tls-error": "T",
    "error": "E",
    "undecided": "*",
}
LEGEND = (
    ". connected  X dropped  R refused (reached the host: a leak)  U unreachable\n"
    "T tls-error  D dns-error  H http answer  E probe error  ? no answer  - not probed\n"
    "* undecided (the analyzer: only a proxy decides)\n"
    "diff: . as expected  ! wrong now  ~ flapping (right now, changed between rounds)"
)


def symbol(verdict: str) -> str:
    if verdict.startswith("dns-error"):
        return "D"
    if verdict.startswith("http-"):
        return "H"
    return _SYMBOLS.get(verdict, "?")


def wrong_cells(expected: ExpectedMatrix, observed: Observed) -> list[Cell]:
    return [
        cell
        for cell, expect in sorted(expected.cells.items())
        if cell not in observed or not expect.accepts(observed[cell].verdict)
    ]


def flapping_cells(expected: ExpectedMatrix, window: Sequence[Observed]) -> list[Cell]:
    return [
        cell
        for cell in sorted(expected.cells)
        if len({round_.get(cell).verdict for round_ in window if round_.get(cell)}) > 1
    ]


def check_matrix(
    expected: ExpectedMatrix,
    history: Sequence[Observed],
    consistent_rounds: int,
    probe_timeout: float,
    explain: Callable[[Cell], Sequence[str]],
) -> Verdict:
    """Pass only when the last `consistent_rounds` rounds all match the expectation.
    `explain` gives each wrong cell's extra lines (the command to reproduce it, Hubble flows)."""
    if not history:
        return Verdict(False, "reachability: nothing was observed")
    window = history[-consistent_rounds:]
    last = history[-1]
    wrong = wrong_cells(expected, last)
    flapping = flapping_cells(expected, window)
    total = len(expected.cells)
    converged = len(window) == consistent_rounds and not any(
        wrong_cells(expected, round_) for round_ in window
    )
    rounds = f"{len(history)} round{'s' if len(history) != 1 else ''}"
    if converged:
        return Verdict(
            True,
            f"reachability: all {total} cells as expected in {consistent_rounds} consistent "
            f"rounds ({rounds}, probe timeout {probe_timeout:g}s)",
        )
    parts = [f"{len(wrong)} of {total} cells wrong"]
    if flapping:
        parts.append(f"{len(flapping)} flapping")
    summary = f"reachability: {', '.join(parts)} after {rounds} (probe timeout {probe_timeout:g}s)"
    views = sorted({(cell.port, cell.placement) for cell in [*wrong, *flapping]})
    grids = [_grids(expected, last, view, set(wrong), set(flapping)) for view in views]
    return Verdict(
        False,
        summary,
        "\n\n".join([*grids, LEGEND, _listing(last, wrong, flapping, window, expected, explain)]),
        tuple(WrongCell(str(c), str(expected.cells[c]), _seen(last, c)) for c in wrong),
    )


def _seen(observed: Observed, cell: Cell) -> str:
    return observed[cell].verdict if cell in observed else "nothing"


def _numbering(expected: ExpectedMatrix) -> dict[Endpoint, int]:
    ordered = [*expected.sources]
    ordered += [d for d in expected.destinations if d not in ordered]
    return {endpoint: i for i, endpoint in enumerate(ordered, start=1)}


def _grids(
    expected: ExpectedMatrix,
    observed: Observed,
    view: tuple[PortSpec, str],
    wrong: set[Cell],
    flapping: set[Cell],
) -> str:
    """One port and placement: expected, observed and diff side by side."""
    port, placement = view
    numbers = _numbering(expected)
    cells = {
        cell: e
        for cell, e in expected.cells.items()
        if (cell.port, cell.placement) == (port, placement)
    }
    columns = sorted({cell.destination for cell in cells}, key=numbers.__getitem__)
    rows = expected.sources
    width = max(len(str(numbers[c])) for c in columns) + 1
    label = max(len(f"{numbers[r]} {r.name}") for r in rows) + 2

    def grid_row(pick: Callable[[Cell], str], source: Endpoint) -> str:
        out = ""
        for destination in columns:
            cell = Cell(source, destination, port, placement)
            out += (pick(cell) if cell in cells else "-").rjust(width)
        return out

    def expected_symbol(cell: Cell) -> str:
        return symbol(min(cells[cell].verdicts))

    def observed_symbol(cell: Cell) -> str:
        return symbol(observed[cell].verdict) if cell in observed else "?"

    def diff_symbol(cell: Cell) -> str:
        return "!" if cell in wrong else "~" if cell in flapping else "."

    header = "".join(str(numbers[c]).rjust(width) for c in columns)
    gap = "   "
    lines = [
        f"{port}{f' {placement}' if placement else ''}: "
        + ", ".join(f"{numbers[c]}={c.name}" for c in columns),
        " " * label + gap.join(f"{t:<{len(header)}}" for t in ("expected", "observed", "diff")),
        " " * label + gap.join([header] * 3),
    ]
    for source in rows:
        grids = [grid_row(pick, source) for pick in (expected_symbol, observed_symbol, diff_symbol)]
        lines.append(f"{numbers[source]} {source.name}".ljust(label) + gap.join(grids))
    return "\n".join(line.rstrip() for line in lines)


def _listing(
    observed: Observed,
    wrong: list[Cell],
    flapping: list[Cell],
    window: Sequence[Observed],
    expected: ExpectedMatrix,
    explain: Callable[[Cell], Sequence[str]],
) -> str:
    lines: list[str] = []
    for cell in wrong[:MAX_LISTED_CELLS]:
        seen = observed.get(cell)
        got = f"{seen.verdict} ({seen.detail})" if seen and seen.detail else _seen(observed, cell)
        lines.append(f"! wrong: {cell} expected {expected.cells[cell]}, got {got}")
        lines += [f"  {line}" for line in explain(cell)]
    if len(wrong) > MAX_LISTED_CELLS:
        lines.append(f"  ... and {len(wrong) - MAX_LISTED_CELLS} more wrong cells")
    for cell in flapping[:MAX_LISTED_CELLS]:
        seen = " -> ".join(r[cell].verdict for r in window if cell in r)
        lines.append(f"~ flapping: {cell} over the last {len(window)} rounds: {seen}")
    return "\n".join(lines)
