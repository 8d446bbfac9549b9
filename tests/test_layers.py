"""The layer contract (issue 10 §2), checked in `make test`.

- import-linter's contracts in ``pyproject.toml`` ([tool.importlinter]): every package imports only
  packages below it, and the hardware side (controller, links, devices, twin) never imports the
  simulator or the planning tools, directly or indirectly. The tool is itself checked: a contract
  that the code breaks must be reported broken.
- No module-level import cycle anywhere in ``islandgrid`` (also through imports inside functions,
  which import-linter's package layers do not see inside a package).
- No private name (``_x``) imported from another package.
- No source file over 600 lines.
Imports are read from the source with ``ast``; nothing from islandgrid is imported here.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
MAX_LINES = 600


def _lint_imports(config: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    args = [exe, "--no-cache"] + (["--config", str(config)] if config else [])
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_are_kept() -> None:
    r = _lint_imports()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


def test_the_contract_checker_reports_a_broken_layer(tmp_path: Path) -> None:
    """Seeded violation: the same tool with the layers upside down must fail (cli imports everything)."""
    cfg = tmp_path / "upside-down.toml"
    cfg.write_text(
        textwrap.dedent(
            """\
            [tool.importlinter]
            root_package = "islandgrid"

            [[tool.importlinter.contracts]]
            name = "upside down"
            type = "layers"
            layers = ["islandgrid.errors", "islandgrid.cli"]
            """
        )
    )
    r = _lint_imports(cfg)
    assert r.returncode != 0 and "BROKEN" in r.stdout, r.stdout + r.stderr


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(imported islandgrid module, names taken from it) for every import in the file, at any depth.

    ``from islandgrid.pkg import mod`` imports the module ``islandgrid.pkg.mod`` (not the package).
    Imports under ``if TYPE_CHECKING:`` are for annotations only and never run: they are skipped.
    """
    tree = ast.parse(path.read_text())
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for stmt in block.body
        for n in ast.walk(stmt)
    }
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("islandgrid")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("islandgrid"):
            names = [a.name for a in node.names]
            subs = [n for n in names if (SRC / node.module.replace(".", "/") / f"{n}.py").is_file()]
            out += [(f"{node.module}.{n}", []) for n in subs]
            if len(subs) < len(names):
                out.append((node.module, [n for n in names if n not in subs]))
    return out


def package(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def sources() -> list[Path]:
    return sorted((SRC / "islandgrid").rglob("*.py"))


def test_no_import_cycle_between_modules() -> None:
    mods = {module_name(p): p for p in sources()}
    g = {m: {t for t, _ in imports(p) if t in mods and t != m} for m, p in mods.items()}

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
        for p in sources()
        for t, names in imports(p)
        for name in names
        if name.startswith("_") and not name.startswith("__") and package(t) != package(module_name(p))
    ]
    assert not bad, bad


def test_no_source_file_over_600_lines() -> None:
    files = [*sources(), *(SRC / "islandgrid" / "api" / "static").glob("*.js")]
    long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long
