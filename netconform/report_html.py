"""`reports/<run>/index.html`: one self-contained page a person reads after a run.

A line per suite; every reachability matrix as a picture (expected against
observed per port, same-node and cross-node apart, wrong cells marked red);
each failure with its evidence, which carries the command that reproduces
it; the versions. No scripts, no external files: it opens anywhere, and CI
can attach it as is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 2em; } h3 { font-size: 14px; }
.passed { color: #17692b; } .failed, .error { color: #b3261e; } .skipped { color: #7a5d00; }
table.grid { border-collapse: collapse; margin: .5em 0 1em; }
table.grid th, table.grid td { border: 1px solid #ccc; padding: 2px 6px; text-align: center; }
table.grid th.row { text-align: left; }
td.ok-connected { background: #d7f2dc; } td.ok-dropped { background: #eee; }
td.wrong { background: #f8c9c5; font-weight: bold; } td.none { background: #fff; color: #aaa; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 12px; }
table.versions td { padding: 0 1em 0 0; }
"""
SYMBOL = {"connected": "✓", "dropped": "✗"}


def _cell_class(cell: Mapping[str, str]) -> str:
    if cell["ok"] != "true":
        return "wrong"
    return f"ok-{cell['observed']}" if cell["observed"] in SYMBOL else "ok"


def _grid(title: str, cells: Sequence[Mapping[str, str]]) -> str:
    sources = sorted({c["source"] for c in cells})
    destinations = sorted({c["destination"] for c in cells})
    at = {(c["source"], c["destination"]): c for c in cells}
    rows = ["<tr><th></th>" + "".join(f"<th>{escape(d)}</th>" for d in destinations) + "</tr>"]
    for source in sources:
        tds = []
        for destination in destinations:
            cell = at.get((source, destination))
            if cell is None:
                tds.append('<td class="none">-</td>')
                continue
            name = f"{source} -> {destination} {cell['port']}" + (
                f" [{cell['placement']}]" if cell["placement"] else ""
            )
            shown = SYMBOL.get(cell["observed"], cell["observed"])
            if cell["ok"] != "true":
                shown += f" (want {SYMBOL.get(cell['expected'], cell['expected'])})"
            tooltip = f"{name}: expected {cell['expected']}, observed {cell['observed']}"
            tds.append(
                f'<td class="{_cell_class(cell)}" data-cell="{escape(name)}" '
                f'title="{escape(tooltip)}">{escape(shown)}</td>'
            )
        rows.append(f'<tr><th class="row">{escape(source)}</th>{"".join(tds)}</tr>')
    return f'<h3>{escape(title)}</h3><table class="grid">{"".join(rows)}</table>'


def _matrix(cells: Sequence[Mapping[str, str]]) -> str:
    views: dict[tuple[str, str], list[Mapping[str, str]]] = defaultdict(list)
    for cell in cells:
        views[(cell["port"], cell["placement"])].append(cell)
    return "".join(
        _grid(f"{port} {placement}".strip(), views[(port, placement)])
        for port, placement in sorted(views)
    )


def _check(check: Mapping[str, Any]) -> str:
    outcome = check["outcome"]
    parts = [
        f'<h2 class="{outcome}">{escape(check["id"])} — {outcome}</h2>',
        f"<p>{escape(check['summary'])}</p>",
    ]
    if check["matrix"]:
        wrong = sum(1 for c in check["matrix"] if c["ok"] != "true")
        parts.append(f"<p>{len(check['matrix'])} cells, {wrong} wrong (✓ connected, ✗ dropped)</p>")
        parts.append(_matrix(check["matrix"]))
    if outcome in ("failed", "error") and check["evidence"]:
        parts.append(f"<pre>{escape(check['evidence'])}</pre>")
    return "\n".join(parts)


def _configuration(configuration: Mapping[str, Any] | None) -> str:
    """Where the run's configuration came from: what kind changed, every object and its file."""
    if not configuration:
        return ""
    overrides = "".join(
        f"<tr><td>{escape(o['key'])}</td><td>{escape(o['theirs'])}</td>"
        f"<td>{escape(o['ours'])}</td><td>{escape(o['why'])}"
        f"{'; ' + escape(o['claim']) if o['claim'] else ''}</td></tr>"
        for o in configuration["overrides"]
    )
    listed = {
        name: "".join(f"<li>{escape(line)}</li>" for line in configuration[name])
        for name in ("applied", "not_applied", "replaced")
        if name in configuration
    }
    return (
        "<h2>Your configuration</h2>"
        f"<p>Cilium values from {escape(', '.join(configuration['cilium_values_from']))}</p>"
        '<table class="versions"><tr><th>changed for kind</th><th>yours</th><th>ours</th>'
        f"<th>why</th></tr>{overrides}</table>"
        f"<h3>Applied as written</h3><ul>{listed['applied']}</ul>"
        + (f"<h3>Changed</h3><ul>{listed['replaced']}</ul>" if listed.get("replaced") else "")
        + f"<h3>Never applied</h3><ul>{listed['not_applied']}</ul>"
    )


def render(run: Mapping[str, Any]) -> str:
    by_suite: dict[str, list[str]] = defaultdict(list)
    for check in run["checks"]:
        by_suite[check["suite"]].append(check["outcome"])
    claims: dict[str, list[str]] = defaultdict(list)
    for override in (run.get("configuration") or {}).get("overrides", []):
        if override.get("suite"):
            claims[override["suite"]].append(f"{override['key']}: {override['claim']}")
    suites = "".join(
        f"<li>{escape(suite)}: "
        + ", ".join(
            f'<span class="{o}">{outcomes.count(o)} {o}</span>' for o in dict.fromkeys(outcomes)
        )
        + "".join(f' <em class="claim">({escape(c)})</em>' for c in claims[suite])
        + "</li>"
        for suite, outcomes in sorted(by_suite.items())
    )
    versions = "".join(
        f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>"
        for k, v in sorted(run["versions"].items())
    )
    checks = "\n".join(_check(c) for c in run["checks"])
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>netconform run {escape(run['run'])}</title><style>{STYLE}</style></head><body>"
        f"<h1>netconform run {escape(run['run'])}</h1><ul>{suites}</ul>{checks}"
        f"{_configuration(run.get('configuration'))}"
        f'<h2>Versions</h2><table class="versions">{versions}</table>'
        f"<p>spec sha256 {escape(run['spec_sha256'])}, started {escape(run['started'])}</p>"
        "</body></html>\n"
    )
