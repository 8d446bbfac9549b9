"""The safe state per mode and per device that went blind (issue 9 §2; table in docs/controller.md)."""

from __future__ import annotations

import pytest

from islandgrid.twin.rig import SteppedRig
from test_hil_helpers import check_invariants, fast_site, run_for

pytestmark = pytest.mark.usefixtures("twin_vendor")  # every test runs against both vendors' layouts


def _kinds(rig: SteppedRig) -> list[str]:
    return rig.service.event_log.kinds()


def _modes(rig: SteppedRig) -> list[str]:
    return [e["data"]["mode"] for e in rig.service.event_log.of_kind("mode")]


def _check(rig: SteppedRig) -> None:
    b = rig.twin.plant.cfg.battery
    tr = rig.twin.plant.trace_frame()
    check_invariants(tr, b.soc_min_kwh, b.soc_max_kwh)
    assert tr.unserved_critical_kwh.sum() == 0


def test_pcs_blind_while_grid_tied_with_the_pcc_healthy_runs_no_genset(horinger, inputs):
    """The PCS's heartbeat freezes for 30 min while grid-tied: safe (battery 0 kW, no breaker operation),
    and, as the PCC shows the grid carrying the load, no genset in parallel with the grid (it ran 30 min
    at 99 kW before)."""
    rig = SteppedRig(fast_site(horinger, fast_loop_s=2.0), inputs, "2025-04-01 09:00")
    run_for(rig, 1830, {30.0: ("telemetry_stale", {"device": "pcs", "duration_s": 1800})})
    assert "safe" in _modes(rig) and rig.service.status()["mode"] == "grid_tied"
    tr = rig.twin.plant.trace_frame()
    assert tr.diesel_kwh.sum() == 0
    assert "genset_start" not in _kinds(rig)
    safe = tr[(tr.t_s > 60) & (tr.t_s < 1800)]
    assert (safe.bat_in_kwh == 0).all() and (safe.bat_out_kwh == 0).all()  # battery setpoint 0 kW
    assert (tr.breaker_closed == 1).all()
    _check(rig)


def test_pcs_blind_while_islanded_starts_the_genset_as_standby(horinger, inputs):
    """Islanded, the PCS goes blind: the battery may trip unseen, so the genset starts as a standby source."""
    rig = SteppedRig(fast_site(horinger, fast_loop_s=2.0), inputs, "2025-04-01 09:00")
    run_for(rig, 240, {10.0: ("grid_loss", {}), 40.0: ("telemetry_stale", {"device": "pcs", "duration_s": 200})})
    assert "safe" in _modes(rig) and "genset_running" in _kinds(rig)
    assert rig.twin.plant.genset_p_set_kw == rig.service.controller.genset.rated_kw
    _check(rig)


def test_pcc_blind_then_grid_lost_the_pcs_islands_and_the_genset_starts(horinger, inputs):
    """The PCC goes blind while grid-tied: no genset while the PCS still follows the grid; the grid is lost
    meanwhile, the PCS forms the bus on its own (seen on the PCS), so the genset starts as standby."""
    rig = SteppedRig(fast_site(horinger, fast_loop_s=2.0), inputs, "2025-04-01 09:00")
    run_for(rig, 120, {10.0: ("telemetry_stale", {"device": "pcc", "duration_s": 400})})
    assert "safe" in _modes(rig) and "genset_start" not in _kinds(rig)
    run_for(rig, 200, {rig.clock.now_s(): ("grid_loss", {})})
    assert "genset_start" in _kinds(rig) and rig.service.status()["mode"] == "safe"
    _check(rig)


def test_pcs_and_pcc_blind_the_genset_stands_by_at_minimum_load(horinger, inputs):
    """Nothing tells whether the grid carries the load: the genset is started, but at its minimum load."""
    rig = SteppedRig(fast_site(horinger, fast_loop_s=2.0), inputs, "2025-04-01 09:00")
    stale = {"duration_s": 300}
    run_for(
        rig,
        120,
        {10.0: ("telemetry_stale", {"device": "pcs", **stale}), 10.5: ("telemetry_stale", {"device": "pcc", **stale})},
    )
    assert rig.service.status()["mode"] == "safe"
    assert rig.twin.plant.genset_run_req and rig.twin.plant.genset_p_set_kw == 0
    _check(rig)


