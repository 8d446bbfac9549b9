"""Fault catalogue (issue 9 §2): every twin fault kind and the combinations of the issue, with the critical
load served whenever any source can serve it and the critical unserved energy asserted; the genset manager
retries after its cool-down, or at once on an operator reset."""

from __future__ import annotations

from typing import Any

import pytest

from islandgrid.devices.faults import FAULT_KINDS
from islandgrid.twin.rig import SteppedRig
from test_hil_helpers import check_invariants, fast_site, run_for

pytestmark = pytest.mark.usefixtures("twin_vendor")  # every test runs against both vendors' layouts

LOOP_S = 2.0
#: Fault kinds that inject a fault (the others restore or clear one) and the scenarios that cover them.
INJECTING = {
    "grid_loss",
    "grid_off_nominal",
    "bms_trip",
    "genset_fail_to_start",
    "telemetry_stale",
    "modbus_timeout",
    "modbus_exception",
}


def _run(
    site: Any,
    inputs: Any,
    start: str,
    faults: dict[float, tuple[str, dict[str, Any]]],
    seconds: float,
    soc_frac: float | None = None,
) -> SteppedRig:
    rig = SteppedRig(site, inputs, start)
    if soc_frac is not None:
        rig.twin.plant.soc_kwh = soc_frac * rig.twin.plant.cfg.battery.energy_kwh
    run_for(rig, seconds, faults)
    b = rig.twin.plant.cfg.battery
    check_invariants(rig.twin.plant.trace_frame(), b.soc_min_kwh, b.soc_max_kwh)  # served whenever servable
    assert "foreign_command" not in rig.service.event_log.kinds()  # its own commands are never foreign
    return rig


def _crit_unserved_kwh(rig: SteppedRig) -> float:
    return float(rig.twin.plant.trace_frame().unserved_critical_kwh.sum())


def _dark_s(rig: SteppedRig) -> float:
    tr = rig.twin.plant.trace_frame()
    return float(tr.dt_s[tr.unserved_critical_kwh > 1e-9].sum())


SCENARIOS: dict[str, tuple[str, dict[float, tuple[str, dict[str, Any]]], float, float | None]] = {
    "grid_loss at night": ("2025-01-15 20:00", {30.0: ("grid_loss", {})}, 600, None),
    "grid_off_nominal": ("2025-05-10 12:00", {30.0: ("grid_off_nominal", {"hz": 0.7})}, 600, None),
    "genset_fail_to_start, low battery, islanded": (
        "2025-01-15 22:00",
        {0.0: ("genset_fail_to_start", {}), 30.0: ("grid_loss", {})},
        900,
        0.2,
    ),
    "telemetry_stale pcs, islanded": (
        "2025-01-15 20:00",
        {20.0: ("grid_loss", {}), 40.0: ("telemetry_stale", {"device": "pcs", "duration_s": 300})},
        600,
        None,
    ),
    "telemetry_stale pcc, then grid_loss": (
        "2025-01-15 20:00",
        {20.0: ("telemetry_stale", {"device": "pcc", "duration_s": 300}), 60.0: ("grid_loss", {})},
        600,
        None,
    ),
    "modbus_timeout load, islanded": (
        "2025-01-15 20:00",
        {20.0: ("grid_loss", {}), 40.0: ("modbus_timeout", {"device": "load", "duration_s": 200})},
        400,
        None,
    ),
    "modbus_exception genset, islanded, low battery": (
        "2025-01-15 22:00",
        {20.0: ("grid_loss", {}), 60.0: ("modbus_exception", {"device": "genset", "duration_s": 120})},
        400,
        0.2,
    ),
    "grid_loss then grid_restore": (
        "2025-03-21 12:00",
        {30.0: ("grid_loss", {}), 300.0: ("grid_restore", {})},
        600,
        None,
    ),
}


def test_the_catalogue_covers_every_fault_kind():
    kinds = {kind for _, faults, _, _ in SCENARIOS.values() for kind, _ in faults.values()}
    assert kinds | {"bms_trip"} >= INJECTING  # bms_trip: the combinations below
    assert INJECTING | {"grid_restore", "bms_reset", "clear_faults"} == set(FAULT_KINDS)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault_kind_no_critical_load_lost(horinger, inputs, name):
    start, faults, seconds, soc = SCENARIOS[name]
    rig = _run(fast_site(horinger, fast_loop_s=LOOP_S), inputs, start, faults, seconds, soc)
    assert _crit_unserved_kwh(rig) == 0, rig.service.event_log.kinds()


