"""The realisation step: apply a plan's decisions to the ACTUAL PV, load and grid.

The plan fixes the genset (on/off and output) and the grid import/export of each
interval. Reality differs from the forecast, so every interval is re-balanced:

1. self-discharge (never below SoC min), as in the rule engine: the battery's caps and update,
   the fuel curve and the grid caps are the compiled helpers of
   :mod:`islandgrid.components.physics` that the rule kernels use;
2. PV, the planned grid exchange (only if the grid is actually up) and the planned
   genset output (if it runs) meet the actual load;
3. the battery absorbs the deviation within its power and SoC limits: grid-tied down
   to the islanding reserve the plan holds (not below it while the grid can still
   give more), islanded down to SoC min (the reserve exists to be used now);
4. a remaining deficit: more grid import (to its limit, if up), then the battery
   below the reserve, then the running genset up to its rating, then an unplanned
   start of the genset (the battery carries the deficit until it reaches SoC min,
   the genset the rest of the interval, at least its minimum run time, after its
   start delay), then unserved load (non-critical shed first);
5. a remaining surplus: less battery discharge, more charge, less grid import, the
   running genset down to its minimum load, export (if allowed), then PV
   curtailment, then dump.

During an outage whose end the forecaster does not know (every forecaster but
'perfect' assumes it lasts ``outage_hold_h`` more hours), the genset does not follow
the plan (``wait_for_grid``): the plan's commitment rests on a guessed duration, and
an outage that ends within the hour makes every kWh of diesel a loss, since the grid
refills the battery at a fraction of its cost (Horinger: grid at 0.69-1.19 CNY/kWh
incl. carbon vs diesel at 2.2 CNY/kWh plus 14 CNY per running hour). So the battery
goes first, as under the PV-first rules: the genset starts when the battery reaches
SoC min and runs the rest of the interval at the net load (at least its minimum load,
the surplus recharging the battery); its minimum run time carries over into the next
interval while the grid is still down (once the grid is back it stops, as under the
rules' grid-return policy, also where the plan holds it at its minimum load only for
that); it stops, once that time is over, as soon as the battery could carry the net
load for an hour again. Starting the genset at the outage's first hour because
the plan assumed a 3 h outage ran it 28 h a year on the example instead of the rules'
10.7 h (the realised outages were mostly shorter).

Given the rules' own decisions (the genset's run fraction and output, the grid exchange) the
realisation gives the rules' flows (tests/test_plant_physics.py, the Horinger year): a genset that
runs part of an interval serves the load only while it runs, its spare output charges the battery,
and after a stop within the interval the battery may give back what it took in, as in the rules.

Every interval balances exactly and stays inside the battery, grid and genset
limits, whatever the plan said; :func:`islandgrid.simulate.checks.check_flows`
verifies this for every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from islandgrid.components.physics import (
    charge_cap_kwh,
    discharge_cap_kwh,
    genset_fuel_l,
    grid_cap_kwh,
    grid_parts,
    self_discharge_kwh,
    soc_after,
)
from islandgrid.strategy.base import FLOW_COLUMNS, DispatchProblem

_EPS = 1e-9
C_SOC = FLOW_COLUMNS.index("soc_kwh")
C_RUN = FLOW_COLUMNS.index("genset_on")


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
    off_h : float
        Hours since its last stop [h] (for its minimum off time; it starts long stopped).
    """

    soc_kwh: float
    genset_on: bool = False
    run_h: float = 0.0
    off_h: float = float("inf")


def _lead_h(p: DispatchProblem, state: PlantState) -> float:
    """From the interval start to the genset's first power [h]: the rest of its minimum off time, then
    its start delay."""
    return p.genset.start_delay_h + max(p.genset.min_off_h - state.off_h, 0.0)


def _start_fraction(p: DispatchProblem, need_kwh: float, late: float, lead_h: float, dt: float) -> float:
    """The share of the interval (or part, ``dt`` [h] long) a genset started in it runs [-]: ``late`` (it
    starts when the battery reaches SoC min) if it and the battery can each carry the net load
    ``need_kwh`` alone, else at once; never before ``lead_h`` (its minimum off time, then its start
    delay) has passed."""
    at_once = max(1.0 - lead_h / dt, 0.0)
    if need_kwh / dt > min(p.genset.rated_kw, p.battery.discharge_kw) + _EPS:
        return at_once
    return min(max(late, 0.0), at_once)


