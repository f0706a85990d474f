"""The matrix checker: deny passes only on drop, flapping is named, the screen explains."""

from __future__ import annotations

from netconform.checks.reachability import MAX_LISTED_CELLS, check_matrix
from netconform.matrix import ALLOWED, DENIED, Cell, Endpoint, ExpectedMatrix, Observation
from netconform.spec import PortSpec
from netconform.verdict import WrongCell

FE = Endpoint("prod/frontend", "workload", "frontend", "prod")
BE = Endpoint("prod/backend", "workload", "backend", "prod")
DB = Endpoint("prod/db", "workload", "db", "prod")
P = PortSpec(5432, "TCP")
EXPECTED = ExpectedMatrix(
    {
        Cell(FE, BE, P): DENIED,
        Cell(FE, DB, P): DENIED,
        Cell(BE, DB, P): ALLOWED,
        Cell(BE, FE, P): DENIED,
        Cell(DB, FE, P): DENIED,
        Cell(DB, BE, P): DENIED,
    }
)


def observed(**changes: str) -> dict[Cell, Observation]:
    seen = {
        c: Observation("connected" if e == ALLOWED else "dropped")
        for c, e in EXPECTED.cells.items()
    }
    for key, verdict in changes.items():
        source, destination = (
            e for name in key.split("_") for e in (FE, BE, DB) if e.group == name
        )
        seen[Cell(source, destination, P)] = Observation(verdict, "why")
    return seen


def check(*rounds: dict[Cell, Observation], n: int = 2):
    return check_matrix(EXPECTED, list(rounds), n, 1.0, lambda cell: [f"reproduce: probe {cell}"])


def test_healthy_rounds_pass() -> None:
    verdict = check(observed(), observed())
    assert verdict.ok
    assert "all 6 cells as expected in 2 consistent rounds" in verdict.summary


def test_fewer_rounds_than_required_do_not_pass() -> None:
    assert not check(observed()).ok


def test_refused_on_a_deny_cell_is_a_leak() -> None:
    verdict = check(observed(), observed(frontend_db="refused"))
    assert not verdict.ok
    assert verdict.summary.startswith("reachability: 1 of 6 cells wrong")
    assert (
        "! wrong: prod/frontend -> prod/db 5432/TCP expected dropped, got refused (why)"
        in verdict.evidence
    )
    assert "reproduce: probe prod/frontend -> prod/db 5432/TCP" in verdict.evidence


def test_blocked_allowed_flow_is_wrong() -> None:
    verdict = check(observed(), observed(backend_db="dropped"))
    assert "prod/backend -> prod/db 5432/TCP expected connected, got dropped" in verdict.evidence


def test_a_cell_that_flips_is_flapping_not_retried_away() -> None:
    verdict = check(observed(db_frontend="connected"), observed())
    assert not verdict.ok
    assert "0 of 6 cells wrong, 1 flapping" in verdict.summary
    assert (
        "~ flapping: prod/db -> prod/frontend 5432/TCP over the last 2 rounds: connected -> dropped"
        in verdict.evidence
    )


def test_grid_marks_the_wrong_cell_in_all_three_tables() -> None:
    evidence = check(observed(), observed(frontend_db="refused")).evidence
    row = next(line for line in evidence.splitlines() if line.startswith("3 prod/frontend"))
    expected_grid, observed_grid, diff_grid = (
        part.split() for part in row[len("3 prod/frontend") :].split("   ") if part.strip()
    )
    assert expected_grid == ["X", "X", "-"]
    assert observed_grid == ["X", "R", "-"]
    assert diff_grid == [".", "!", "-"]
    assert "R refused (reached the host: a leak)" in evidence


def test_a_wrong_cell_says_whether_its_pods_share_a_node() -> None:
    cross = Cell(FE, BE, P, "cross-node")
    expected = ExpectedMatrix({cross: DENIED, Cell(FE, BE, P, "same-node"): DENIED})
    seen = {c: Observation("dropped") for c in expected.cells} | {cross: Observation("refused")}
    verdict = check_matrix(expected, [seen], 1, 1.0, lambda cell: [])
    assert not verdict.ok
    assert "5432/TCP cross-node: " in verdict.evidence
    assert "5432/TCP same-node" not in verdict.evidence
    assert "! wrong: prod/frontend -> prod/backend 5432/TCP [cross-node]" in verdict.evidence


def test_the_wrong_cells_travel_as_data_beside_the_text() -> None:
    verdict = check(observed(), observed(frontend_db="refused", backend_db="dropped"))
    assert verdict.wrong == (
        WrongCell("prod/backend -> prod/db 5432/TCP", "connected", "dropped"),
        WrongCell("prod/frontend -> prod/db 5432/TCP", "dropped", "refused"),
    )
    assert check(observed(), observed()).wrong == ()


def test_every_wrong_cell_is_data_even_past_what_the_screen_lists() -> None:
    many = [Endpoint(f"prod/app{i}", "workload", f"app{i}", "prod") for i in range(6)]
    cells = [Cell(a, b, P) for a in many for b in many if a != b]
    expected = ExpectedMatrix(dict.fromkeys(cells, DENIED))
    verdict = check_matrix(expected, [dict.fromkeys(cells, Observation("connected"))], 1, 1.0,
                           lambda cell: [])  # fmt: skip
    assert len(verdict.wrong) == 30 > MAX_LISTED_CELLS
    assert verdict.evidence.count("! wrong:") == MAX_LISTED_CELLS
