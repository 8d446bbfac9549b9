"""Per-job export (issues 14 §4, 13 §4): CodeCarbon's layout, SCI per GPU-hour, market-based, CO2e, idle, overclaims."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import islandgrid
from islandgrid.carbon.jobs import validate_jobs
from islandgrid.cli.main import app
from islandgrid.ledger import open_ledger
from islandgrid.ledger.verify import read_records, verify_chain
from islandgrid.reports.carbon import CarbonReport, build_report, write_report
from islandgrid.reports.job_export import (
    CODECARBON_COLUMNS,
    IDLE_RUN_ID,
    QUALITY_SHARE_COLUMNS,
    SCI_COLUMNS,
    EmbodiedBasis,
    job_emissions,
)
from islandgrid.site.spec import Site

runner = CliRunner()


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


# -- job_emissions: the one entry point (a scheduler's finished jobs, the SCI, the energy split) -------------------
def _finished(db: Path, n: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` one-hour jobs as a scheduler reports them: Timestamps, a GPU count and no power."""
    with open_ledger(db) as s:
        rec = read_records(s).iloc[:n]
    frame = pd.DataFrame(
        {
            "job_id": [f"slurm-{i}" for i in range(n)],
            "start": rec.index,
            "end": rec.index + pd.Timedelta(hours=1),
            "gpu_count": [1.0] * n,
            "gpu_model": ["H100 SXM"] * n,
        }
    )
    return frame, rec


def test_job_emissions_takes_a_schedulers_frame_and_matches_the_csv_path(ledger: Path, tmp_path: Path) -> None:
    frame, _ = _finished(ledger)
    frame.assign(start=frame["start"].map(pd.Timestamp.isoformat), end=frame["end"].map(pd.Timestamp.isoformat)).to_csv(
        tmp_path / "j.csv", index=False
    )
    with open_ledger(ledger, readonly=True) as s:
        em = job_emissions(s, validate_jobs(frame, "Asia/Shanghai"))
    rep = _report(ledger, tmp_path / "j.csv")
    assert rep.job_emissions is not None
    pd.testing.assert_frame_equal(em.codecarbon, rep.job_emissions.codecarbon)
    pd.testing.assert_frame_equal(em.sci, rep.job_emissions.sci)
    # gpu_count alone: one GPU for the whole hour = 1 GPU-hour at the H100's 0.7 kW board power
    assert em.jobs["gpu_hours"].tolist() == [1.0] * 6 and em.jobs["it_kw"].tolist() == pytest.approx([0.7] * 6)
    assert em.codecarbon["gpu_count"].iloc[0] == 1  # written as CodeCarbon writes a count
    shares = em.codecarbon.loc[em.codecarbon["run_id"] != IDLE_RUN_ID, list(QUALITY_SHARE_COLUMNS)]
    assert shares.sum(axis=1).to_numpy() == pytest.approx(1.0) and shares["measured_share"].min() == 1.0


def test_the_sci_per_gpu_hour_is_e_times_i_plus_m_per_r(ledger: Path) -> None:
    # M per GPU-hour from Luccioni et al., JMLR 24(253) 2023, s. 3.1: (2500 kg server + 8 x 150 kg GPUs) over
    # 6 years of 8766 h, per GPU of 8: 3700 / 420,768 kg = 8.79 g per GPU-hour (exact arithmetic, rel 1e-12)
    assert EmbodiedBasis().kg_per_gpu_hour * 1000 == pytest.approx(3700 / (6 * 8766 * 8) * 1000, rel=1e-12)
    frame, rec = _finished(ledger)
    frame["gpu_count"] = [1.0, 2.0, 4.0, 8.0, 1.0, 1.0]
    with open_ledger(ledger, readonly=True) as s:
        em = job_emissions(s, validate_jobs(frame, "Asia/Shanghai"))
    sci = em.sci.set_index("run_id")
    m_g = EmbodiedBasis().kg_per_gpu_hour * 1000
    for i, (t, r) in enumerate(rec.iterrows()):
        row = sci.loc[f"slurm-{i}"]
        gpus = frame["gpu_count"].iloc[i]
        # E: the job's IT energy (GPUs x 0.7 kW x 1 h) x the interval's metered PUE (load / IT)
        e_kwh = gpus * 0.7 * r["load_kwh"] / r["it_kwh"]
        assert row["energy_kwh"] == pytest.approx(e_kwh, rel=1e-9), t
        assert row["embodied_g"] == pytest.approx(gpus * m_g, rel=1e-12)
        assert row["sci_g_per_gpu_hour"] == pytest.approx((row["operational_g"] + row["embodied_g"]) / gpus, rel=1e-12)
        if r["fuel_l"] == 0:  # no diesel: CO2e = CO2, and I is the bus intensity of the interval
            assert row["intensity_g_per_kwh"] == pytest.approx(1000 * r["e_bus_kg_per_kwh"], rel=1e-9)
    assert (sci["ledger_tip"] == em.chain.tip_hash).all() and sci["embodied_source"].str.contains("JMLR").all()


