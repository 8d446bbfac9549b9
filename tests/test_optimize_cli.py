"""``islandgrid optimize``: JSON output, --out, exit codes (the command on its own Typer app)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from islandgrid.cli.optimize import register

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "horinger-ai-room.toml"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    register(a)

    @a.callback()
    def _main() -> None:
        """Test app."""

    return a


def test_json_prints_only_kpis_with_the_gap(app: typer.Typer, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["optimize", str(EXAMPLE), "--json", "--mode", "lp", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    kpis = json.loads(res.stdout)
    assert kpis["optimization_mode"] == "lp"
    assert kpis["optimality_gap"] <= 1e-9
    assert kpis["lp_bound"] <= kpis["optimal_objective"] * (1 + 1e-9)
    assert "co2_reduction" in kpis  # the baseline ran beside it
    for name in ("report.html", "flows.parquet", "flows.csv", "kpis.json"):
        assert (tmp_path / "o" / name).is_file()
    assert json.loads((tmp_path / "o" / "kpis.json").read_text())["optimization_mode"] == "lp"


@pytest.mark.parametrize(
    ("args", "text"),
    [(["--mode", "quadratic"], "mode"), (["--end-soc", "cyclic"], "end_soc"), (["--time-limit", "0"], "time")],
)
def test_bad_options_exit_2_with_a_fix(app: typer.Typer, args: list[str], text: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["optimize", str(EXAMPLE), *args, "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert text in res.output and "Fix:" in res.output
    assert not (tmp_path / "o").exists()
