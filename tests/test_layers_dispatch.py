"""Import structure of the dispatch packages (issue 10 §2): strategy, optimize, forecast, mpc, the
strategy registry (dispatch) and simulate import only downwards, form no import cycle (also through
imports inside functions), and import no private name from another package. Read from the source
with ``ast``; the project-wide import-linter contract covers the layers of every package. The
hardware side (controller, links, twin, api) never imports the simulator: it names strategies
through :mod:`islandgrid.dispatch`."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
#: Lowest first; packages of one rank are independent of each other.
RANK = {"errors": 0, "site": 1, "inputs": 2, "components": 2, "strategy": 3, "optimize": 4, "forecast": 4, "mpc": 5,
        "dispatch": 6, "simulate": 7}  # fmt: skip
CHECKED = ("strategy", "optimize", "forecast", "mpc", "dispatch", "simulate")
HARDWARE = ("controller", "links", "twin", "api")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(imported islandgrid module, names taken from it) for every import in the file, at any depth."""
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("islandgrid")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("islandgrid"):
            out.append((node.module, [a.name for a in node.names]))
    return out


def graph() -> dict[str, set[str]]:
    """Module -> the islandgrid modules it imports, for every module of the checked packages."""
    mods = {module_name(p): p for pkg in CHECKED for p in (SRC / "islandgrid" / pkg).rglob("*.py")}
    return {m: {t for t, _ in imports(p)} for m, p in mods.items()}


def package(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_dispatch_packages_import_only_downwards() -> None:
    bad = [
        (m, t)
        for m, targets in graph().items()
        for t in targets
        if package(t) in RANK and package(t) != package(m) and RANK[package(t)] >= RANK[package(m)]
    ]
    assert not bad, bad


def test_dispatch_packages_have_no_import_cycle() -> None:
    g = graph()

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for t in g.get(todo.pop(), ()):
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return seen

    cycles = sorted(m for m in g if m in reach(m))
    assert not cycles, cycles


def test_no_private_name_imported_from_another_package() -> None:
    bad = [
        (module_name(p), t, name)
        for pkg in CHECKED
        for p in (SRC / "islandgrid" / pkg).rglob("*.py")
        for t, names in imports(p)
        for name in names
        if name.startswith("_") and package(t) != pkg
    ]
    assert not bad, bad


def test_hardware_side_does_not_import_the_simulator() -> None:
    bad = [
        (module_name(p), t)
        for pkg in HARDWARE
        for p in (SRC / "islandgrid" / pkg).rglob("*.py")
        for t, names in imports(p)
        if package(t) == "simulate" or (t == "islandgrid" and "simulate" in names)
    ]
    assert not bad, bad
