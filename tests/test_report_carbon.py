"""Carbon report: figures agree to the gram across ledger, HTML, CSV and XLSX; per-job paths; bad jobs files."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from islandgrid.carbon.claims import claims_pv_frac
from islandgrid.cli.main import app
from islandgrid.ledger import open_ledger
from islandgrid.ledger.verify import read_records
from islandgrid.reports.accounting import parse_factor_sets

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "horinger-ai-room.toml"
runner = CliRunner()
GRAM = 1e-3  # kg


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("rep")
    db = d / "l.db"
    assert runner.invoke(app, ["ledger", "build", str(SITE), "--db", str(db)]).exit_code == 0
    r = runner.invoke(app, ["report", "carbon", "--db", str(db), "--out", str(d / "out")])
    assert r.exit_code == 0, r.output
    return db, d / "out"


def test_totals_agree_to_the_gram_everywhere(report: tuple[Path, Path]) -> None:
    db, out = report
    with open_ledger(db) as s:
        rec = read_records(s)
    ledger = {
        "scope1_kg": rec["diesel_co2_kg"].sum(),
        "scope2_location_kg": rec["grid_co2_kg"].sum(),
        "load_co2_kg": rec["load_co2_kg"].sum(),
    }
    monthly_csv = pd.read_csv(out / "monthly.csv", index_col=0)
    monthly_xlsx = pd.read_excel(out / "report.xlsx", sheet_name="monthly", index_col=0)
    html = (out / "report.html").read_text()
    for key, value in ledger.items():
        assert abs(monthly_csv.loc["total", key] - value) < GRAM
        assert abs(monthly_xlsx.loc["total", key] - value) < GRAM
        assert abs(monthly_csv.drop(index="total")[key].sum() - value) < GRAM
        shown = f"{value:,.3f}"
        assert shown in html, key
    # location-based Scope 2 = grid import x the Inner Mongolia 2022 factor 0.6849 (MEE & NBS 2022 announcement)
    assert abs(ledger["scope2_location_kg"] - rec["grid_in_kwh"].sum() * 0.6849) < GRAM
    # market-based, no certificates: grid import and the PV claimed under FIFO at max(residual 2022 0.5856,
    # location 0.6849) = 0.6849: never below location-based
    with open_ledger(db) as s:
        body = next(iter(parse_factor_sets(s.backend.factor_sets()).values()))
    pv_claim = (rec["load_served_kwh"] * claims_pv_frac(rec, body)).sum()
    market = monthly_csv.loc["total", "scope2_market_kg"]
    assert abs(market - (rec["grid_in_kwh"].sum() + pv_claim) * 0.6849) < GRAM
    assert market >= ledger["scope2_location_kg"]


def test_report_content(report: tuple[Path, Path]) -> None:
    _, out = report
    html = (out / "report.html").read_text()
    for text in ("CBAM (Regulation (EU) 2023/956) covers imported goods", "not compute services", "Scope 3 / CSRD",
                 "not an actual factor", "75.360", "mee-inner-mongolia-2022@1", "ipcc-diesel-2006@1",
                 "Hourly CFE score", "p95"):  # fmt: skip
        assert text in html
    assert "<script src=" not in html and "Plotly.newPlot" in html  # plotly.js inline: works offline
    summary = pd.read_csv(out / "summary.csv").set_index("item")["value"]
    lb = summary["Scope 1 (diesel)"] + summary["Scope 2 location-based"]
    assert summary["carbon cost, Scope 1 + 2 location-based"] == pytest.approx(lb / 1000 * 75.36)
    pct = pd.read_csv(out / "percentiles.csv").set_index("statistic")["kg_per_kwh"]
    assert pct["p5"] <= pct["p50"] <= pct["p95"] <= pct["max"]
    hourly = pd.read_csv(out / "hourly.csv")
    cfe = hourly["cfe_kwh"].sum() / hourly["load_kwh"].sum()
    assert summary["hourly CFE score"] == pytest.approx(cfe)


def _jobs_covering_everything(db: Path, path: Path, gpu: bool) -> None:
    with open_ledger(db) as s:
        rec = read_records(s)
    rows = []
    for t, it in zip(rec.index[:500], rec["it_kwh"].iloc[:500], strict=True):
        end = t + pd.Timedelta(hours=1)
        if gpu:
            rows.append((f"j{t.value}", t.isoformat(), end.isoformat(), "", repr(it / 0.7)))
        else:
            rows.append((f"j{t.value}", t.isoformat(), end.isoformat(), repr(it), ""))
    pd.DataFrame(rows, columns=["job_id", "start", "end", "kw", "gpu_hours"]).to_csv(path, index=False)


@pytest.mark.parametrize("gpu", [False, True])
def test_jobs_covering_the_load_sum_to_the_ledger_to_the_gram(report, tmp_path: Path, gpu: bool) -> None:
    """One job per hour drawing exactly the IT load: jobs' CO2 = the ledger's load CO2 (no unserved hours)."""
    db, _ = report
    jobs = tmp_path / "jobs.csv"
    _jobs_covering_everything(db, jobs, gpu)
    out = tmp_path / "out"
    r = runner.invoke(app, ["report", "carbon", "--db", str(db), "--jobs", str(jobs), "--out", str(out)])
    assert r.exit_code == 0, r.output
    got = pd.read_csv(out / "jobs.csv")
    with open_ledger(db) as s:
        rec = read_records(s).iloc[:500]
    assert rec["unserved_kwh"].sum() == 0
    assert abs(got["co2_kg"].sum() - rec["load_co2_kg"].sum()) < GRAM
    assert got["facility_kwh"].sum() == pytest.approx(rec["load_kwh"].sum(), rel=1e-12)


def test_kw_and_gpu_hours_by_hand(report, tmp_path: Path) -> None:
    """10 kW for 2 h == 2 GPUs x ... : 20 kWh IT either way at 0.7 kW per GPU -> 28.571 GPU-hours."""
    db, _ = report
    jobs = tmp_path / "j.csv"
    jobs.write_text("job_id,start,end,kw,gpu_hours\na,2025-03-01 10:00,2025-03-01 12:00,10,\n"
                    f"b,2025-03-01 10:00,2025-03-01 12:00,,{20 / 0.7!r}\n")  # fmt: skip
    out = tmp_path / "out"
    assert (
        runner.invoke(app, ["report", "carbon", "--db", str(db), "--jobs", str(jobs), "--out", str(out)]).exit_code == 0
    )
    got = pd.read_csv(out / "jobs.csv").set_index("job_id")
    assert got.loc["a", "it_kwh"] == pytest.approx(20.0)
    assert got.loc["b", "it_kwh"] == pytest.approx(20.0)
    assert got.loc["a", "co2_kg"] == pytest.approx(got.loc["b", "co2_kg"])
    with open_ledger(db) as s:
        rec = read_records(s).tz_convert("Asia/Shanghai").loc["2025-03-01 10:00":"2025-03-01 11:00"]
    expected = float((10.0 * rec["load_kwh"] / rec["it_kwh"] * rec["e_bus_kg_per_kwh"]).sum())
    assert got.loc["a", "co2_kg"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("job_id,start,end,kw\na,2025-03-01 10:00,2025-03-01 09:00,10\n", "line 2: end"),
        ("job_id,start,end,kw\na,2025-03-01 10:00,2025-03-01 12:00,-3\n", "line 2: kw"),
        ("job_id,start,end,kw,gpu_hours\na,2025-03-01 10:00,2025-03-01 12:00,1,2\n", "exactly one"),
        ("job_id,start,end,kw\na,yesterday,2025-03-01 12:00,1\n", "line 2"),
        ("job,begin\n", "missing columns"),
        ("job_id,start,end,kw\na,2031-03-01 10:00,2031-03-01 12:00,1\n", "outside the ledger"),
    ],
)
def test_bad_jobs_exit_2_and_write_nothing(report, tmp_path: Path, text: str, message: str) -> None:
    db, _ = report
    jobs = tmp_path / "j.csv"
    jobs.write_text(text)
    out = tmp_path / "out"
    r = runner.invoke(app, ["report", "carbon", "--db", str(db), "--jobs", str(jobs), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert message in re.sub(r"\s+", " ", r.output)
    assert not out.exists()