def test_a_job_without_gpus_has_no_sci_rather_than_a_guess(ledger: Path) -> None:
    frame, _ = _finished(ledger, n=1)
    frame = frame.drop(columns="gpu_count").assign(kw=5.0)
    with open_ledger(ledger, readonly=True) as s:
        em = job_emissions(s, validate_jobs(frame, "Asia/Shanghai"))
    assert np.isnan(em.sci["sci_g_per_gpu_hour"].iloc[0]) and em.sci["operational_g"].iloc[0] > 0


def test_the_energy_split_is_carried_and_checked(ledger: Path) -> None:
    frame, _ = _finished(ledger, n=2)
    frame["gpu_kwh"] = [0.5, 0.9]  # the second claims more GPU energy than its 0.7 kWh of IT energy
    frame["cpu_kwh"] = [0.1, 0.1]
    with open_ledger(ledger, readonly=True) as s:
        em = job_emissions(s, validate_jobs(frame, "Asia/Shanghai"))
    cc = em.codecarbon.set_index("run_id")
    assert cc.loc["slurm-0", "gpu_energy"] == 0.5 and cc.loc["slurm-0", "gpu_power"] == pytest.approx(500.0)
    assert cc.loc["slurm-0", "cpu_energy"] == 0.1 and cc.loc["slurm-0", "ram_energy"] == ""  # unknown: empty
    assert len(em.warnings) == 1 and "job slurm-1" in em.warnings[0] and "energy split" in em.warnings[0]


def test_the_tip_signature_is_in_every_row(ledger: Path, tmp_path: Path) -> None:
    db = tmp_path / "signed.db"
    shutil.copy(ledger, db)
    assert runner.invoke(app, ["ledger", "keygen", "--db", str(db)]).exit_code == 0
    frame, _ = _finished(db, n=2)
    with open_ledger(db, readonly=True) as s:
        em = job_emissions(s, validate_jobs(frame, "Asia/Shanghai"))
        sig = s.signature(em.chain.site_id)
    assert sig is not None and (em.codecarbon["ledger_tip_signature"] == sig.signature.hex()).all()
    assert (em.codecarbon["ledger_tip_seq"] == sig.seq).all()


def test_report_jobs_writes_the_three_files(ledger: Path, tmp_path: Path) -> None:
    _jobs(ledger, tmp_path / "j.csv", 0.5, n=4)
    out = tmp_path / "out"
    r = runner.invoke(
        app, ["report", "jobs", "--db", str(ledger), "--jobs", str(tmp_path / "j.csv"), "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    with open_ledger(ledger, readonly=True) as s:
        tip = verify_chain(s).tip_hash
    assert "4 job(s)" in r.output and f"ledger tip 167:{tip}" in r.output
    got = pd.read_csv(out / "emissions.csv", keep_default_na=False)
    assert tuple(got.columns[: len(CODECARBON_COLUMNS)]) == CODECARBON_COLUMNS and len(got) == 5  # 4 jobs + idle
    sci = pd.read_csv(out / "sci.csv")
    assert tuple(sci.columns) == SCI_COLUMNS and sci["sci_g_per_gpu_hour"].notna().all()  # gpu_count 2 given
    assert (out / "jobs.csv").exists()
    bad = runner.invoke(app, ["report", "jobs", "--db", str(ledger), "--jobs", str(tmp_path / "j.csv"),
                              "--out", str(tmp_path / "o2"), "--gpus-per-server", "0"])  # fmt: skip
    assert bad.exit_code == 2 and "--gpus-per-server" in bad.output and not (tmp_path / "o2").exists()