def realise_interval(
    p: DispatchProblem,
    t: int,
    state: PlantState,
    gen_on_plan: float,
    diesel_plan_kwh: float,
    grid_in_plan_kwh: float,
    grid_out_plan_kwh: float,
    out: np.ndarray,
    reserve_kwh: float = 0.0,
    wait_for_grid: bool = False,
) -> None:
    """Realise interval ``t`` of ``p`` from the planned decisions, writing ``out[t]`` (FLOW_COLUMNS order).

    ``gen_on_plan`` is the share of the interval the plan runs the genset [-] (a bool: all or none of
    it), ``diesel_plan_kwh`` its planned output over that share [kWh].
    ``reserve_kwh`` is the islanding reserve the plan holds while grid-tied: with the grid up, a
    deficit takes the battery down to it, then the grid, and only then the battery below it.

    A partly islanded interval runs as two parts of constant grid state, as in the rules
    (:func:`islandgrid.components.physics.grid_parts`): the planned grid exchange goes to the
    connected part, the planned genset run time to the islanded part first (where the rules put it),
    the rest of it to the connected part, its output in proportion.
    """
    dt = p.dt_h
    share = float(p.grid_available[t])
    first_h, first_up, second_h = grid_parts(share, bool(p.up_at_start[t]), dt)
    if second_h <= 0.0:
        out[t] = _realise_part(p, t, first_h, first_up, True, state, gen_on_plan, diesel_plan_kwh,
                               grid_in_plan_kwh, grid_out_plan_kwh, reserve_kwh, wait_for_grid)  # fmt: skip
        out[t, -1] = share
        return
    run_h = min(max(float(gen_on_plan), 0.0), 1.0) * dt
    isl_h = second_h if first_up else first_h
    run_isl_h = min(run_h, isl_h)
    run_con_h = run_h - run_isl_h
    row = np.zeros(out.shape[1])
    run_total_h = 0.0
    for part, (h, up) in enumerate(((first_h, first_up), (second_h, not first_up))):
        run_part_h = run_con_h if up else run_isl_h
        diesel = diesel_plan_kwh * run_part_h / run_h if run_h > 0 else 0.0
        r = _realise_part(p, t, h, up, part == 0, state, run_part_h / h, diesel,
                          grid_in_plan_kwh if up else 0.0, grid_out_plan_kwh if up else 0.0,
                          reserve_kwh, wait_for_grid)  # fmt: skip
        run_total_h += r[C_RUN] * h
        row += r
    row[C_SOC] = state.soc_kwh
    row[C_RUN] = run_total_h / dt
    row[-1] = share
    out[t] = row


