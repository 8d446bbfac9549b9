"""Per-job export (issue 14 §4): CodeCarbon's emissions.csv layout, market-based, CO2e, idle energy, over-claims."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import islandgrid
from islandgrid.ledger import open_ledger
from islandgrid.ledger.verify import read_records
from islandgrid.reports.carbon import CarbonReport, build_report, write_report
from islandgrid.reports.job_export import CODECARBON_COLUMNS, IDLE_RUN_ID
from islandgrid.site.spec import Site


@pytest.fixture(scope="module")
def ledger(horinger: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    res = islandgrid.simulate(horinger, baseline=False)
    week = slice(24 * 174, 24 * 181)
    it_kwh = res.inputs.frame["it_kw"].to_numpy()[week] * res.dt_h
    db = tmp_path_factory.mktemp("jobs") / "l.db"
    with open_ledger(db) as store:
        store.append_flows(horinger, res.flows.iloc[week], quality="measured", it_kwh=it_kwh)
    return db


def _jobs(db: Path, path: Path, frac: float, n: int = 48, per_hour: int = 1) -> pd.DataFrame:
    """``per_hour`` jobs an hour, each drawing ``frac`` of that hour's metered IT energy."""
    with open_ledger(db) as s:
        rec = read_records(s).iloc[:n]
    h = pd.Timedelta(hours=1)
    rows = [(f"j{i}" + (f"-{k}" if k else ""), t.isoformat(), (t + h).isoformat(), repr(frac * it), "2", "H100 SXM")
            for i, (t, it) in enumerate(zip(rec.index, rec["it_kwh"], strict=True))
            for k in range(per_hour)]  # fmt: skip
    pd.DataFrame(rows, columns=["job_id", "start", "end", "kw", "gpu_count", "gpu_model"]).to_csv(path, index=False)
    return rec


def _report(db: Path, jobs: Path) -> CarbonReport:
    with open_ledger(db) as s:
        return build_report(s, jobs_csv=jobs)


def test_the_export_has_codecarbons_layout_and_the_ledgers_evidence(ledger: Path, tmp_path: Path) -> None:
    _jobs(ledger, tmp_path / "j.csv", 0.5)
    rep = _report(ledger, tmp_path / "j.csv")
    write_report(rep, tmp_path / "out")
    got = pd.read_csv(tmp_path / "out" / "emissions.csv", keep_default_na=False)
    assert tuple(got.columns[: len(CODECARBON_COLUMNS)]) == CODECARBON_COLUMNS
    row = got.iloc[0]
    assert row["run_id"] == "j0" and row["duration"] == 3600.0 and str(row["gpu_count"]) == "2"
    assert row["gpu_model"] == "H100 SXM" and row["country_iso_code"] == "CHN" and row["region_code"] == "CN-NM"
    assert row["emissions_rate"] == pytest.approx(row["emissions"] / 3600.0)
    assert row["emissions"] == pytest.approx(row["co2e_kg"]) and row["co2e_kg"] >= row["co2_location_kg"]
    assert row["co2_market_kg"] >= row["co2_location_kg"]  # no certificates
    assert row["ledger_tip"] == rep.chain.tip_hash and float(row["measured_share"]) == pytest.approx(1.0)
    assert row["cpu_power"] == "" and row["os"] == ""  # not known: left empty, never guessed


def test_jobs_and_idle_energy_add_up_to_the_metered_it_energy(ledger: Path, tmp_path: Path) -> None:
    rec = _jobs(ledger, tmp_path / "j.csv", 0.25)
    rep = _report(ledger, tmp_path / "j.csv")
    assert rep.job_export is not None and rep.warnings == []
    idle = rep.job_export.set_index("run_id").loc[IDLE_RUN_ID]
    assert idle["it_kwh"] == pytest.approx(0.75 * rec["it_kwh"].sum(), rel=1e-9)
    assert rep.job_export["energy_consumed"].sum() == pytest.approx(rec["load_kwh"].sum(), rel=1e-9)
    assert rep.job_export["co2_location_kg"].sum() == pytest.approx(rec["load_co2_kg"].sum(), rel=1e-9)


def test_jobs_claiming_more_than_the_meters_are_warned(ledger: Path, tmp_path: Path) -> None:
    # each job fits in the room (a single job above the room's peak is refused as bad input); two together
    # claim 1.5x what the meters recorded in their hour
    _jobs(ledger, tmp_path / "j.csv", 0.75, n=3, per_hour=2)
    rep = _report(ledger, tmp_path / "j.csv")
    assert len(rep.warnings) == 3 and "jobs claim" in rep.warnings[0] and "the meters show" in rep.warnings[0]
    assert IDLE_RUN_ID not in set(rep.job_export["run_id"])  # type: ignore[index]
