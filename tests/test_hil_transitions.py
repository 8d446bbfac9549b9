"""Black start and the breaker's sync-check relay, at accelerated time over the in-process link."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest

from islandgrid.devices.states import FORMER_DEAD, FORMER_PCS, PCS_FORM, REFUSED_DF, REFUSED_DPHI, REFUSED_GRID
from islandgrid.links.inprocess import InProcessLink
from islandgrid.twin.rig import SteppedRig
from islandgrid.twin.twin import Twin
from test_hil_helpers import check_invariants, fast_site, run_for

pytestmark = pytest.mark.usefixtures("twin_vendor")  # every test runs against both vendors' layouts


def _modes(rig: SteppedRig) -> list[str]:
    return [e["data"]["mode"] for e in rig.service.event_log.of_kind("mode")]


def test_black_start_from_the_battery_after_a_total_blackout(horinger, inputs):
    """Grid lost, genset fails to start, the BMS trips: nothing can form the bus (total blackout).
    When the BMS trip clears, the controller resets it and has the PCS form the dead bus with every
    non-critical group shed, in one command set; then it restores the groups one at a time."""
    site = fast_site(horinger)
    c = site.controller
    rig = SteppedRig(site, inputs, "2025-05-10 11:00")
    faults = {
        0.0: ("genset_fail_to_start", {}),
        30.0: ("grid_loss", {}),
        60.0: ("bms_trip", {"duration_s": 200}),  # the trip's cause clears at t = 260 s
    }
    run_for(rig, 600, faults)
    ev = rig.service.event_log
    modes = _modes(rig)
    assert modes[:4] == ["islanded", "blackout", "black_start", "islanded"], modes
    assert "genset_fail_to_start" in ev.kinds()
    tr = rig.twin.plant.trace_frame()
    b = rig.twin.plant.cfg.battery
    # the critical load is dark only while no source could serve it (BMS tripped, genset failed, grid dead)
    check_invariants(tr, b.soc_min_kwh, b.soc_max_kwh)
    dark = tr[tr.former == FORMER_DEAD]
    assert not dark.empty and (dark.battery_available == 0).all() and (dark.genset_running == 0).all()
    # every group was shed for the black start, in priority order
    black = ev.of_kind("black_start")[0]["t_s"]
    shed = [e for e in ev.of_kind("load_shed") if e["t_s"] == black]
    assert [e["data"]["group"] for e in shed] == c.shed_groups
    # the bus came back from the PCS the step the BMS reset went through, carrying only the critical load
    back = tr[(tr.t_s > 260) & (tr.former == FORMER_PCS)]
    first = back.iloc[0]
    assert first.t_s <= 260 + 30 + 2 * c.fast_loop_s  # a reset attempt every 30 s
    assert first.load_served_kwh == pytest.approx(first.critical_load_kwh, rel=1e-9)
    assert first.unserved_critical_kwh == 0
    assert (back.unserved_critical_kwh == 0).all()
    assert (tr[tr.t_s >= first.t_s].former == FORMER_PCS).all()
    # then the groups come back one at a time, last shed first, hold_s apart
    restored = ev.of_kind("load_restored")
    assert [e["data"]["group"] for e in restored] == c.shed_groups[::-1]
    times = [e["t_s"] for e in restored]
    assert all(b - a >= c.shed_hold_s - 1e-9 for a, b in pairwise(times))
    assert tr.unserved_kwh.iloc[-1] == 0  # the whole room is served again
    assert rig.service.status()["mode"] == "islanded" and rig.twin.plant.pcs_mode == PCS_FORM
    assert rig.twin.plant.breaker_closed is False


def test_blackout_with_an_empty_battery_waits_for_the_grid(horinger, inputs):
    """No black start from an empty battery: the PCS is held in standby (grid-following) and the
    dead bus closes onto the grid when it returns."""
    site = fast_site(horinger)
    rig = SteppedRig(site, inputs, "2025-05-10 23:00")
    rig.twin.plant.soc_kwh = rig.twin.plant.cfg.battery.soc_min_kwh
    faults = {
        0.0: ("genset_fail_to_start", {}),
        20.0: ("grid_loss", {}),
        40.0: ("bms_trip", {}),
        300.0: ("grid_restore", {}),
    }
    run_for(rig, 400, faults)
    ev = rig.service.event_log
    modes = _modes(rig)
    assert "blackout" in modes and "black_start" not in modes, modes
    assert any(e["data"].get("dead_bus") for e in ev.of_kind("reconnected"))
    assert rig.service.status()["mode"] == "grid_tied"
    tr = rig.twin.plant.trace_frame()
    b = rig.twin.plant.cfg.battery
    check_invariants(tr[tr.t_s <= 300], b.soc_min_kwh, b.soc_max_kwh)
    # the dead bus closes within one fast-loop period of the grid's return (the controller must see it)
    dark_after = tr[(tr.t_s > 300) & (tr.unserved_critical_kwh > 0)]
    assert dark_after.empty or dark_after.t_s.max() <= 300 + site.controller.fast_loop_s
    assert rig.twin.plant.pcs_mode_req != PCS_FORM  # standby: it never energised the room by itself


# --- the breaker's sync-check relay ------------------------------------------------------------


async def _island_the_twin(twin: Twin, link: InProcessLink, seconds: float = 5.0) -> None:
    twin.inject_fault("grid_loss", {})
    twin.advance_to(twin.t_s + seconds)
    assert (await link.read("pcc"))["breaker_closed"] == 0
    assert (await link.read("pcs"))["mode"] == PCS_FORM


def test_twin_breaker_refuses_an_out_of_sync_close(horinger, inputs):
    """A close command while Δf, ΔV or Δφ exceed the relay's limits is refused: the breaker stays open,
    the PCC's close_refused bits say why and close_refusals counts it; a close in sync goes through."""
    from islandgrid.twin.twin import profile_from_inputs

    twin = Twin(horinger, start="2025-05-10 12:00", profile=profile_from_inputs(inputs))
    link = InProcessLink(twin)

    async def scenario() -> None:
        await _island_the_twin(twin, link)
        # a close onto a dead grid
        await link.write("pcc", {"breaker_req": 2})
        pcc = await link.read("pcc")
        assert pcc["breaker_closed"] == 0 and pcc["close_refused"] == REFUSED_GRID and pcc["close_refusals"] == 1
        # the grid returns 0.45 Hz high: inside the normal band, but the PCS forms at most nominal + 0.1 Hz
        twin.inject_fault("grid_off_nominal", {"hz": 0.45})
        twin.step()
        await link.write("pcc", {"breaker_req": 2})
        pcc = await link.read("pcc")
        assert pcc["breaker_closed"] == 0
        assert int(pcc["close_refused"]) & REFUSED_DF and pcc["close_refusals"] == 2
        # the grid at nominal again, the island in frequency but 90 degrees apart
        twin.inject_fault("grid_restore", {})
        twin.step()
        twin.plant.dphi_deg = 90.0
        twin.step(0.0)  # refresh the measurements only
        await link.write("pcc", {"breaker_req": 2})
        pcc = await link.read("pcc")
        assert pcc["breaker_closed"] == 0 and int(pcc["close_refused"]) == REFUSED_DPHI
        assert pcc["close_refusals"] == 3
        # in phase: it closes, and the refusal register clears
        twin.plant.dphi_deg = 3.0
        twin.step(0.0)
        await link.write("pcc", {"breaker_req": 2})
        twin.step()
        pcc = await link.read("pcc")
        assert pcc["breaker_closed"] == 1 and pcc["close_refused"] == 0 and pcc["close_refusals"] == 3
        assert len(twin.plant.refused) == 3 and len(twin.plant.closures) == 1
        assert twin.plant.out_of_sync_closures == 0

    asyncio.run(scenario())