def _realise_part(
    p: DispatchProblem,
    t: int,
    dt: float,
    up: bool,
    first: bool,
    state: PlantState,
    gen_on_plan: float,
    diesel_plan_kwh: float,
    grid_in_plan_kwh: float,
    grid_out_plan_kwh: float,
    reserve_kwh: float,
    wait_for_grid: bool,
) -> np.ndarray:
    """One part of interval ``t``, ``dt`` [h] long with the grid ``up`` or not (the whole interval when
    it is not partly islanded): its flows in FLOW_COLUMNS order, ``state`` advanced. The interval's
    self-discharge is taken in its ``first`` part, on the stored energy at the interval start."""
    b, g = p.battery, p.genset
    load = float(p.load_kw[t]) * dt
    crit = float(p.critical_kw[t]) * dt
    pv = float(p.pv_kw[t]) * dt
    soc = state.soc_kwh
    selfdis = self_discharge_kwh(soc, b.soc_min_kwh, b.self_discharge_frac_per_h, p.dt_h) if first else 0.0
    soc -= selfdis
    ch_cap = charge_cap_kwh(soc, b.soc_max_kwh, b.charge_kw, b.eta_charge, dt)
    dis_cap = discharge_cap_kwh(soc, b.soc_min_kwh, b.discharge_kw, b.eta_discharge, dt)
    # grid-tied, the battery covers a deficit down to the reserve before the grid does
    floor = max(reserve_kwh, b.soc_min_kwh) if up else b.soc_min_kwh
    dis_res = discharge_cap_kwh(soc, floor, b.discharge_kw, b.eta_discharge, dt)
    imp_cap = grid_cap_kwh(p.grid.import_kw, up, dt)
    exp_cap = grid_cap_kwh(p.grid.export_kw, up, dt)
    rated = g.rated_kw * dt
    gmin = min(g.min_load_kw, g.rated_kw) * dt
    was_on = state.genset_on
    lead_h = _lead_h(p, state)
    g_in = min(max(grid_in_plan_kwh, 0.0), imp_cap)
    g_out = min(max(grid_out_plan_kwh, 0.0), exp_cap)
    if wait_for_grid and not up and g.rated_kw > 0:
        # 2'. an outage whose end is not forecast (the grid may be back any time, and refill the battery
        #     for a fraction of the diesel's cost): the battery first, as the PV-first rules do. The
        #     genset starts when the battery reaches its floor and runs the rest of the interval (at
        #     least its minimum run time); once running, it runs at the net load (at least its minimum
        #     load, the surplus recharging the battery) and stops, after its minimum run time, as soon as
        #     the battery could carry the net load for an hour again.
        need = load - pv
        p_gen = min(max(need, gmin), rated)  # its output over a whole interval [kWh]
        if was_on:
            hold_h = max(dt, 1.0)
            carry = need / dt * hold_h
            if carry <= discharge_cap_kwh(soc, b.soc_min_kwh, b.discharge_kw, b.eta_discharge, hold_h) + _EPS:
                r = 0.0
            else:
                target = b.soc_min_kwh + carry / b.eta_discharge
                charge = min(p_gen - max(need, 0.0), b.charge_kw * dt)
                r = 1.0
                if charge > _EPS and target <= b.soc_max_kwh:
                    r = min(max(target - soc, 0.0) / (b.eta_charge * charge), 1.0)
            r = max(r, min((g.min_run_h - state.run_h) / dt, 1.0))
        elif need - dis_cap > _EPS:
            # its minimum run time carries over into the next interval(s)
            r = _start_fraction(p, need, (need - dis_cap) / p_gen, lead_h, dt)
        else:
            r = 0.0
        diesel = p_gen * r
    elif was_on and up and p.grid.import_kw > 0 and state.run_h < g.min_run_h and diesel_plan_kwh <= gmin + _EPS:
        # the grid is back while a start's minimum run time is not over, and the plan holds the genset at
        # its minimum load only for that: the grid-return policy of the rules stops it now
        r = 0.0
        diesel = 0.0
    else:
        # 2. planned decisions, clipped to what is physically possible now
        #    (the plan's run fraction of the interval: 1 for a plan that runs it, less for a late start)
        r_plan = min(max(float(gen_on_plan), 0.0), 1.0) if g.rated_kw > 0 else 0.0
        r = r_plan
        if r > 0 and not was_on:
            r = min(r, max(1.0 - max(g.min_off_h - state.off_h, 0.0) / dt, 0.0))  # not before its minimum off time
        diesel = min(max(diesel_plan_kwh * r / r_plan, gmin * r), rated * r) if r > 0 else 0.0
    # a genset that runs only part of the interval serves the load only while it runs (as in the rules):
    # the battery carries the rest of the load, and the genset's spare output charges it
    to_load = diesel if r >= 1.0 else min(diesel, max(load - min(pv, load) - g_in, 0.0) * r)
    spare = diesel - to_load
    net = load + g_out - pv - g_in - to_load  # > 0: deficit, < 0: surplus
    b_in = b_out = 0.0
    # 3. the battery absorbs the deviation
    if net > 0:
        b_in = min(spare, ch_cap)
        spare -= b_in
        if 0.0 < r < (1.0 if was_on else 1.0 - lead_h / dt) - _EPS:
            # it runs only part of what it could (a stop, or a late start that may stop again): the battery
            # may give back what it took in while it ran (the rules' sequence within the interval); not
            # so for a start at once, whose start delay the battery must carry before it charges
            give = b_in * b.eta_charge * b.eta_discharge
            dis_res = min(dis_res + give, b.discharge_kw * dt)
            dis_cap = min(dis_cap + give, b.discharge_kw * dt)
        b_out = min(net, dis_res)
        net -= b_out
    net -= spare
    if net < 0:
        more = min(-net, ch_cap - b_in)
        b_in += more
        net += more
    # 4. deficit: grid, the battery below the reserve, running genset, emergency start, shed
    if net > _EPS:
        extra = min(net, imp_cap - g_in)
        g_in += extra
        net -= extra
    if net > _EPS:
        extra = min(net, dis_cap - b_out)
        b_out += extra
        net -= extra
    if net > _EPS and r > 0:
        # still short: a genset that was to run part of the interval runs all of it (from its start)
        r_full = 1.0 if was_on else max(1.0 - lead_h / dt, 0.0)
        if r < r_full:
            r = r_full
            more = max(gmin * r - diesel, 0.0)
            diesel += more
            to_load += more
            net -= more
        # it serves the load only while it runs: not what falls short before its start or after its stop
        extra = min(max(net, 0.0), rated * r - diesel, max(max(load - min(pv, load) - g_in, 0.0) * r - to_load, 0.0))
        diesel += extra
        net -= extra
    if net > _EPS and r == 0 and g.rated_kw > 0:
        # an unplanned start: the battery carries the deficit until it reaches its floor, the genset the
        # rest of the interval (at least its minimum run time and its minimum load, after its start
        # delay); its surplus goes back into the battery below
        need = net + b_out
        r = _start_fraction(p, need, max(1.0 - b_out / need, g.min_run_h / dt), lead_h, dt)
        diesel = min(max(need * r, gmin * r), g.rated_kw * r * dt)
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
    soc = soc_after(soc, b_in, b_out, b.eta_charge, b.eta_discharge)
    if r > 0:
        state.run_h = (state.run_h if was_on else 0.0) + r * dt
    else:
        state.run_h = 0.0
    # a start runs to the end of the interval; a running genset that ran only part of it stopped
    state.genset_on = r > 0 and (not was_on or r >= 1.0 - _EPS)
    if state.genset_on:
        state.off_h = 0.0
    elif was_on:
        state.off_h = (1.0 - r) * dt  # it ran the first r of the interval
    else:
        state.off_h += dt
    state.soc_kwh = soc
    fuel = genset_fuel_l(g.f0_l_per_h_per_kw * g.nameplate_kw, g.f1_l_per_kwh, r * dt, diesel)
    return np.array(
        (
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
    )
