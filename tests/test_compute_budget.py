"""The compute budget and signal the controller publishes (issue 13 §4): the pure rules, the API
routes over the fake view, and the real controller service over a stepped twin.

Expected values are worked by hand from the definitions in islandgrid.controller.budget
(green = PV - critical load within the room's flexible rating; budget adds the grid headroom
when the grid is up; red on diesel or on an outage with the battery at its reserve).
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import islandgrid
from api_helpers import AUTH, TOKEN, FakeView, local_client
from islandgrid.api import create_app
from islandgrid.controller.budget import (
    N_SLOTS,
    SLOT_S,
    Forecast,
    Live,
    Room,
    budget,
    signal_now,
    slot_start,
    to_slots,
)
from islandgrid.errors import DataFileError
from islandgrid.twin.rig import SteppedRig

ROOM = Room(flex_rating_kw=81.0, grid_import_kw=300.0)
NOON = 1750478400.0  # 2025-06-21 04:00 UTC, 12:00 in Hohhot


def live(**kw: Any) -> Live:
    base = dict(
        epoch_s=NOON, live=True, grid_ok=True, genset_kw=0.0, soc_frac=0.6, reserve_frac=0.4, pv_kw=0.0, base_kw=20
    )
    return Live(**{**base, **kw})


def hourly(pv: list[float], critical: float = 20.0, genset: list[bool] | None = None) -> Forecast:
    n = len(pv)
    return Forecast(
        start_epoch_s=NOON,
        dt_s=3600.0,
        pv_kw=np.array(pv, dtype=float),
        base_kw=np.full(n, critical),
        grid_co2_kg_per_kwh=np.full(n, 0.6849),
        genset_planned=np.array(genset if genset is not None else [False] * n),
        charge_kw=np.zeros(n),
    )


# --- the signal ---------------------------------------------------------------------------------


def test_pv_surplus_is_green_and_the_budget_adds_the_grid_within_the_room() -> None:
    s = signal_now(live(pv_kw=50.0), ROOM, pv_forecast_kw=40.0)
    assert (s["level"], s["reason"]) == ("green", "pv_surplus")
    assert s["green_kw"] == pytest.approx(30.0)  # 50 measured - 20 critical
    assert s["budget_kw"] == pytest.approx(61.0)  # the room's 81 kW less the 20 kW base


def test_a_curtailed_inverter_does_not_hide_the_surplus_the_forecast_sees() -> None:
    s = signal_now(live(pv_kw=25.0), ROOM, pv_forecast_kw=120.0)
    assert s["green_kw"] == pytest.approx(61.0)  # 120 - 20 = 100, capped at the room's 61 kW of flexible rating


def test_no_surplus_on_the_grid_is_amber() -> None:
    s = signal_now(live(pv_kw=10.0), ROOM, pv_forecast_kw=5.0)
    assert (s["level"], s["reason"], s["green_kw"], s["budget_kw"]) == ("amber", "grid", 0.0, 61.0)


@pytest.mark.parametrize(
    ("state", "level", "reason", "budget_kw"),
    [
        ({"grid_ok": False, "soc_frac": 0.40}, "red", "battery_reserve", 0.0),  # at the reserve: red
        ({"grid_ok": False, "soc_frac": 0.55, "pv_kw": 10.0}, "amber", "outage", 0.0),  # no sun: nothing
        ({"grid_ok": False, "soc_frac": 0.55, "pv_kw": 45.0}, "green", "outage", 25.0),  # the sun only
        ({"genset_kw": 60.0}, "red", "diesel", 0.0),
        ({"grid_ok": False, "genset_kw": 60.0, "soc_frac": 0.9}, "red", "diesel", 0.0),
        ({"live": False, "pv_kw": 45.0}, "amber", "not_live", 25.0),
    ],
)
def test_outage_diesel_and_a_stale_controller(state: dict[str, Any], level: str, reason: str, budget_kw: float) -> None:
    s = signal_now(live(**state), ROOM, pv_forecast_kw=0.0)
    assert (s["level"], s["reason"]) == (level, reason)
    assert s["budget_kw"] == pytest.approx(budget_kw)


def test_below_the_reserve_the_planned_charge_refills_the_battery_first() -> None:
    s = signal_now(live(pv_kw=50.0, soc_frac=0.3), ROOM, pv_forecast_kw=0.0, charge_kw=25.0)
    assert s["green_kw"] == pytest.approx(5.0)  # 50 - 20 base - 25 to the battery
    s = signal_now(live(pv_kw=50.0, soc_frac=0.5), ROOM, pv_forecast_kw=0.0, charge_kw=25.0)
    assert s["green_kw"] == pytest.approx(30.0)  # above the reserve the charge is not kept from compute


# --- the budget ---------------------------------------------------------------------------------


def test_the_budget_has_192_quarter_hours_from_the_current_slot() -> None:
    b = budget(hourly([100.0] * 50), live(epoch_s=NOON + 1000.0, pv_kw=100.0), ROOM)
    assert len(b["slots"]) == N_SLOTS == 192 and b["horizon_h"] == 48.0 and b["slot_s"] == SLOT_S
    assert b["slots"][0]["start"] == "2025-06-21T04:15:00.000Z"  # 04:16:40 is in the 04:15 slot
    assert b["slots"][1]["start"] == "2025-06-21T04:30:00.000Z"


def test_hourly_forecast_slots_and_planned_diesel() -> None:
    pv = [100.0, 10.0, 0.0, 60.0] + [0.0] * 46
    genset = [False, False, False, True] + [False] * 46
    b = budget(hourly(pv, genset=genset), live(pv_kw=100.0), ROOM)
    slots = b["slots"]
    assert [s["green_kw"] for s in slots[4:8]] == [0.0] * 4  # 10 kW PV under a 20 kW base
    assert {s["level"] for s in slots[4:12]} == {"amber"} and slots[5]["budget_kw"] == 61.0
    assert all(s["level"] == "red" and s["reason"] == "diesel" and s["budget_kw"] == 0 for s in slots[12:16])
    assert slots[16]["level"] == "amber"


def test_the_first_slot_is_the_measured_state() -> None:
    b = budget(hourly([100.0] * 50), live(grid_ok=False, soc_frac=0.2, pv_kw=100.0), ROOM)
    assert (b["slots"][0]["level"], b["slots"][0]["budget_kw"]) == ("red", 0.0)
    assert b["signal"]["reason"] == "battery_reserve"
    # later slots: the outage is taken to last, so the budget is the PV surplus only
    assert (b["slots"][1]["level"], b["slots"][1]["reason"], b["slots"][1]["budget_kw"]) == ("green", "outage", 61.0)
    night = budget(hourly([100.0] + [0.0] * 49), live(grid_ok=False, pv_kw=100.0), ROOM)["slots"][5]
    assert (night["level"], night["reason"], night["budget_kw"]) == ("amber", "outage", 0.0)


def test_one_minute_forecasts_are_averaged_per_slot() -> None:
    n = 48 * 60 + 15
    pv = np.tile(np.r_[np.full(5, 90.0), np.zeros(10)], n // 15 + 1)[:n]
    fc = Forecast(NOON, 60.0, pv, np.full(n, 20.0), np.full(n, 0.5), np.zeros(n, bool), np.zeros(n))
    sl = to_slots(fc, NOON)
    assert sl["pv_kw"][:3] == pytest.approx([30.0] * 3)  # 5 of 15 minutes at 90 kW


@settings(max_examples=60, deadline=None)
@given(
    pv=st.lists(st.floats(0, 400), min_size=50, max_size=50),
    critical=st.floats(0, 120),
    soc=st.floats(0, 1),
    grid_ok=st.booleans(),
    genset=st.floats(0, 100),
)
def test_budget_invariants(pv: list[float], critical: float, soc: float, grid_ok: bool, genset: float) -> None:
    """0 <= green <= budget <= the room's flexible rating less the base; red slots have no budget."""
    b = budget(
        hourly(pv, critical),
        live(pv_kw=pv[0], base_kw=critical, soc_frac=soc, grid_ok=grid_ok, genset_kw=genset),
        ROOM,
    )
    cap = max(ROOM.flex_rating_kw - critical, 0.0)
    tol = 5e-4  # the published values are rounded to 1 W
    for s in b["slots"]:
        assert 0.0 <= s["green_kw"] <= cap + tol
        assert s["level"] == "red" or s["green_kw"] <= s["budget_kw"] + tol
        assert s["budget_kw"] <= cap + tol
        if s["level"] == "red":
            assert s["budget_kw"] == 0.0
    assert slot_start(NOON + 899.0) == NOON