def test_controller_with_loose_sync_limits_is_refused_by_the_relay(horinger, inputs):
    """Controller limits looser than the relay's (misconfiguration): its close commands are refused,
    each refusal is logged with the cause, the site stays islanded and no out-of-sync close happens."""
    site = fast_site(horinger, sync_df_hz=1.0, sync_dphi_deg=180.0)
    rig = SteppedRig(site, inputs, "2025-05-10 12:00")
    run_for(rig, 60, {10.0: ("grid_loss", {})})
    run_for(rig, 300, {rig.clock.now_s(): ("grid_off_nominal", {"hz": 0.45})})
    ev = rig.service.event_log
    refused = ev.of_kind("breaker_close_refused")
    assert refused, ev.kinds()
    assert refused[0]["data"]["bits"] & REFUSED_DF
    assert "frequency difference" in refused[0]["message"]
    assert len(ev.of_kind("breaker_close")) == len(refused)  # every close command was refused
    assert not ev.of_kind("reconnected")
    # after a refusal the controller waits another stable period before it tries again
    times = [e["t_s"] for e in refused]
    assert all(b - a >= site.controller.stable_grid_s for a, b in pairwise(times))
    plant = rig.twin.plant
    assert plant.breaker_closed is False and plant.closures == [] and plant.out_of_sync_closures == 0
    assert rig.service.status()["mode"] in ("islanded", "resync")
    assert rig.twin.plant.trace_frame().unserved_critical_kwh.sum() == 0
