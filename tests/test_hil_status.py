"""The status's carbon figures come from the carbon flow of the metered intervals (islandgrid.carbon.flow):
today's PV share is the PV-attributed share of the load served (through the battery pool), and
the current intensity carries the battery pool's intensity e_bat."""

from __future__ import annotations

from pathlib import Path

import pytest

from islandgrid.carbon.flow import pv_share
from islandgrid.controller.metering import LedgerSink
from islandgrid.ledger.verify import read_records, verify_chain
from islandgrid.twin.rig import SteppedRig
from test_hil_helpers import fast_site, run_for

pytestmark = pytest.mark.usefixtures("twin_vendor")  # every test runs against both vendors' layouts


def _ledger(tmp_path: Path) -> LedgerSink:
    return LedgerSink(str(tmp_path / "ledger.sqlite"))


def test_night_on_a_battery_charged_from_the_grid_is_not_zero_carbon(horinger, inputs, tmp_path):
    """Evening: the controller charges the battery from the grid (reserve raised to 90 %); then the grid
    fails and the battery alone carries the room at night. The bus intensity is the battery pool's, > 0,
    and it is the e_bat the carbon ledger holds for the same metered intervals."""
    site = fast_site(horinger, fast_loop_s=5.0)
    sink = _ledger(tmp_path)
    rig = SteppedRig(site, inputs, "2025-01-15 20:00", sink=sink)
    svc = rig.service
    try:
        run_for(rig, 60)
        svc.set_setpoints({"reserve_frac": 0.9})
        run_for(rig, 3600)
        assert read_records(sink.store).bat_in_kwh.sum() > 10  # charged from the grid: no PV at night
        assert svc.status()["battery_carbon_kg_per_kwh"] > 0.1
        run_for(rig, 1200, {rig.clock.now_s() + 30: ("grid_loss", {})})
        st = svc.status()
        assert st["mode"] == "islanded"
        assert st["grid_kw"] == 0 and st["genset_kw"] == 0 and st["pv_kw"] == 0 and st["battery_kw"] > 0
        # the only source is the battery: the bus carries exactly its pool's intensity
        assert st["carbon_intensity_kg_per_kwh"] == pytest.approx(st["battery_carbon_kg_per_kwh"], rel=1e-12)
        assert st["carbon_kg_per_kwh"] > 0.1
        # the same e_bat and load carbon as the ledger's carbon flow over the same rows
        assert svc.ledger_errors == 0 and verify_chain(sink.store).n_records == svc.ledger_rows
        rec = read_records(sink.store)
        tip = rec.iloc[-1]
        e_bat = tip.bat_co2_stock_kg / (tip.bat_energy_kwh * site.battery.eta_discharge)
        assert st["battery_carbon_kg_per_kwh"] == pytest.approx(e_bat, rel=1e-9)
        assert svc.kpis()["today"]["load_co2_kg"] == pytest.approx(rec.load_co2_kg.sum(), rel=1e-9)
    finally:
        sink.close()


def test_pv_share_today_is_the_attributed_share_and_never_above_one(horinger, inputs, tmp_path):
    """A sunny spring morning: PV also charges the battery, so pv_used exceeds the load served; the
    status's PV share is the attributed share, the core's pv_share over the ledger's records, <= 1."""
    site = fast_site(horinger, fast_loop_s=5.0)
    sink = _ledger(tmp_path)
    rig = SteppedRig(site, inputs, "2025-05-10 08:00", sink=sink)
    try:
        run_for(rig, 4 * 3600)
        rec = read_records(sink.store)
        assert rig.service.ledger_errors == 0 and len(rec) == rig.service.ledger_rows
        assert rec.pv_used_kwh.sum() > rec.load_served_kwh.sum()  # the old pv_used / load_served > 1
        share = rig.service.status()["pv_share_today"]
        assert 0 < share <= 1
        assert share == pytest.approx(pv_share(rec.load_served_kwh, rec.load_pv_frac), rel=1e-9)
        k = rig.service.kpis()["today"]
        assert k["pv_share"] == share and rig.service.status()["pv_share_today_frac"] == share
        assert k["pv_attributed_kwh"] <= k["load_served_kwh"] + 1e-9
    finally:
        sink.close()


def test_status_names_the_site(horinger, inputs):
    rig = SteppedRig(fast_site(horinger), inputs, "2025-05-10 06:00")
    run_for(rig, 5)
    assert rig.service.status()["site_name"] == horinger.location.name


def test_today_is_the_site_local_day_and_the_status_names_the_zone(horinger, inputs):
    """'Today' resets at site-local midnight (Asia/Shanghai, UTC+8), not at UTC midnight; the status and
    the KPIs say which zone and which day, so the dashboard shows site-local time with its zone."""
    rig = SteppedRig(fast_site(horinger, fast_loop_s=10.0), inputs, "2025-05-10 23:50")
    run_for(rig, 9 * 60)
    k = rig.service.kpis()
    assert k["day"] == "2025-05-10" and k["tz"] == horinger.location.tz == "Asia/Shanghai"
    before = k["today"]["intervals"]
    assert before > 0
    run_for(rig, 12 * 60)  # past 00:00 local (16:00 UTC): a new day with only its own intervals
    k = rig.service.kpis()
    assert k["day"] == "2025-05-11"
    assert 0 < k["today"]["intervals"] <= 12  # the minutes since local midnight, not the day before's
    assert k["total"]["intervals"] >= before + k["today"]["intervals"]
    assert rig.service.status()["site_tz"] == "Asia/Shanghai"
