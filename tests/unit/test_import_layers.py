"""No module of netconform imports one that imports it back, directly or through others:
every import counted, those inside functions and for type checking too, and a package's
`__init__` with each of its modules imported from outside it."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import netconform

PACKAGE = Path(netconform.__file__).parent


def module_names() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def with_packages(name: str, importer: str) -> set[str]:
    """`name` and the packages an import of it runs first, but not the importer's own."""
    parts = name.split(".")
    parents = {".".join(parts[:i]) for i in range(2, len(parts))}
    return {name} | {p for p in parents if not f"{importer}.".startswith(f"{p}.")}


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {
        name: {
            dep
            for target in imported(path)
            for dep in with_packages(target, name)
            if dep in modules and dep not in (name, "netconform")
        }
        for name, path in modules.items()
    }


def test_the_graph_sees_the_imports_it_judges() -> None:
    graph = import_graph()
    assert "netconform.versions" in graph["netconform.cluster"]
    assert "netconform.sources" in graph["netconform.cluster"]  # via netconform.sources.helm
    assert "netconform.sources" not in graph["netconform.sources.helm"]


def cycle(graph: dict[str, set[str]]) -> list[str]:
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        return list(error.args[1])
    return []


def test_no_module_imports_one_that_imports_it_back() -> None:
    found = cycle(import_graph())
    assert not found, f"an import cycle: {' -> '.join(found)}"


def test_an_import_back_up_the_layers_is_named() -> None:
    graph = import_graph()
    graph["netconform.versions"].add("netconform.cluster")
    assert {"netconform.versions", "netconform.cluster"} <= set(cycle(graph))