# --- the API over the fake view -----------------------------------------------------------------


def test_routes_over_the_fake_view() -> None:
    view = FakeView()
    with local_client(create_app(view, token=TOKEN)) as c:
        sig = c.get("/api/compute/signal").json()
        assert (sig["level"], sig["reason"]) == ("green", "pv_surplus")  # 09:00 in Hohhot on 21 June
        b = c.get("/api/compute/budget").json()
        assert len(b["slots"]) == 192 and b["signal"] == sig
        assert c.post("/api/compute/events", json={"kind": "compute_hold", "message": "x"}).status_code == 401
        r = c.post(
            "/api/compute/events",
            json={"kind": "compute_hold", "message": "job 7 held", "data": {"job_id": "7", "kw": 0.7}},
            headers=AUTH,
        )
        assert r.status_code == 200 and r.json()["kind"] == "compute_hold"
        assert c.get("/api/events").json()[-1]["data"] == {"job_id": "7", "kw": 0.7}
        bad = c.post("/api/compute/events", json={"kind": "rm_rf", "message": "x"}, headers=AUTH)
        assert bad.status_code == 422 and "kind" in bad.json()["detail"]
        nan = c.post(
            "/api/compute/events", content=b'{"kind":"compute_hold","message":"x","data":{"a":NaN}}', headers=AUTH
        )
        assert nan.status_code == 422
        view.inject_fault("grid_loss", {})
        view.setpoints["reserve_frac"] = 0.9
        assert c.get("/api/compute/signal").json()["reason"] == "battery_reserve"


