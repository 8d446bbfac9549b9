"""Helpers of the bad-input tests: a site file written from a dict, the CLI in-process, a folder snapshot."""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
from typer.testing import CliRunner

from islandgrid.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
HOHHOT_EPW = EXAMPLES / "data" / "CHN_Nei.Mongol.Hohhot.534630_CSWD.epw"
_BASE = tomllib.loads((EXAMPLES / "horinger-ai-room.toml").read_text())


def base_site() -> dict[str, Any]:
    """The seed case as a dict, its EPW path absolute (so the site file can live anywhere)."""
    d = copy.deepcopy(_BASE)
    d["weather"]["epw"] = str(HOHHOT_EPW)
    return d


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return repr(v)


def to_toml(d: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for site dicts: scalars and lists first, then sub-tables."""
    scalars = [f"{k} = {_value(v)}" for k, v in d.items() if not isinstance(v, dict)]
    tables = [f"\n[{prefix}{k}]\n" + to_toml(v, f"{prefix}{k}.") for k, v in d.items() if isinstance(v, dict)]
    return "\n".join(scalars) + "\n" + "".join(tables)


def write_site(folder: Path, d: dict[str, Any], name: str = "site.toml") -> Path:
    """Write ``d`` as a TOML site file in ``folder``."""
    path = folder / name
    path.write_text(to_toml(d))
    return path


def year_csv(path: Path, column: str, value: float, year: int = 2025) -> pd.DataFrame:
    """A complete hourly ``timestamp,<column>`` year; written to ``path`` and returned for edits."""
    idx = pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq="1h", inclusive="left")
    frame = pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%d %H:%M"), column: value})
    frame.to_csv(path, index=False)
    return frame


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` with a hash of its bytes."""
    out = {}
    for p in sorted(folder.rglob("*")):
        out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


RUNNER = CliRunner()


def run(*args: str | Path) -> Any:
    """``islandgrid ARGS`` in-process; returns the click Result (exit_code, stdout, stderr)."""
    return RUNNER.invoke(app, [str(a) for a in args], catch_exceptions=True)


def assert_refused(result: Any, *fragments: str) -> None:
    """Exit 2 through the friendly error path: the message has every fragment, no traceback."""
    text = result.stdout + result.stderr
    assert result.exit_code == 2, f"exit {result.exit_code}: {text}\n{result.exception!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in text
    assert "error" in result.stderr, result.stderr
    flat = " ".join(result.stderr.split())
    for frag in fragments:
        assert frag in flat, f"{frag!r} not in {flat!r}"