def test_load_meter_blind_while_islanded_freezes_shedding(horinger, inputs):
    """Islanded at night, battery low, the genset fails: shedding would follow; with the load meter blind it
    waits (no shedding on stale demand) and resumes once the meter is fresh."""
    site = fast_site(horinger, fast_loop_s=2.0, genset_retry_cooldown_s=3600.0)
    rig = SteppedRig(site, inputs, "2025-01-15 22:00")
    b = rig.twin.plant.cfg.battery
    rig.twin.plant.soc_kwh = b.soc_min_kwh + 0.1 * b.energy_kwh  # about an hour for the room
    faults = {
        0.0: ("genset_fail_to_start", {}),
        5.0: ("telemetry_stale", {"device": "load", "duration_s": 400}),
        10.0: ("grid_loss", {}),
    }
    run_for(rig, 600, faults)
    shed = rig.service.event_log.of_kind("load_shed")
    assert shed, _kinds(rig)
    assert shed[0]["t_s"] > 405 - site.controller.fast_loop_s  # not while the load meter was blind
    _check(rig)


def test_pv_blind_changes_nothing_grid_tied(horinger, inputs):
    """PV telemetry frozen at noon, grid-tied: no safe state, PV not curtailed, no genset."""
    rig = SteppedRig(fast_site(horinger, fast_loop_s=2.0), inputs, "2025-05-10 12:00")
    run_for(rig, 200, {10.0: ("telemetry_stale", {"device": "pv", "duration_s": 150})})
    assert "safe" not in _modes(rig) and "genset_start" not in _kinds(rig)
    assert rig.twin.plant.pv_limit_frac == 1.0
    assert rig.service.alarm_board.is_active("telemetry_stale", "pv") is False  # cleared once fresh
    _check(rig)


def test_pv_blind_while_islanded_counts_no_pv(horinger, inputs):
    """Islanded at noon with a low battery: with PV blind the controller counts no PV, so the genset starts
    (the PV it cannot see may be gone); seen, the PV carries the room and no genset is needed."""
    site = fast_site(horinger, fast_loop_s=2.0, shed_autonomy_h=4.0)
    rigs = {}
    for blind in (False, True):
        rig = SteppedRig(site, inputs, "2025-05-10 12:00")
        b = rig.twin.plant.cfg.battery
        rig.twin.plant.soc_kwh = 0.35 * b.energy_kwh  # above the genset start SoC; < 4 h for the room without PV
        faults = {10.0: ("grid_loss", {})}
        if blind:
            faults[5.0] = ("telemetry_stale", {"device": "pv", "duration_s": 300})
        run_for(rig, 120, faults)
        rigs[blind] = rig
        _check(rig)
    assert "genset_start" in _kinds(rigs[True])
    assert "genset_start" not in _kinds(rigs[False])


def test_genset_blind_while_running_keeps_it_running(horinger, inputs):
    """Islanded with the genset running, its controller's telemetry freezes: the run request stays (the
    manager does not stop a set it cannot see), it just no longer counts for shedding decisions."""
    site = fast_site(horinger, fast_loop_s=2.0)
    rig = SteppedRig(site, inputs, "2025-01-15 22:00")
    b = rig.twin.plant.cfg.battery
    rig.twin.plant.soc_kwh = b.soc_min_kwh + 0.1 * b.energy_kwh
    run_for(rig, 200, {10.0: ("grid_loss", {})})
    assert rig.service.controller.gm.state == "running"
    run_for(rig, 120, {rig.clock.now_s(): ("telemetry_stale", {"device": "genset", "duration_s": 100})})
    assert rig.twin.plant.genset_run_req and rig.service.controller.gm.state == "running"
    assert rig.service.alarm_board.is_active("telemetry_stale", "genset") is False
    assert "safe" not in _modes(rig)
    _check(rig)