def test_protected_reads_need_the_token_and_a_failing_budget_is_503() -> None:
    class NoForecast(FakeView):
        def compute_budget(self) -> dict[str, Any]:
            raise DataFileError("no forecast for this hour")

    with local_client(create_app(NoForecast(), token=TOKEN, public_reads=False)) as c:
        assert c.get("/api/compute/signal").status_code == 401
        r = c.get("/api/compute/budget", headers=AUTH)
        assert r.status_code == 503 and "no forecast" in r.json()["detail"]


# --- the real controller service ----------------------------------------------------------------


def test_the_real_service_publishes_a_budget_and_turns_red_in_an_outage_at_the_reserve(
    horinger: islandgrid.Site, inputs: Any
) -> None:
    rig = SteppedRig(horinger, inputs, "2025-06-21 11:00", trace=False)
    asyncio.run(rig.run_for(60.0))
    svc = rig.service
    b = svc.compute_budget()
    assert len(b["slots"]) == 192
    assert b["signal"]["level"] == "green" and b["signal"]["reason"] == "pv_surplus"
    # the slots at 11:15 Hohhot time: the site's hourly PV forecast less its critical load, within the room
    prob = svc.planner.window(rig.clock.epoch_s(), 250.0, horizon_h=48.0)
    green = min(max(prob.pv_kw[0] - prob.critical_kw[0], 0.0), svc.compute.room.flex_rating_kw - prob.critical_kw[0])
    assert b["slots"][1]["green_kw"] == pytest.approx(green, abs=1e-3)
    night = [s for s in b["slots"] if s["start"].endswith("T16:00:00.000Z")]  # midnight in Hohhot
    assert night and all(s["green_kw"] == 0.0 and s["level"] == "amber" for s in night)
    svc.set_setpoints({"reserve_frac": 0.95})
    asyncio.run(rig.run_for(30.0, {rig.clock.now_s() + 1.0: ("grid_loss", {})}))
    sig = svc.compute_signal()
    assert (sig["level"], sig["reason"], sig["budget_kw"]) == ("red", "battery_reserve", 0.0), sig
    ev = svc.compute_event("compute_requeue", "job 9 requeued: red", {"job_id": "9"})
    assert svc.events()[-1] == ev and ev["kind"] == "compute_requeue"


def test_with_a_compute_section_the_base_is_the_inflexible_share_of_the_demand(
    horinger: islandgrid.Site, inputs: Any
) -> None:
    """[compute] flexible_frac = 0.6: the base is 40 % of the room's demand, the split compute.place makes."""
    from islandgrid.site.compute import ComputeSpec

    site = horinger.model_copy(update={"compute": ComputeSpec(flexible_frac=0.6)})
    rig = SteppedRig(site, inputs, "2025-06-21 11:00", trace=False)
    asyncio.run(rig.run_for(5.0))
    svc = rig.service
    epoch = rig.clock.epoch_s()
    fc = svc.compute.forecast(epoch)
    prob = svc.planner.window(epoch, 250.0, horizon_h=48.0)
    assert fc.base_kw[:48] == pytest.approx(0.4 * prob.load_kw[:48])
    sig = svc.compute_signal()
    st = svc.status()
    pv = max(st["pv_kw"], float(prob.pv_kw[0]))
    expect = min(
        max(pv - 0.4 * st["load_demand_kw"], 0.0), svc.compute.room.flex_rating_kw - 0.4 * st["load_demand_kw"]
    )
    assert sig["green_kw"] == pytest.approx(expect, abs=1e-3)
