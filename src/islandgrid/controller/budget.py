"""The compute power budget and signal the controller publishes to the cluster (issue 13 §4).

The room's flexible load is training that can wait for the sun. The controller tells the
cluster, per 15-minute slot for the next 48 h, how much power flexible jobs may draw, and,
now, a traffic-light signal with its reason:

- ``green_kw``: the PV surplus over the inflexible base load, i.e. power that would
  otherwise charge the battery past its reserve or be curtailed [kW];
- ``budget_kw``: the most flexible jobs may draw: ``green_kw`` plus the grid's headroom
  where the grid is up and no diesel is planned; only ``green_kw`` in an outage; 0 on red [kW];
- ``level``: ``green`` (PV surplus), ``amber`` (grid, or an outage on a battery above its
  reserve: run on the sun only), ``red`` (diesel running or planned, or an outage with the
  battery at or below its reserve: flexible compute should stop);
- ``reason``: one of :data:`REASONS`.

The *inflexible base* is, with a ``[compute]`` section, ``1 - flexible_frac`` of the room's
forecast demand (the split :mod:`islandgrid.compute.place` makes: inference, storage and their
cooling), and without one the site's critical load (``[load] critical_frac``); the flexible
capacity of the room is its rated IT power times the highest PUE less that base. The first
slot uses the measured state (grid, genset, SoC, the operator's reserve); later slots the
site's forecast and the controller's plan (genset commitment; beyond the plan the genset is
taken as off). During an outage the later
slots assume it lasts (no grid headroom, reason ``outage``) until the grid is back: the budget
is recomputed on every request. PV in the first slot is the
larger of the measured output and the forecast, because an inverter curtailed for lack of load
reports less than it could give, and the budget exists to use exactly that power.

Everything here is pure (arrays in, arrays out), so the fake view of the API tests and the
controller service share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from islandgrid.devices.clock import iso_utc

#: Budget slot length [s]: 15 minutes.
SLOT_S = 900.0
#: Budget horizon [h].
HORIZON_H = 48.0
#: Slots in the horizon.
N_SLOTS = int(HORIZON_H * 3600 / SLOT_S)
#: Signal levels, best first.
LEVELS: tuple[str, ...] = ("green", "amber", "red")
#: Why a slot has its level.
REASONS: tuple[str, ...] = ("pv_surplus", "grid", "outage", "battery_reserve", "diesel", "not_live")
#: Below this PV surplus a slot is not green [kW]: a few hundred watts do not run a GPU node.
GREEN_MIN_KW = 1.0


@dataclass(frozen=True)
class Forecast:
    """The site's outlook at its own resolution, from the interval containing 'now'.

    Attributes
    ----------
    start_epoch_s : float
        UNIX time of the first interval's start [s].
    dt_s : float
        Interval length [s].
    pv_kw, base_kw : ndarray
        Available PV power and the inflexible base load, means over each interval [kW].
    grid_co2_kg_per_kwh : ndarray
        The grid's carbon factor [kg/kWh].
    genset_planned : ndarray of bool
        The plan commits the genset (False beyond the plan).
    charge_kw : ndarray
        Battery charging the plan does in each interval [kW, >= 0].
    """

    start_epoch_s: float
    dt_s: float
    pv_kw: np.ndarray
    base_kw: np.ndarray
    grid_co2_kg_per_kwh: np.ndarray
    genset_planned: np.ndarray
    charge_kw: np.ndarray


@dataclass(frozen=True)
class Live:
    """The measured state now (from the controller's status).

    Attributes
    ----------
    epoch_s : float
        UNIX time now [s].
    live : bool
        The status is fresh and every controller loop runs.
    grid_ok : bool
        The grid is up and the PCC breaker closed.
    genset_kw : float
        Genset output [kW].
    soc_frac, reserve_frac : float
        Battery state of charge and the operator's islanding reserve [0..1].
    pv_kw, base_kw : float
        Measured PV output and inflexible base demand [kW].
    """

    epoch_s: float
    live: bool
    grid_ok: bool
    genset_kw: float
    soc_frac: float
    reserve_frac: float
    pv_kw: float
    base_kw: float


@dataclass(frozen=True)
class Room:
    """The room's limits for flexible compute.

    Attributes
    ----------
    flex_rating_kw : float
        Rated IT power times the highest PUE [kW]: what the room can draw at most.
    grid_import_kw : float
        The grid connection's import limit [kW].
    """

    flex_rating_kw: float
    grid_import_kw: float


def to_slots(fc: Forecast, slot0_epoch_s: float, n_slots: int = N_SLOTS) -> dict[str, np.ndarray]:
    """Resample the forecast onto 15-minute slots from ``slot0_epoch_s``.

    A slot takes the interval containing its start when the site's step is 15 minutes or
    longer, and the mean of its intervals when it is shorter (1-minute sites). Slots past the
    end of the forecast repeat its last interval.
    """
    starts = slot0_epoch_s + SLOT_S * np.arange(n_slots)
    n = len(fc.pv_kw)
    sub = max(round(SLOT_S / fc.dt_s), 1) if fc.dt_s < SLOT_S else 1
    offsets = (np.arange(sub) * fc.dt_s)[None, :]
    k = np.clip(((starts[:, None] + offsets - fc.start_epoch_s) // fc.dt_s).astype(np.int64), 0, n - 1)
    out: dict[str, np.ndarray] = {}
    for name in ("pv_kw", "base_kw", "grid_co2_kg_per_kwh", "charge_kw"):
        out[name] = np.asarray(getattr(fc, name), dtype=float)[k].mean(axis=1)
    out["genset_planned"] = np.asarray(np.asarray(fc.genset_planned, dtype=bool)[k].any(axis=1))
    out["start_epoch_s"] = starts
    return out


def slot_start(epoch_s: float) -> float:
    """Start of the 15-minute slot containing ``epoch_s`` [s]."""
    return float(epoch_s // SLOT_S * SLOT_S)


def signal_now(live: Live, room: Room, pv_forecast_kw: float, charge_kw: float = 0.0) -> dict[str, Any]:
    """The signal now: level, reason, and the power flexible jobs may draw now [kW].

    Parameters
    ----------
    live : Live
        The measured state.
    room : Room
        The room's limits.
    pv_forecast_kw : float
        Forecast PV for the current slot [kW] (used when larger than the measured output).
    charge_kw : float
        Charging the plan gives the battery now [kW]; kept from compute while the SoC is below
        the reserve (the reserve refills first).
    """
    base_kw = max(live.base_kw, 0.0)
    cap_kw = max(room.flex_rating_kw - base_kw, 0.0)
    refill_kw = max(charge_kw, 0.0) if live.soc_frac < live.reserve_frac else 0.0
    pv_kw = max(live.pv_kw, pv_forecast_kw, 0.0)
    green_kw = float(min(max(pv_kw - base_kw - refill_kw, 0.0), cap_kw))
    grid_kw = float(min(max(room.grid_import_kw - base_kw, 0.0), cap_kw))
    if not live.live:
        level, reason, budget_kw = "amber", "not_live", green_kw
        text = "the controller's status is not live (stale telemetry or a loop down): run on the sun only"
    elif live.genset_kw > 0.0:
        level, reason, budget_kw = "red", "diesel", 0.0
        text = f"the genset runs ({live.genset_kw:.1f} kW): flexible compute would burn diesel"
    elif not live.grid_ok and live.soc_frac <= live.reserve_frac:
        level, reason, budget_kw = "red", "battery_reserve", 0.0
        text = (
            f"grid outage with the battery at {live.soc_frac:.0%}, at or below its {live.reserve_frac:.0%} "
            "reserve: stop flexible compute before the genset has to start"
        )
    elif not live.grid_ok:
        level = "green" if green_kw >= GREEN_MIN_KW else "amber"
        reason, budget_kw = "outage", green_kw
        text = f"grid outage, battery at {live.soc_frac:.0%} above its reserve: run on the PV surplus only"
    elif green_kw >= GREEN_MIN_KW:
        level, reason, budget_kw = "green", "pv_surplus", min(green_kw + grid_kw, cap_kw)
        text = f"PV surplus of {green_kw:.1f} kW over the inflexible load"
    else:
        level, reason, budget_kw = "amber", "grid", grid_kw
        text = "no PV surplus: flexible compute would run on grid power"
    return {
        "ts": iso_utc(live.epoch_s),
        "level": level,
        "reason": reason,
        "message": text,
        "green_kw": round(green_kw, 3),
        "budget_kw": round(float(budget_kw), 3),
        "live": live.live,
        "grid_ok": live.grid_ok,
        "soc_frac": live.soc_frac,
        "reserve_frac": live.reserve_frac,
    }


def budget(fc: Forecast, live: Live, room: Room, n_slots: int = N_SLOTS) -> dict[str, Any]:
    """The compute power budget: one record per 15-minute slot for the next ``n_slots`` slots.

    Returns
    -------
    dict
        ``{"ts", "slot_s", "horizon_h", "signal", "slots": [{"start", "budget_kw", "green_kw",
        "level", "reason", "grid_co2_kg_per_kwh"}, ...]}``; the first slot is the current one and
        carries the signal's values.
    """
    s0 = slot_start(live.epoch_s)
    sl = to_slots(fc, s0, n_slots)
    base = np.maximum(sl["base_kw"], 0.0)
    cap = np.maximum(room.flex_rating_kw - base, 0.0)
    green = np.clip(sl["pv_kw"] - base, 0.0, cap)
    grid = np.clip(room.grid_import_kw - base, 0.0, cap)
    red = sl["genset_planned"]
    is_green = green >= GREEN_MIN_KW
    if live.grid_ok:
        budget_kw = np.where(red, 0.0, np.minimum(green + grid, cap))
        reason = np.where(red, "diesel", np.where(is_green, "pv_surplus", "grid"))
    else:  # in an outage, until the grid is back: the sun only
        budget_kw = np.where(red, 0.0, green)
        reason = np.where(red, "diesel", "outage")
    level = np.where(red, "red", np.where(is_green, "green", "amber"))
    sig = signal_now(live, room, float(sl["pv_kw"][0]), float(sl["charge_kw"][0]))
    slots = [
        {
            "start": iso_utc(float(t)),
            "budget_kw": round(float(b), 3),
            "green_kw": round(float(g), 3),
            "level": str(lv),
            "reason": str(r),
            "grid_co2_kg_per_kwh": round(float(c), 5),
        }
        for t, b, g, lv, r, c in zip(
            sl["start_epoch_s"], budget_kw, green, level, reason, sl["grid_co2_kg_per_kwh"], strict=True
        )
    ]
    if slots:
        slots[0].update({k: sig[k] for k in ("budget_kw", "green_kw", "level", "reason")})
    return {
        "ts": iso_utc(live.epoch_s),
        "slot_s": SLOT_S,
        "horizon_h": n_slots * SLOT_S / 3600.0,
        "signal": sig,
        "slots": slots,
    }


def live_from_status(status: dict[str, Any], epoch_s: float, flexible_frac: float | None = None) -> Live:
    """The measured state out of a controller status dict (missing values are the safe ones).

    The base is the critical demand, or with a ``[compute]`` section ``1 - flexible_frac`` of the
    room's demand.
    """

    def num(key: str, default: float) -> float:
        v = status.get(key)
        return float(v) if isinstance(v, int | float) and np.isfinite(v) else default

    return Live(
        epoch_s=epoch_s,
        live=bool(status.get("live", False)),
        grid_ok=bool(status.get("grid_ok", status.get("breaker") == "closed")),
        genset_kw=num("genset_kw", 0.0),
        soc_frac=num("soc_frac", 0.0),
        reserve_frac=num("reserve_frac", 1.0),
        pv_kw=num("pv_kw", 0.0),
        base_kw=num("critical_kw", 0.0)
        if flexible_frac is None
        else (1.0 - flexible_frac) * num("load_demand_kw", num("load_kw", 0.0)),
    )
