"""Factors and claims with evidence (issue 14 §2, issue 10 §4): same-year factors, certificates, CO2e, CFE, storage."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import islandgrid
from islandgrid.carbon.certificates import read_register
from islandgrid.carbon.claims import claims_pv_frac
from islandgrid.carbon.flow import CarbonState, carbon_flow_state
from islandgrid.carbon.scope1 import DIESEL_TJ_PER_L
from islandgrid.cli.main import app
from islandgrid.errors import DataFileError, SiteFileError
from islandgrid.ledger import open_ledger
from islandgrid.reports.carbon import CarbonReport, build_report
from islandgrid.site import site_from_dict
from islandgrid.site.spec import Site

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
KG = 1e-9  # relative


@pytest.fixture(scope="module")
def week(horinger: Site) -> pd.DataFrame:
    """A late-June week of simulated hourly flows (PV, battery cycling, grid import, an outage with diesel)."""
    return islandgrid.simulate(horinger, baseline=False).flows.iloc[24 * 174 : 24 * 181]


def _carbon(site: Site, **kw: object) -> Site:
    return site.model_copy(update={"carbon": site.carbon.model_copy(update=kw)})


def _report(site: Site, flows: pd.DataFrame, quality: str = "measured", **kw: object) -> CarbonReport:
    with open_ledger(":memory:") as store:
        store.append_flows(site, flows, quality=quality)
        return build_report(store, **kw)  # type: ignore[arg-type]


def _summary(rep: CarbonReport) -> pd.Series:
    return rep.summary.set_index("item")["value"]


def _register(path: Path, rows: list[tuple[str, float, str, str, str]]) -> Path:
    lines = ["certificate_id,mwh,period_start,period_end,retired_for"]
    lines += [",".join(str(x) for x in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _site_dict(**carbon: object) -> dict[str, object]:
    data = tomllib.loads((EXAMPLES / "horinger-ai-room.toml").read_text())
    data["carbon"] = dict(carbon)
    return data


# -- factor pairing ----------------------------------------------------------------------------------
def test_a_mixed_set_of_years_is_refused_naming_the_fields_and_the_fix() -> None:
    with pytest.raises(SiteFileError) as e:
        site_from_dict(_site_dict(residual_factor="mee-national-residual-2023"), "s.toml", EXAMPLES)
    msg = str(e.value)
    assert e.value.exit_code == 2
    assert "grid.carbon_factor, carbon.residual_factor" in msg and "2022" in msg and "2023" in msg
    assert "mixed_years_reason" in msg  # the fix


def test_a_mixed_set_with_a_reason_is_allowed_and_the_report_prints_the_reason(horinger: Site, week) -> None:
    reason = "the 2023 Inner Mongolia factor is not published in the registry yet"
    site = site_from_dict(
        _site_dict(residual_factor="mee-national-residual-2023", mixed_years_reason=reason), "s.toml", EXAMPLES
    )
    rep = _report(site, week)
    assert any(reason in text for _, text in rep.basis)
    f = rep.factors.set_index("role")
    assert f.loc["residual", "year"] == "2023" and f.loc["grid", "year"] == "2022"


def test_the_default_residual_is_of_the_grid_factors_year_and_each_factor_states_its_region(horinger, week) -> None:
    rep = _report(horinger, week)
    f = rep.factors.set_index("role")
    assert (f.loc["grid", "name"], f.loc["grid", "region"]) == ("mee-inner-mongolia-2022@1", "Inner Mongolia")
    assert (f.loc["residual", "name"], f.loc["residual", "region"]) == ("mee-national-residual-2022@1", "China")
    assert "provincial" in f.loc["grid", "table"] and "Annex 1" in f.loc["residual", "table"]


def test_market_based_is_never_below_location_based_without_certificates(horinger: Site, week) -> None:
    # a residual far below the Inner Mongolia factor: unmatched load still takes the location factor as a floor
    for site in (horinger, _carbon(horinger, residual_factor=0.3)):
        s = _summary(_report(site, week))
        assert s["Scope 2 market-based"] >= s["Scope 2 location-based"] > 0


# -- certificates ------------------------------------------------------------------------------------
def test_gec_frac_without_certificates_changes_nothing(horinger: Site, week) -> None:
    a, b = _report(_carbon(horinger, gec_frac=0.0), week), _report(_carbon(horinger, gec_frac=1.0), week)
    pd.testing.assert_series_equal(_summary(a), _summary(b))
    pd.testing.assert_frame_equal(a.monthly, b.monthly)
    pd.testing.assert_frame_equal(a.hourly, b.hourly)
    assert _summary(a)["certified PV share (certificates held)"] == 0.0
    assert _summary(a)["hourly CFE score"] == 0.0


def test_only_what_the_register_holds_counts_everywhere(horinger: Site, week, tmp_path: Path) -> None:
    """50 kWh of certificates for the week: market-based falls by exactly 50 kWh x 0.6849, CFE = 50 kWh / load."""
    reg = _register(tmp_path / "certs.csv", [("GEC-1", 0.05, "2025-05-01", "2025-07-01", "Horinger AI room")])
    base = _summary(_report(horinger, week))
    rep = _report(_carbon(horinger, gec_frac=1.0, certificates=reg), week)
    s = _summary(rep)
    assert base["Scope 2 market-based"] - s["Scope 2 market-based"] == pytest.approx(50.0 * 0.6849, rel=KG)
    assert s["certified PV share (certificates held)"] == pytest.approx(50.0 / s["load served"], rel=KG)
    assert s["hourly CFE score"] == pytest.approx(50.0 / week["load_kwh"].sum(), rel=KG)
    assert s["Scope 2 location-based"] == base["Scope 2 location-based"]
    assert "0.050 MWh, 1 certificates); counted: 0.050 MWh" in dict(rep.basis)["Certificates"]
    # the register's digest is in the factor set every record's hash covers
    with open_ledger(":memory:") as store:
        store.append_flows(_carbon(horinger, gec_frac=1.0, certificates=reg), week)
        body = next(iter(store.backend.factor_sets().values()))
    assert read_register(reg, "Asia/Shanghai")["sha256"] in body


def test_per_job_pv_share_counts_only_certificates(horinger: Site, week, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.csv"
    t0, t1 = week.index[0], week.index[-1]
    jobs.write_text(f"job_id,start,end,kw\nall,{t0.isoformat()},{t1.isoformat()},50\n")
    none = _report(horinger, week, jobs_csv=jobs, pue=1.2).jobs
    assert none is not None and none.loc[0, "certified_pv_share"] == 0.0 and none.loc[0, "onsite_pv_share"] > 0
    reg = _register(tmp_path / "c.csv", [("GEC-9", 100.0, "2025-05-01", "2025-07-01", "Horinger AI room")])
    full = _report(_carbon(horinger, gec_frac=1.0, certificates=reg), week, jobs_csv=jobs, pue=1.2).jobs
    assert full is not None and 0 < full.loc[0, "certified_pv_share"] <= 1
    assert full.loc[0, "measured_share"] == pytest.approx(1.0)


def test_granular_certificates_count_in_the_cfe_score_and_annual_ones_do_not(horinger: Site, week, tmp_path) -> None:
    hour = week.index[np.argmax(week["grid_in_kwh"].to_numpy())]
    local = hour.tz_convert("Asia/Shanghai").tz_localize(None)
    end = local + pd.Timedelta(hours=1)
    gran = _register(tmp_path / "g.csv", [("EAC-h", 0.001, local.isoformat(), end.isoformat(), "us")])
    monthly = _register(tmp_path / "m.csv", [("EAC-m", 0.001, "2025-05-01", "2025-07-01", "us")])
    g = _summary(_report(_carbon(horinger, certificates=gran), week))
    m = _summary(_report(_carbon(horinger, certificates=monthly), week))
    load = week["load_kwh"].sum()
    assert g["hourly CFE score"] == pytest.approx(1.0 / load, rel=KG)
    assert m["hourly CFE score"] == 0.0
    assert g["Scope 2 market-based"] == pytest.approx(m["Scope 2 market-based"], rel=KG)  # both cover 1 kWh


def test_a_grid_cfe_share_counts_the_carbon_free_part_of_grid_import(horinger: Site, week) -> None:
    s = _summary(_report(_carbon(horinger, grid_cfe_share=0.2), week))
    assert 0 < s["hourly CFE score"] <= 0.2 * week["grid_in_kwh"].sum() / week["load_kwh"].sum() + 1e-12


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("A", 1, "2025-01-01", "2025-02-01", "x"), "repeated"),
        (("B", -1, "2025-01-01", "2025-02-01", "x"), "mwh = -1"),
        (("C", 1, "2025-02-01", "2025-01-01", "x"), "not after"),
        (("D", 1, "2025-01-01", "2025-02-01", ""), "retired_for is empty"),
        (("E", "lots", "2025-01-01", "2025-02-01", "x"), "not a number"),
    ],
)
def test_a_bad_register_names_the_line(tmp_path: Path, row, message: str) -> None:
    reg = _register(tmp_path / "c.csv", [("A", 1.0, "2025-01-01", "2025-02-01", "x"), row])
    with pytest.raises(DataFileError) as e:
        read_register(reg, "Asia/Shanghai")
    assert "line 3" in str(e.value) and message in str(e.value) and e.value.exit_code == 2


# -- Scope 1 CO2e, fuel log --------------------------------------------------------------------------
def test_scope1_reports_co2_ch4_n2o_and_co2e_with_ar6_gwps(horinger: Site, week) -> None:
    s = _summary(_report(horinger, week))
    fuel = week["fuel_l"].sum()
    ch4 = fuel * 0.84 * 43.0 * 1e-6 * 10.0  # 2006 IPCC Vol. 2 Ch. 2 Table 2.4: 10 kg CH4/TJ
    n2o = fuel * 0.84 * 43.0 * 1e-6 * 0.6
    assert fuel > 0 and pytest.approx(36.12e-6) == DIESEL_TJ_PER_L
    assert s["Scope 1 CH4"] == pytest.approx(ch4, rel=KG)
    assert s["Scope 1 N2O"] == pytest.approx(n2o, rel=KG)
    assert s["Scope 1 CO2e (AR6 GWP-100)"] == pytest.approx(s["Scope 1 (diesel)"] + 29.8 * ch4 + 273 * n2o, rel=KG)


def test_fuel_purchases_are_reconciled_with_the_ledger(horinger: Site, week, tmp_path: Path) -> None:
    fuel = float(week["fuel_l"].sum())
    assert fuel > 0
    log = tmp_path / "fuel.csv"
    log.write_text(f"date,litres,invoice\n2025-06-25,{fuel * 0.6!r},INV-1\n2025-06-27,{fuel * 0.6!r},INV-2\n")
    rep = _report(horinger, week, fuel_log=log)
    assert rep.fuel is not None
    tot = rep.fuel.loc["total"]
    assert tot["purchased_l"] == pytest.approx(1.2 * fuel) and tot["modelled_l"] == pytest.approx(fuel)
    assert "more than 5 %" in tot["flag"]
    bad = tmp_path / "bad.csv"
    bad.write_text("date,litres\n2025-06-01,-3\n")
    with pytest.raises(DataFileError, match="line 2"):
        _report(horinger, week, fuel_log=bad)


# -- storage for claims ------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", ["pool", "fifo"])
def test_discharge_beyond_the_tracked_stock_is_fossil_never_pv(rule: str) -> None:
    idx = pd.date_range("2025-01-01", periods=2, freq="h", tz="UTC")
    zero = np.zeros(2)
    flows = pd.DataFrame(
        {"pv_used_kwh": zero, "grid_in_kwh": zero, "diesel_kwh": zero, "bat_out_kwh": [5.0, 5.0],
         "bat_in_kwh": zero, "bat_selfdis_kwh": zero, "fuel_l": zero, "load_served_kwh": [5.0, 5.0],
         "grid_out_kwh": zero, "dump_kwh": zero},
        index=idx,
    )  # fmt: skip
    c, _ = carbon_flow_state(flows, 0.6, 2.68, CarbonState(((4.0, 0.0, 1.0, 0.0, 0.0),)), 1.0, 1.0, rule=rule)
    # 4 kWh of tracked PV, then 6 kWh nobody tracked: fossil
    assert c["load_pv_frac"].iloc[0] == pytest.approx(0.8) and c["load_diesel_frac"].iloc[0] == pytest.approx(0.2)
    assert c["load_pv_frac"].iloc[1] == 0.0 and c["load_diesel_frac"].iloc[1] == pytest.approx(1.0)


def test_claims_use_fifo_from_an_empty_stock_so_an_untracked_charge_is_not_pv() -> None:
    """Hour 0 discharges a charge the chain never saw (fossil); hour 1 stores PV; hour 2 releases it (PV)."""
    idx = pd.date_range("2025-01-01", periods=3, freq="h", tz="UTC")
    rec = pd.DataFrame(
        {"pv_used_kwh": [0.0, 10.0, 0.0], "grid_in_kwh": 0.0, "diesel_kwh": 0.0, "bat_out_kwh": [5.0, 0.0, 5.0],
         "bat_in_kwh": [0.0, 5.0, 0.0], "bat_selfdis_kwh": 0.0, "fuel_l": 0.0, "load_served_kwh": 5.0,
         "grid_out_kwh": 0.0, "dump_kwh": 0.0, "e_grid_kg_per_kwh": 0.6849, "diesel_kg_per_l": 2.68},
        index=idx,
    )  # fmt: skip
    frac = claims_pv_frac(rec, {"claims_rule": "fifo", "eta_charge": 1.0, "eta_discharge": 1.0})
    np.testing.assert_allclose(frac, [0.0, 1.0, 1.0])


def test_the_cli_refuses_a_mixed_set_with_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    text = (EXAMPLES / "horinger-ai-room.toml").read_text()
    text = text.replace('epw = "data/', f'epw = "{EXAMPLES}/data/')
    site = tmp_path / "mixed.toml"
    site.write_text(text + '\n[carbon]\nresidual_factor = "mee-national-residual-2023"\n')
    db = tmp_path / "l.db"
    r = CliRunner().invoke(app, ["ledger", "build", str(site), "--db", str(db)])
    assert r.exit_code == 2, r.output
    out = " ".join(r.output.split())
    assert "carbon.residual_factor" in out and "mixed_years_reason" in out and "Traceback" not in out
    assert not db.exists()
