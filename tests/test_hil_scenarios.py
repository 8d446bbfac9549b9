"""Hardware-in-the-loop scenarios at accelerated time, over the in-process link.

Each scenario steps the twin and the controller on a manual clock; the twin's trace
gives the physics of every step, the event log the controller's decisions.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from islandgrid.controller.metering import MemorySink
from islandgrid.strategy.base import FLOW_COLUMNS
from islandgrid.twin.rig import SteppedRig
from test_hil_helpers import check_invariants, fast_site, run_for

pytestmark = pytest.mark.usefixtures("twin_vendor")  # every test runs against both vendors' layouts


def _kinds(rig: SteppedRig) -> list[str]:
    return rig.service.event_log.kinds()


@settings(
    max_examples=3,
    database=None,
    phases=[Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(outage_at_s=st.integers(min_value=60, max_value=2 * 3600), start_hour=st.sampled_from([0, 7, 13, 19]))
def test_unplanned_outage_at_a_random_moment_no_critical_unserved(horinger, inputs, outage_at_s, start_hour):
    """A grid loss at any moment: the PCS carries the room in the same step; zero critical unserved."""
    site = fast_site(horinger, fast_loop_s=2.0)
    rig = SteppedRig(site, inputs, f"2025-03-21 {start_hour:02d}:00")
    run_for(
        rig, outage_at_s + 1800, {float(outage_at_s): ("grid_loss", {}), outage_at_s + 1200.0: ("grid_restore", {})}
    )
    tr = rig.twin.plant.trace_frame()
    b = rig.twin.plant.cfg.battery
    check_invariants(tr, b.soc_min_kwh, b.soc_max_kwh)
    assert tr.unserved_critical_kwh.sum() < 1e-9
    assert tr.unserved_kwh.sum() < 1e-9  # the battery carries the whole room through 20 minutes
    kinds = _kinds(rig)
    assert "unplanned_island" in kinds and "reconnected" in kinds
    # detected within one fast-loop period of the fault
    injected = rig.service.event_log.of_kind("fault_injected")[0]["t_s"]
    detected = rig.service.event_log.of_kind("unplanned_island")[0]["t_s"]
    assert 0 < detected - injected <= site.controller.fast_loop_s + 1e-9
    assert rig.twin.plant.out_of_sync_closures == 0 and rig.twin.plant.refused == []


def test_a_day_with_an_outage_meters_every_interval(horinger, inputs):
    """Half a day (noon to midnight, 4 s loop) with a 3-hour evening outage: zero critical unserved, every
    minute metered."""
    site = fast_site(horinger, fast_loop_s=4.0)
    sink = MemorySink()
    rig = SteppedRig(site, inputs, "2025-07-01 12:00", sink=sink)
    run_for(rig, 43200, {6 * 3600.0 + 17: ("grid_loss", {}), 9 * 3600.0: ("grid_restore", {})})
    tr = rig.twin.plant.trace_frame()
    b = rig.twin.plant.cfg.battery
    check_invariants(tr, b.soc_min_kwh, b.soc_max_kwh)
    assert tr.unserved_critical_kwh.sum() < 1e-9
    flows = sink.frame()
    assert len(flows) >= 718  # one row a minute, the first and last partial minutes excepted
    assert set(FLOW_COLUMNS) <= set(flows.columns)
    steps = flows.index.to_series().diff().dropna().dt.total_seconds()
    assert (steps == 60).all()  # constant step, no gaps
    # metered flows balance to the counters' resolution: the three SunSpec 203 meter counters (grid in,
    # grid out, load served; acc32 at TotWh_SF = 0) count whole Wh, so each interval's difference is off
    # by up to 1 Wh; the 64-bit counters of the PV, PCS and genset count mWh (at most 5 more mWh)
    supply = flows.pv_used_kwh + flows.grid_in_kwh + flows.diesel_kwh + flows.bat_out_kwh
    demand = flows.load_served_kwh + flows.bat_in_kwh + flows.grid_out_kwh + flows.dump_kwh
    assert (supply - demand).abs().max() < 3 * 1e-3 + 5e-6
    # and agree with the physics to within a step at each end
    metered = tr[tr.t_s > 60]  # the rows cover minute 1 to the end of the day
    assert abs(flows.load_served_kwh.sum() - metered.load_served_kwh.sum()) < 0.1
    assert (flows.grid_available == 0).sum() == pytest.approx(180 + 2, abs=4)  # outage + stable time


def test_planned_islanding_and_reconnection(horinger, inputs):
    """Planned: PCC flow driven to ~0 before the breaker opens; reconnection only after the sync check."""
    site = fast_site(horinger)
    rig = SteppedRig(site, inputs, "2025-05-10 10:00")
    run_for(rig, 120)
    rig.service.request_mode("island")
    run_for(rig, 600)
    ev = rig.service.event_log
    planned = ev.of_kind("planned_island")
    assert planned, _kinds(rig)
    c = site.controller
    assert abs(planned[0]["data"]["pcc_kw"]) <= c.planned_island_pcc_kw
    tr = rig.twin.plant.trace_frame()
    assert tr.breaker_closed.iloc[-1] == 0
    assert not ev.of_kind("resync") and rig.service.status()["mode"] == "islanded"  # stays islanded on request
    rig.service.request_mode("grid")
    run_for(rig, 600)
    rec = ev.of_kind("reconnected")
    assert rec, _kinds(rig)
    d = rec[0]["data"]
    assert d["df_hz"] <= c.sync_df_hz and d["dv_frac"] <= c.sync_dv_frac and d["dphi_deg"] <= c.sync_dphi_deg
    assert rig.twin.plant.out_of_sync_closures == 0 and rig.twin.plant.refused == []
    assert rig.service.status()["mode"] == "grid_tied"
    tr = rig.twin.plant.trace_frame()
    assert tr.unserved_kwh.sum() < 1e-9
    # waited for the stable-grid time after the request
    assert rec[0]["t_s"] - ev.of_kind("operator")[-1]["t_s"] >= c.stable_grid_s


def test_reconnection_refused_while_out_of_sync(horinger, inputs):
    """A grid 0.45 Hz off nominal is 'normal' but the PCS cannot follow it within 0.3 Hz: refused."""
    site = fast_site(horinger)
    rig = SteppedRig(site, inputs, "2025-05-10 12:00")
    run_for(rig, 60, {10.0: ("grid_loss", {})})
    run_for(rig, 400, {0.0 + rig.clock.now_s(): ("grid_off_nominal", {"hz": 0.45})})
    ev = rig.service.event_log
    refused = ev.of_kind("sync_refused")
    assert refused, _kinds(rig)
    assert refused[0]["data"]["df_hz"] > site.controller.sync_df_hz
    assert not ev.of_kind("reconnected")
    tr = rig.twin.plant.trace_frame()
    assert (tr.breaker_closed[tr.t_s > 20] == 0).all()
    assert rig.twin.plant.closures == [] and rig.twin.plant.refused == []  # it never even tried
    # the grid comes back to nominal: now it reconnects, in sync
    run_for(rig, 400, {rig.clock.now_s(): ("grid_restore", {})})
    assert ev.of_kind("reconnected")
    assert rig.twin.plant.out_of_sync_closures == 0 and rig.twin.plant.refused == []


def test_genset_fail_to_start_in_a_long_night_outage_sheds_in_order(horinger, inputs):
    """Night outage, genset never starts: retries, alarm, groups shed in priority order, critical held."""
    site = fast_site(horinger, fast_loop_s=4.0, genset_retry_cooldown_s=86400.0)  # one start sequence only
    rig = SteppedRig(site, inputs, "2025-01-15 19:00")
    faults = {0.0: ("genset_fail_to_start", {}), 60.0: ("grid_loss", {})}
    run_for(rig, 7 * 3600, faults)
    ev = rig.service.event_log
    kinds = _kinds(rig)
    starts = ev.of_kind("genset_start")
    assert len(starts) == 1 + site.controller.genset_start_retries
    assert "genset_fail_to_start" in kinds
    shed = [e["data"]["group"] for e in ev.of_kind("load_shed")]
    assert shed == site.controller.shed_groups  # every group, in priority order
    # shedding only while islanded, after the genset was asked to start
    assert ev.of_kind("load_shed")[0]["t_s"] > starts[0]["t_s"] > 60.0
    tr = rig.twin.plant.trace_frame()
    b = rig.twin.plant.cfg.battery
    check_invariants(tr, b.soc_min_kwh, b.soc_max_kwh)
    # the non-critical load was shed first; critical load is lost only once the battery is empty
    assert tr.unserved_kwh.sum() > 0
    lost = tr[tr.unserved_critical_kwh > 1e-9]
    if not lost.empty:
        assert lost.t_s.iloc[0] > ev.of_kind("load_shed")[-1]["t_s"]
        assert (lost.battery_available == 0).all()


def test_bms_trip_genset_forms_the_grid_then_black_start(horinger, inputs):
    """Islanded, the BMS trips: the room goes dark until the genset runs (no source could serve it);
    when the trip clears the controller resets the BMS and the PCS forms the grid again."""
    site = fast_site(horinger)
    rig = SteppedRig(site, inputs, "2025-02-01 02:00")
    run_for(rig, 900, {30.0: ("grid_loss", {}), 120.0: ("bms_trip", {"duration_s": 300})})
    kinds = _kinds(rig)
    assert "blackout" in kinds and "genset_running" in kinds
    tr = rig.twin.plant.trace_frame()
    b = rig.twin.plant.cfg.battery
    check_invariants(tr, b.soc_min_kwh, b.soc_max_kwh)
    lost = tr[tr.unserved_critical_kwh > 0]
    assert not lost.empty and (lost.genset_running == 0).all()
    dark_s = lost.dt_s.sum()
    assert dark_s <= site.genset.start_delay_s + 2 * site.controller.fast_loop_s
    assert tr.battery_available.iloc[-1] == 1 and rig.twin.plant.pcs_mode == 2  # PCS forms again


def test_blind_controller_falls_back_to_the_safe_state(horinger, inputs):
    """PCS stops answering while grid-tied: after blind_after_s the controller goes 'safe'; the PCC shows
    the grid carrying the load, so no genset runs in parallel with it; when telemetry is back it resumes
    the mode the devices imply."""
    site = fast_site(horinger)
    rig = SteppedRig(site, inputs, "2025-04-01 09:00")
    run_for(rig, 120, {10.0: ("modbus_timeout", {"device": "pcs", "duration_s": 60})})
    ev = rig.service.event_log
    kinds = _kinds(rig)
    assert "device_timeout" in kinds and "device_ok" in kinds
    safe = [e for e in ev.of_kind("mode") if e["data"]["mode"] == "safe"]
    assert safe and safe[0]["t_s"] - 10.0 <= site.controller.blind_after_s + 2 * site.controller.fast_loop_s
    assert "genset_start" not in kinds  # the grid carries the load (PCC fresh): no diesel in parallel with it
    assert rig.service.status()["mode"] == "grid_tied"


@pytest.mark.parametrize("kind", ["telemetry_stale", "modbus_exception"])
def test_stale_or_failing_telemetry_is_logged_and_survived(horinger, inputs, kind):
    site = fast_site(horinger)
    rig = SteppedRig(site, inputs, "2025-04-01 09:00")
    run_for(rig, 90, {10.0: (kind, {"device": "pcc", "duration_s": 40}), 30.0: ("grid_loss", {})})
    kinds = _kinds(rig)
    assert ("telemetry_stale" if kind == "telemetry_stale" else "device_exception") in kinds
    assert "safe" in [e["data"]["mode"] for e in rig.service.event_log.of_kind("mode")]
    tr = rig.twin.plant.trace_frame()
    assert tr.unserved_critical_kwh.sum() < 1e-9  # the PCS islanded on its own while the controller was blind
    assert rig.service.status()["mode"] == "islanded"  # resumed from what the devices say


def test_controller_restart_resumes_and_the_ledger_gap_is_flagged(horinger, inputs):
    """A restart drops the controller's state: it resumes from the devices (still islanded) and the
    metered chain has exactly the interval(s) it missed as a gap."""
    site = fast_site(horinger)
    sink = MemorySink()
    rig = SteppedRig(site, inputs, "2025-04-01 09:00", sink=sink)
    rig.service.set_setpoints({"shed_autonomy_h": 3.0, "genset_start_soc_frac": 0.25, "reserve_frac": 0.5})
    run_for(rig, 400, {100.0: ("grid_loss", {}), 250.0: ("controller_restart", {})})
    kinds = _kinds(rig)
    assert kinds.count("controller_start") == 2 and "controller_restart" in kinds
    c = rig.service.controller  # the new one: operator setpoints survive the restart
    assert (c.shedder.autonomy_h, c.cfg.genset_start_soc_frac, c.op.reserve_frac) == (3.0, 0.25, 0.5)
    assert rig.service.status()["mode"] == "islanded"
    assert [e["data"]["mode"] for e in rig.service.event_log.of_kind("controller_start")] == ["grid_tied", "islanded"]
    idx = sink.frame().index
    gaps = idx.to_series().diff().dropna().dt.total_seconds()
    assert (gaps > 60).sum() == 1 and gaps.max() <= 180
    assert rig.twin.plant.trace_frame().unserved_kwh.sum() < 1e-9