def test_bms_trip_islanded_dark_only_until_the_genset_runs(horinger, inputs):
    site = fast_site(horinger, fast_loop_s=LOOP_S)
    faults = {30.0: ("grid_loss", {}), 120.0: ("bms_trip", {"duration_s": 300})}
    rig = _run(site, inputs, "2025-02-01 02:00", faults, 600)
    assert 0 < _dark_s(rig) <= site.genset.start_delay_s + 2 * LOOP_S


def _cleared_genset_fault_then_bms_trip(site: Any, inputs: Any, reset_at_s: float | None = None) -> SteppedRig:
    """Islanded with a low battery, the genset fails its whole start sequence; its fault is then cleared
    (fuel delivered); then the BMS trips: nothing forms the bus until the genset is started again."""
    rig = SteppedRig(site, inputs, "2025-02-01 02:00")
    rig.twin.plant.soc_kwh = 0.2 * rig.twin.plant.cfg.battery.energy_kwh
    run_for(
        rig,
        150,
        {0.0: ("genset_fail_to_start", {}), 30.0: ("grid_loss", {}), 140.0: ("genset_fail_to_start", {"on": False})},
    )
    assert rig.service.controller.gm.state == "failed"
    assert rig.service.status()["genset_manager"] == "failed" and rig.service.status()["genset_retry_in_s"] > 0
    run_for(rig, 10, {rig.clock.now_s(): ("bms_trip", {})})
    if reset_at_s is not None:
        run_for(rig, reset_at_s)
        rig.service.reset_genset()
    run_for(rig, 600 - rig.clock.now_s())
    b = rig.twin.plant.cfg.battery
    check_invariants(rig.twin.plant.trace_frame(), b.soc_min_kwh, b.soc_max_kwh)
    return rig


def test_bms_trip_after_a_cleared_genset_fault_the_genset_retries_after_its_cooldown(horinger, inputs):
    cooldown_s = 180.0
    site = fast_site(horinger, fast_loop_s=LOOP_S, genset_retry_cooldown_s=cooldown_s)
    rig = _cleared_genset_fault_then_bms_trip(site, inputs)
    ev = rig.service.event_log
    failed_at = ev.of_kind("genset_fail_to_start")[0]["t_s"]
    retry = ev.of_kind("genset_retry")
    assert retry and retry[0]["t_s"] == pytest.approx(failed_at + cooldown_s, abs=LOOP_S + 1e-9)
    assert "automatic" in retry[0]["message"] and rig.twin.plant.genset_state == 2  # running
    # dark from the trip until the retried start came up, and not a step longer
    trip_at = ev.of_kind("bms_trip")[0]["t_s"]
    assert _dark_s(rig) <= failed_at + cooldown_s - trip_at + site.genset.start_delay_s + 3 * LOOP_S
    # without the retry (the old behaviour: failed until grid-tied) the room stays dark to the end
    never = _cleared_genset_fault_then_bms_trip(
        fast_site(horinger, fast_loop_s=LOOP_S, genset_retry_cooldown_s=86400.0), inputs
    )
    assert _crit_unserved_kwh(never) > 2 * _crit_unserved_kwh(rig) > 0
    assert rig.service.alarm_board.is_active("genset_failed") is False
    assert never.service.alarm_board.is_active("genset_failed") and never.service.alarm_board.is_active(
        "unserved_critical"
    )


def test_an_operator_reset_retries_the_failed_genset_at_once(horinger, inputs):
    site = fast_site(horinger, fast_loop_s=LOOP_S, genset_retry_cooldown_s=86400.0)
    rig = _cleared_genset_fault_then_bms_trip(site, inputs, reset_at_s=10.0)
    ev = rig.service.event_log
    assert "operator reset" in ev.of_kind("genset_retry")[0]["message"]
    assert rig.twin.plant.genset_state == 2
    assert _dark_s(rig) <= 10 + 10 + site.genset.start_delay_s + 3 * LOOP_S
    # a reset of a manager that is not failed changes nothing, and says so
    rig.service.reset_genset()
    run_for(rig, LOOP_S)
    assert "genset reset refused" in ev.of_kind("operator")[-1]["message"]
