"""The realisation step: apply a plan's decisions to the ACTUAL PV, load and grid.

The plan fixes the genset (on/off and output) and the grid import/export of each
interval. Reality differs from the forecast, so every interval is re-balanced:

1. self-discharge (never below SoC min), as in the rule engine;
2. PV, the planned grid exchange (only if the grid is actually up) and the planned
   genset output (if it runs) meet the actual load;
3. the battery absorbs the deviation within its power and SoC limits (down to SoC
   min: the islanding reserve exists to be used now);
4. a remaining deficit: more grid import (to its limit, if up), then the running
   genset up to its rating, then an emergency start of the genset (the battery
   bridges its start delay), then unserved load (non-critical shed first);
5. a remaining surplus: less grid import, the running genset down to its minimum
   load, export (if allowed), then PV curtailment, then dump.

Every interval balances exactly and stays inside the battery, grid and genset
limits, whatever the plan said; :func:`islandgrid.simulate.checks.check_flows`
verifies this for every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from islandgrid.strategy.base import DispatchProblem

_EPS = 1e-9


@dataclass
class PlantState:
    """The measured state carried between intervals.

    Attributes
    ----------
    soc_kwh : float
        Stored energy [kWh].
    genset_on : bool
        Running at the end of the last interval.
    run_h : float
        Hours since its last start [h].
    """

    soc_kwh: float
    genset_on: bool = False
    run_h: float = 0.0


def realise_interval(
    p: DispatchProblem,
    t: int,
    state: PlantState,
    gen_on_plan: bool,
    diesel_plan_kwh: float,
    grid_in_plan_kwh: float,
    grid_out_plan_kwh: float,
    out: np.ndarray,
) -> None:
    """Realise interval ``t`` of ``p`` from the planned decisions, writing ``out[t]`` (FLOW_COLUMNS order)."""
    b, g = p.battery, p.genset
    dt = p.dt_h
    load = float(p.load_kw[t]) * dt
    crit = float(p.critical_kw[t]) * dt
    pv = float(p.pv_kw[t]) * dt
    up = bool(p.grid_available[t])
    soc = state.soc_kwh
    selfdis = min(soc * b.self_discharge_frac_per_h * dt, max(soc - b.soc_min_kwh, 0.0))
    soc -= selfdis
    ch_cap = min(b.charge_kw * dt, max(b.soc_max_kwh - soc, 0.0) / b.eta_charge)
    dis_cap = min(b.discharge_kw * dt, max(soc - b.soc_min_kwh, 0.0) * b.eta_discharge)
    imp_cap = p.grid.import_kw * dt if up else 0.0
    exp_cap = p.grid.export_kw * dt if up else 0.0
    rated = g.rated_kw * dt
    gmin = min(g.min_load_kw, g.rated_kw) * dt
    # 2. planned decisions, clipped to what is physically possible now
    r = 1.0 if (gen_on_plan and g.rated_kw > 0) else 0.0
    diesel = min(max(diesel_plan_kwh, gmin), rated) * r
    g_in = min(max(grid_in_plan_kwh, 0.0), imp_cap)
    g_out = min(max(grid_out_plan_kwh, 0.0), exp_cap)
    net = load + g_out - pv - g_in - diesel  # > 0: deficit, < 0: surplus
    b_in = b_out = 0.0
    # 3. the battery absorbs the deviation
    if net > 0:
        b_out = min(net, dis_cap)
        net -= b_out
    else:
        b_in = min(-net, ch_cap)
        net += b_in
    # 4. deficit: grid, running genset, emergency start, shed
    if net > _EPS:
        extra = min(net, imp_cap - g_in)
        g_in += extra
        net -= extra
    if net > _EPS and r > 0:
        extra = min(net, rated - diesel)
        diesel += extra
        net -= extra
    if net > _EPS and r == 0 and g.rated_kw > 0:
        # emergency start: the genset runs the rest of the interval after its start delay
        r = max(1.0 - g.start_delay_h / dt, 0.0)
        cap = g.rated_kw * r * dt
        diesel = min(max(net, gmin * r), cap)
        net -= diesel  # may turn negative: the minimum-load surplus is handled below
    # 5. surplus: less battery discharge, more charge, less grid, genset to its minimum, export,
    #    curtail, dump
    curtailed = dump = 0.0
    if net < -_EPS:
        less = min(-net, b_out)
        b_out -= less
        net += less
    if net < -_EPS:
        more = min(-net, ch_cap - b_in)
        b_in += more
        net += more
    if net < -_EPS:
        less = min(-net, g_in)
        g_in -= less
        net += less
    if net < -_EPS and r > 0:
        less = min(-net, diesel - gmin * r)
        diesel -= less
        net += less
    if net < -_EPS:
        more = min(-net, exp_cap - g_out)
        g_out += more
        net += more
    if net < -_EPS:
        curtailed = min(-net, pv)
        net += curtailed
    if net < -_EPS:
        dump = -net
        net = 0.0
    unserved = max(net, 0.0)
    shed = min(unserved, load - crit)
    soc = soc + b.eta_charge * b_in - b_out / b.eta_discharge
    if r > 0:
        state.run_h = (state.run_h if state.genset_on else 0.0) + r * dt
    else:
        state.run_h = 0.0
    state.genset_on = r > 0
    state.soc_kwh = soc
    fuel = (g.f0_l_per_h_per_kw * g.nameplate_kw * r * dt + g.f1_l_per_kwh * diesel) if r > 0 else 0.0
    out[t] = (
        load,
        crit,
        load - unserved,
        unserved,
        unserved - shed,
        pv,
        pv - curtailed,
        curtailed,
        g_in,
        g_out,
        diesel,
        b_in,
        b_out,
        selfdis,
        dump,
        fuel,
        soc,
        r,
        1.0 if up else 0.0,
    )
