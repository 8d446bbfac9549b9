"""The command line: KPI table, --json, --out, and bad input with exit code 2 and no traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "islandgrid.cli.main", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_json_is_one_object_with_the_issue_keys() -> None:
    r = cli("simulate", str(EXAMPLES / "horinger-ai-room.toml"), "--json")
    assert r.returncode == 0, r.stderr
    kpis = json.loads(r.stdout)  # stdout holds the JSON object and nothing else
    for key in (
        "load_kwh",
        "served_kwh",
        "unserved_kwh",
        "pv_available_kwh",
        "pv_used_kwh",
        "pv_curtailed_kwh",
        "pv_share",
        "renewable_fraction",
        "grid_import_kwh",
        "grid_export_kwh",
        "diesel_kwh",
        "diesel_hours",
        "diesel_starts",
        "fuel_l",
        "battery_throughput_kwh",
        "co2_kg",
        "baseline_co2_kg",
        "co2_reduction",
        "availability",
    ):
        assert key in kpis
    assert 0 < kpis["pv_share"] < 1
    assert kpis["co2_kg"] < kpis["baseline_co2_kg"]


def test_table_and_out_dir(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = cli("simulate", str(EXAMPLES / "reference-100kw.toml"), "--out", str(out), "--strategy", "load_following")
    assert r.returncode == 0, r.stderr
    assert "grid + diesel backup" in r.stdout
    assert "MISSED PV share" in r.stdout  # the 100 kW room does not reach the 80 % target
    flows = pd.read_parquet(out / "flows.parquet")
    assert len(flows) == 8760 and str(flows.index.tz) == "Asia/Shanghai"
    assert {"pv_used_kwh", "soc_kwh", "e_bus_kg_per_kwh"} <= set(flows.columns)
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["load_kwh"] == pytest.approx(flows["load_kwh"].sum())
    html = (out / "report.html").read_text()
    assert "Summer week" in html and "Winter week" in html and "Genset runs" in html
    assert "cdn." not in html.split("<script")[0]  # no external assets: plotly.js is embedded
    assert (out / "flows.csv").stat().st_size > 0


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (("kwp = 220", "kwp = 220000"), "pv.kwp"),
        (("soc_min_frac = 0.10", "soc_min_frac = 0.99"), "soc_min_frac"),
        (("energy_kwh = 500", "energy_kwh = -500"), "battery.energy_kwh"),
        (('epw = "data/', 'epw = "missing/'), "weather.epw"),
    ],
)
def test_bad_site_exit_2_no_traceback_nothing_written(tmp_path: Path, edit: tuple[str, str], fragment: str) -> None:
    shutil.copytree(EXAMPLES / "data", tmp_path / "data")
    text = (EXAMPLES / "horinger-ai-room.toml").read_text().replace(*edit)
    (tmp_path / "site.toml").write_text(text)
    out = tmp_path / "out"
    r = cli("simulate", "site.toml", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2
    assert fragment in r.stderr and "Traceback" not in r.stderr + r.stdout
    assert not out.exists()


def test_missing_site_file(tmp_path: Path) -> None:
    r = cli("simulate", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "site file not found" in r.stderr and "Traceback" not in r.stderr


def test_malformed_epw_and_csv(tmp_path: Path) -> None:
    epw = (EXAMPLES / "data" / "CHN_Nei.Mongol.Hohhot.534630_CSWD.epw").read_text().splitlines()
    (tmp_path / "short.epw").write_text("\n".join(epw[:-100]) + "\n")  # a truncated year
    text = (EXAMPLES / "horinger-ai-room.toml").read_text()
    text = text.replace('epw = "data/CHN_Nei.Mongol.Hohhot.534630_CSWD.epw"', 'epw = "short.epw"')
    (tmp_path / "site.toml").write_text(text)
    r = cli("simulate", "site.toml", cwd=tmp_path)
    assert r.returncode == 2 and "short.epw" in r.stderr and "Traceback" not in r.stderr


def test_load_csv_with_gap_and_watts(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "data", tmp_path / "data")
    idx = pd.date_range("2025-01-01", "2026-01-01", freq="1h", inclusive="left")
    good = pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%d %H:%M"), "it_kw": 50.0})
    text = (
        (EXAMPLES / "horinger-ai-room.toml")
        .read_text()
        .replace('profile = "ai_training"', 'profile = "csv"\ncsv = "it.csv"')
    )
    (tmp_path / "site.toml").write_text(text)
    good.drop(index=100).to_csv(tmp_path / "it.csv", index=False)  # a gap
    r = cli("simulate", "site.toml", "--json", cwd=tmp_path)
    assert r.returncode == 2 and "gap" in r.stderr and "Traceback" not in r.stderr
    good.assign(it_kw=50000.0).to_csv(tmp_path / "it.csv", index=False)  # W, not kW
    r = cli("simulate", "site.toml", "--json", cwd=tmp_path)
    assert r.returncode == 2 and "looks like W" in r.stderr
    good.iloc[:4000].to_csv(tmp_path / "it.csv", index=False)  # wrong length
    r = cli("simulate", "site.toml", "--json", cwd=tmp_path)
    assert r.returncode == 2 and "not the simulated year" in r.stderr
    good.to_csv(tmp_path / "it.csv", index=False)
    r = cli("simulate", "site.toml", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
