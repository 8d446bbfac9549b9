"""The status's carbon figures come from the carbon flow of the metered intervals (GUIDE §2, §4):
today's PV share is the PV-attributed share of the load served (through the battery pool), and
the current intensity carries the battery pool's intensity e_bat."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from islandgrid.carbon.flow import carbon_flow_state, pv_share
from islandgrid.controller.metering import MemorySink
from islandgrid.controller.rig import SteppedRig
from islandgrid.controller.service import METER_CARBON_RTOL, ControllerService
from islandgrid.inputs.series import InputSeries, build_inputs
from islandgrid.ledger.batch import initial_state
from islandgrid.site.spec import Site
from test_hil_helpers import fast_site


@pytest.fixture(scope="module")
def inputs(horinger: Site) -> InputSeries:
    return build_inputs(horinger)


def _run(rig: SteppedRig, seconds: float, at: dict | None = None) -> None:
    asyncio.run(rig.run_for(seconds, at))


def _reference_flow(svc: ControllerService, flows: pd.DataFrame) -> pd.DataFrame:
    """The same metered rows through the carbon flow in one go, as the ledger would account them."""
    site = svc.site
    grid = [svc.planner.grid_co2_kg_per_kwh(ts.timestamp()) for ts in flows.index]
    frame, _ = carbon_flow_state(
        flows,
        grid,
        site.genset.co2_kg_per_l,
        initial_state(site, flows),
        site.battery.eta_charge,
        site.battery.eta_discharge,
        rule=site.carbon.battery_rule,
        rtol=METER_CARBON_RTOL,
    )
    return frame


def test_night_on_a_battery_charged_from_the_grid_is_not_zero_carbon(horinger, inputs):
    """Evening: the controller charges the battery from the grid (reserve raised to 90 %); then the grid
    fails and the battery alone carries the room at night. The bus intensity is the battery pool's, > 0."""
    site = fast_site(horinger, fast_loop_s=5.0)
    sink = MemorySink()
    rig = SteppedRig(site, inputs, "2025-01-15 20:00", sink=sink)
    svc = rig.service
    _run(rig, 60)
    svc.set_setpoints({"reserve_frac": 0.9})
    _run(rig, 3600)
    assert sink.frame().bat_in_kwh.sum() > 10  # charged from the grid: no PV at night
    assert svc.status()["battery_carbon_kg_per_kwh"] > 0.1
    _run(rig, 1200, {rig.clock.now_s() + 30: ("grid_loss", {})})
    st = svc.status()
    assert st["mode"] == "islanded"
    assert st["grid_kw"] == 0 and st["genset_kw"] == 0 and st["pv_kw"] == 0 and st["battery_kw"] > 0
    # the only source is the battery: the bus carries exactly its pool's intensity
    assert st["carbon_intensity_kg_per_kwh"] == pytest.approx(st["battery_carbon_kg_per_kwh"], rel=1e-12)
    assert st["carbon_kg_per_kwh"] > 0.1
    # and that is the carbon flow's e_bat over the same metered rows
    ref = _reference_flow(svc, sink.frame())
    assert st["battery_carbon_kg_per_kwh"] == pytest.approx(ref["e_bat_kg_per_kwh"].iloc[-1], rel=1e-6)
    # the load served tonight carried carbon from the grid through the battery
    assert svc.kpis()["today"]["load_co2_kg"] == pytest.approx(ref["load_co2_kg"].sum(), rel=1e-9)


def test_pv_share_today_is_the_attributed_share_and_never_above_one(horinger, inputs):
    """A sunny spring morning: PV also charges the battery, so pv_used exceeds the load served; the
    status's PV share is the attributed share (the core's pv_share over the same metered rows), ≤ 1."""
    site = fast_site(horinger, fast_loop_s=5.0)
    sink = MemorySink()
    rig = SteppedRig(site, inputs, "2025-05-10 06:00", sink=sink)
    _run(rig, 7 * 3600)
    flows = sink.frame()
    k = rig.service.kpis()["today"]
    assert flows.pv_used_kwh.sum() > flows.load_served_kwh.sum()  # the old pv_used / load_served > 1
    share = rig.service.status()["pv_share_today"]
    assert 0 < share <= 1
    ref = _reference_flow(rig.service, flows)
    assert share == pytest.approx(pv_share(flows.load_served_kwh, ref.load_pv_frac), rel=1e-9)
    assert k["pv_share"] == share and rig.service.status()["pv_share_today_frac"] == share
    assert k["pv_attributed_kwh"] <= k["load_served_kwh"] + 1e-9


def test_status_names_the_site(horinger, inputs):
    rig = SteppedRig(fast_site(horinger), inputs, "2025-05-10 06:00")
    _run(rig, 5)
    assert rig.service.status()["site_name"] == horinger.location.name
