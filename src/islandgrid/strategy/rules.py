"""Rule-based dispatch: HOMER load following, cycle charging, grid-aware PV-first and battery-first.

One compiled (numba) loop runs the first three; the strategy is a code. Battery-first, the
off-grid reference dispatch, has its own short loop (:func:`run_battery_first`) behind the
same entry point. Everything is in
energy per interval [kWh], so an interval where a limit is reached mid-way gives the
same energies as finer steps would on the same (interval-constant) inputs.

The battery, genset fuel and grid caps are the compiled helpers of
:mod:`islandgrid.components.physics` (one definition shared with the MPC realisation and the twin).

Per interval, in order:

1. self-discharge of the stored energy (never below SoC min: the BMS holds the
   cells there, an idealisation);
2. PV serves the load; surplus charges the battery, then is exported (grid up and
   export allowed), then curtailed;
3. the remaining net load is served by the battery (down to the islanding reserve
   while grid-tied under PV-first, down to SoC min otherwise), then by grid import;
4. the genset starts only when those cannot cover the net load (or its minimum run
   time or the cycle-charging setpoint holds it on), never before its minimum off
   time is over and then its start delay has passed. Starts and stops fall inside an
   interval where the rules put them, so the result does not depend on the step length:
   it starts when the battery reaches its floor (running the rest of the interval), runs
   out its minimum run time into the next intervals while islanded, and a running genset
   stops as soon as the battery could carry the net load for an hour again (its
   minimum-load surplus recharging the battery). Grid-return policy: the minimum run time
   protects the engine while it carries an island; once the grid (import > 0) is back at
   an interval start, a genset only that holds on stops there (no running in parallel
   with the grid at minimum load, at any step length);
5. PV-first, grid-tied, below the reserve: the grid recharges the battery to the reserve;
6. what is still short comes out of the islanding reserve, then is unserved:
   non-critical load is shed first.

Load following runs the genset at the net load (at least its minimum load) and
charges the battery only with the minimum-load surplus. Cycle charging runs it at
full output, charging the battery, until the SoC reaches the setpoint; it charges again
only once the SoC has fallen below the setpoint less a hysteresis band (so self-discharge,
applied first each interval, cannot keep it charging the last few Wh for ever).

Battery-first differs from load following in what comes first once the genset runs:
load following keeps a started genset on (its minimum run time, then until the
battery could carry the net load for an hour) and so keeps the battery charged;
battery-first empties the battery before the genset every interval, runs the genset
only for what the battery cannot give, and has no start delay, minimum run or off time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from islandgrid.components.physics import (
    charge_cap_kwh,
    discharge_cap_kwh,
    genset_fuel_l,
    grid_cap_kwh,
    grid_parts,
    hour_deficit,
    self_discharge_kwh,
    soc_after,
)
from islandgrid.site.spec import SimulationSpec
from islandgrid.strategy.base import FLOW_COLUMNS, DispatchProblem

LOAD_FOLLOWING = 0
CYCLE_CHARGING = 1
PV_FIRST = 2
BATTERY_FIRST = 3

_EPS = 1e-9

# Output column positions (same order as FLOW_COLUMNS).
(
    C_LOAD,
    C_CRIT,
    C_SERVED,
    C_UNSERVED,
    C_UNSERVED_CRIT,
    C_PV_AVAIL,
    C_PV_USED,
    C_PV_CURT,
    C_GRID_IN,
    C_GRID_OUT,
    C_DIESEL,
    C_BAT_IN,
    C_BAT_OUT,
    C_SELFDIS,
    C_DUMP,
    C_FUEL,
    C_SOC,
    C_GEN_ON,
    C_GRID_UP,
) = range(19)


# Inputs are validated finite, so NaN/inf-free fast math is safe; "reassoc" is left out so that
# sums keep their order and results stay bit-stable (check_flows verifies every run anyway).
@numba.njit(cache=True, inline="always", error_model="numpy", fastmath={"nnan", "ninf", "nsz", "arcp", "contract"})
def _write_interval(
    out: np.ndarray,
    t: int,
    load: float,
    crit: float,
    unserved: float,
    pv: float,
    curtailed: float,
    g_in: float,
    g_out: float,
    diesel: float,
    b_in: float,
    b_out: float,
    selfdis: float,
    dump: float,
    fuel: float,
    soc: float,
    run_frac: float,
    grid_share: float,
) -> None:
    """Write one interval's flows into row ``t`` of ``out`` (FLOW_COLUMNS) [kWh, L, kWh of SoC].

    Unserved load sheds the non-critical part first; every rule kernel ends its interval here.
    """
    shed = min(unserved, load - crit)
    out[t, C_LOAD] = load
    out[t, C_CRIT] = crit
    out[t, C_SERVED] = load - unserved
    out[t, C_UNSERVED] = unserved
    out[t, C_UNSERVED_CRIT] = unserved - shed
    out[t, C_PV_AVAIL] = pv
    out[t, C_PV_USED] = pv - curtailed
    out[t, C_PV_CURT] = curtailed
    out[t, C_GRID_IN] = g_in
    out[t, C_GRID_OUT] = g_out
    out[t, C_DIESEL] = diesel
    out[t, C_BAT_IN] = b_in
    out[t, C_BAT_OUT] = b_out
    out[t, C_SELFDIS] = selfdis
    out[t, C_DUMP] = dump
    out[t, C_FUEL] = fuel
    out[t, C_SOC] = soc
    out[t, C_GEN_ON] = run_frac
    out[t, C_GRID_UP] = grid_share


@numba.njit(cache=True, error_model="numpy", fastmath={"nnan", "ninf", "nsz", "arcp", "contract"})
def run_rules(
    code: int,
    dt_h: float,
    pv_kw: np.ndarray,
    load_kw: np.ndarray,
    crit_kw: np.ndarray,
    grid_share: np.ndarray,
    grid_up_start: np.ndarray,
    e_min: float,
    e_max: float,
    e_init: float,
    e_reserve: float,
    p_ch: float,
    p_dis: float,
    eta_c: float,
    eta_d: float,
    sd_per_h: float,
    gen_rated: float,
    gen_min: float,
    gen_f0_l_per_h: float,
    gen_f1: float,
    gen_min_run_h: float,
    gen_delay_h: float,
    imp_kw: float,
    exp_kw: float,
    cc_setpoint_kwh: float,
    gen_min_off_h: float,
    cc_band_kwh: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Run the rules over all intervals, writing into ``out`` (n x 19).

    ``grid_share`` is each interval's grid-connected share [-] and ``grid_up_start`` whether the grid is
    up at its start: a partly islanded interval runs as two parts (:func:`grid_parts`).
    """
    if code == BATTERY_FIRST:
        run_battery_first(
            dt_h, pv_kw, load_kw, crit_kw, grid_share, grid_up_start, e_min, e_max, e_init, p_ch, p_dis, eta_c,
            eta_d, sd_per_h, gen_rated, gen_min, gen_f0_l_per_h, gen_f1, imp_kw, exp_kw, out,
        )  # fmt: skip
        return
    n = pv_kw.shape[0]
    soc = e_init
    gen_on = False
    run_h = 0.0
    off_h = 1e9  # hours since the genset last stopped (it starts the period long stopped)
    cc_charged = False  # cycle charging reached its setpoint and has not fallen below the band since
    k_hour = max(round(1.0 / dt_h), 1)  # intervals in an hour
    for t in range(n):
        # a partly islanded interval runs as two parts of constant grid state (one plant, one physics:
        # the state carries over from the first part to the second as from one interval to the next)
        first_h, first_up, second_h = grid_parts(grid_share[t], grid_up_start[t], dt_h)
        acc_unserved = 0.0
        acc_curt = 0.0
        acc_g_in = 0.0
        acc_g_out = 0.0
        acc_diesel = 0.0
        acc_b_in = 0.0
        acc_b_out = 0.0
        acc_selfdis = 0.0
        acc_dump = 0.0
        acc_fuel = 0.0
        acc_run_h = 0.0
        for part in range(2):
            dtp = first_h if part == 0 else second_h
            if dtp <= 0.0:
                break
            up = first_up if part == 0 else not first_up
            load = load_kw[t] * dtp
            pv = pv_kw[t] * dtp
            # 1. self-discharge of the whole interval, on the stored energy at its start (in its first
            #    part); the BMS keeps the cells at or above SoC min
            selfdis = self_discharge_kwh(soc, e_min, sd_per_h, dt_h) if part == 0 else 0.0
            soc -= selfdis
            floor = max(e_reserve, e_min) if (code == PV_FIRST and up) else e_min
            ch_cap = charge_cap_kwh(soc, e_max, p_ch, eta_c, dtp)
            dis_cap = discharge_cap_kwh(soc, floor, p_dis, eta_d, dtp)
            imp_cap = grid_cap_kwh(imp_kw, up, dtp)
            # 2. PV first
            pv_to_load = min(pv, load)
            net = load - pv_to_load
            surplus = pv - pv_to_load
            pv_to_bat = min(surplus, ch_cap)
            ch_cap -= pv_to_bat
            surplus -= pv_to_bat
            g_out = min(surplus, grid_cap_kwh(exp_kw, up, dtp))
            surplus -= g_out
            curtailed = surplus
            # 3.-4. battery, grid, genset
            b_out = 0.0
            g_in = 0.0
            diesel = 0.0
            gen_bat = 0.0
            dump = 0.0
            r = 0.0  # genset run fraction of the interval
            stop_in_start = False  # started and stopped again within the interval
            # the minimum run time holds a started genset on only while islanded: once the grid (import > 0)
            # is back, a genset nothing else needs stops at the start of the interval (the grid-return policy)
            locked = gen_on and run_h < gen_min_run_h - _EPS and not (up and imp_kw > 0.0)
            # cycle charging: once at its setpoint, the genset charges again only after the SoC has fallen
            # below the setpoint less the hysteresis band (self-discharge alone never restarts the charge)
            if soc < cc_setpoint_kwh - cc_band_kwh:
                cc_charged = False
            cc_hold = (
                gen_on and code == CYCLE_CHARGING and not cc_charged and soc < cc_setpoint_kwh - _EPS and net > imp_cap
            )
            # a start: never before its minimum off time is over, then power after its start delay
            lead_h = gen_delay_h + max(gen_min_off_h - off_h, 0.0)
            r_start = 0.0
            short = net > dis_cap + imp_cap + _EPS
            # a running genset stops only once the battery could carry the net load of the hour ahead: the
            # peak of its running deficit over that hour (the same decision at every step length; a 1-min
            # step does not stop on one minute's dip in the load or burst of sun)
            need_stored = 0.0  # [kWh stored]
            need_peak_kw = 0.0
            if gen_on or short:
                need_stored, need_peak_kw = hour_deficit(
                    load_kw, pv_kw, t, k_hour, dt_h, imp_kw if up else 0.0, eta_c, eta_d
                )
            keep = gen_on and (need_stored > max(soc - floor, 0.0) + _EPS or need_peak_kw > p_dis + _EPS)
            if gen_rated > 0.0 and (short or keep or locked or cc_hold):
                # what the battery and genset must supply once the grid gives what it can [kW]
                need_rate = max(net - imp_cap, 0.0) / dtp
                # the rest of its minimum run time, as a fraction of the interval
                r_lock = min(max((gen_min_run_h - run_h) / dtp, 0.0), 1.0) if gen_on else 0.0
                if gen_on and cc_hold:
                    r = 1.0
                elif gen_on and (short or keep):
                    r = 1.0
                    # its minimum-load surplus charges the battery: it stops as soon as the battery
                    # could carry the net load for an hour, within the interval (resolution-free)
                    target_kwh = floor + need_stored
                    charge_kw = min(max(need_rate, gen_min), gen_rated) - need_rate
                    charge_kw = min(charge_kw, max(p_ch - pv_to_bat / dtp, 0.0))
                    if code != CYCLE_CHARGING and need_rate <= p_dis and charge_kw > _EPS and target_kwh <= e_max:
                        tau_h = max(target_kwh - soc, 0.0) / (eta_c * charge_kw)
                        r = min(max(tau_h / dtp, r_lock), 1.0)
                elif gen_on:
                    # only its minimum run time holds it on: it runs out the rest of that time
                    r = r_lock
                elif need_rate > p_dis + _EPS or need_rate > gen_rated:
                    # the battery cannot carry the load alone even briefly, or must help the genset
                    # all interval: start at once
                    r = 1.0 - lead_h / dtp
                else:
                    # the battery carries the start of the interval, the genset the rest
                    # (its minimum run time carries over into the next intervals: ``locked``)
                    r = 1.0 - dis_cap / (need_rate * dtp) if need_rate > _EPS else 0.0
                    r = min(max(r, 0.0), 1.0 - lead_h / dtp)
                    r_start = r
                    # load following: its minimum-load surplus recharges the battery, and it stops
                    # within the interval once it has run its minimum time and the battery could
                    # carry the net load for an hour again (the rule a finer step would apply)
                    target_kwh = floor + need_stored
                    charge_kw = min(max(need_rate, gen_min), gen_rated) - need_rate
                    charge_kw = min(charge_kw, max(p_ch - pv_to_bat / dtp, 0.0))
                    if code != CYCLE_CHARGING and r > 0.0 and charge_kw > _EPS and target_kwh <= e_max:
                        soc_at_start = soc - min(need_rate * (1.0 - r) * dtp, dis_cap) / eta_d
                        run_need_h = max((target_kwh - soc_at_start) / (eta_c * charge_kw), gen_min_run_h)
                        if run_need_h < r * dtp:
                            r = run_need_h / dtp
                            stop_in_start = True
                r = min(max(r, 0.0), 1.0)
                r_start = max(r_start, r)
                # cycle charging: full output; load following: the net load, at least the minimum
                p_gen = gen_rated if code == CYCLE_CHARGING else min(max(need_rate, gen_min), gen_rated)
                p_gen = max(p_gen, gen_min)
                gen_energy = p_gen * r * dtp
                to_load = min(gen_energy, need_rate * r * dtp, net)
                excess = gen_energy - to_load
                net -= to_load
                # excess: into the battery (cycle charging stops at the setpoint)
                room = ch_cap
                if code == CYCLE_CHARGING:
                    room = min(room, max(cc_setpoint_kwh - soc - eta_c * pv_to_bat, 0.0) / eta_c)
                    # full output only as far as it can go somewhere; never below minimum load
                    usable = to_load + room + pv_to_bat
                    gen_energy = max(min(gen_energy, usable), gen_min * r * dtp)
                    excess = gen_energy - to_load
                gen_bat = min(excess, room)
                ch_cap -= gen_bat
                excess -= gen_bat
                # then replace PV charging / PV to load with diesel by curtailing PV
                swap = min(excess, pv_to_bat)
                pv_to_bat -= swap
                gen_bat += swap
                curtailed += swap
                excess -= swap
                swap = min(excess, pv_to_load)
                pv_to_load -= swap
                curtailed += swap
                excess -= swap
                dump = excess
                diesel = gen_energy
                # a start runs to the end of the interval, unless it stops within it; a running genset
                # stops within the interval if r < 1
                end_on = (r > 0.0 and not stop_in_start) if not gen_on else r >= 1.0 - _EPS
                if r > 0.0 and not end_on:
                    # it stopped within the interval: the battery may give back what it just took in
                    dis_cap = min(dis_cap + gen_bat * eta_c * eta_d, p_dis * dtp)
                # the grid runs all interval; the battery covers what is left
                g_in = min(net, imp_cap)
                net -= g_in
                b_out = min(net, dis_cap)
                net -= b_out
                if end_on:
                    off_h = 0.0
                elif not gen_on:
                    # started and stopped within the interval (or never started): off since its stop
                    off_h = (r_start - r) * dtp if r > 0.0 else off_h + dtp
                else:
                    off_h = (1.0 - r) * dtp  # ran the first r of the interval
                if not gen_on:
                    run_h = 0.0
                run_h += r * dtp
                gen_on = end_on
            else:
                b_out = min(net, dis_cap)
                net -= b_out
                g_in = min(net, imp_cap)
                net -= g_in
                off_h = off_h + dtp if not gen_on else dtp
                gen_on = False
                run_h = 0.0
            # the islanding reserve never causes unserved load: dip into it before shedding
            if net > _EPS and floor > e_min:
                extra = min(net, max(p_dis * dtp - b_out, 0.0), max(soc - b_out / eta_d - e_min, 0.0) * eta_d)
                b_out += extra
                net -= extra
            # 5. PV-first restores the islanding reserve from the grid
            grid_bat = 0.0
            if code == PV_FIRST and up and b_out <= 0.0:
                stored_after = soc + eta_c * (pv_to_bat + gen_bat)
                if stored_after < e_reserve:
                    grid_bat = min((e_reserve - stored_after) / eta_c, ch_cap, imp_cap - g_in)
                    grid_bat = max(grid_bat, 0.0)
            g_in += grid_bat
            b_in = pv_to_bat + gen_bat + grid_bat
            soc = soc_after(soc, b_in, b_out, eta_c, eta_d)
            if soc >= cc_setpoint_kwh - _EPS:
                cc_charged = True
            # 6. unserved: shed non-critical first
            unserved = max(net, 0.0)
            fuel = genset_fuel_l(gen_f0_l_per_h, gen_f1, r * dtp, diesel)
            acc_unserved += unserved
            acc_curt += curtailed
            acc_g_in += g_in
            acc_g_out += g_out
            acc_diesel += diesel
            acc_b_in += b_in
            acc_b_out += b_out
            acc_selfdis += selfdis
            acc_dump += dump
            acc_fuel += fuel
            acc_run_h += r * dtp
        _write_interval(out, t, load_kw[t] * dt_h, crit_kw[t] * dt_h, acc_unserved, pv_kw[t] * dt_h, acc_curt,
                        acc_g_in, acc_g_out, acc_diesel, acc_b_in, acc_b_out, acc_selfdis, acc_dump, acc_fuel, soc,
                        acc_run_h / dt_h, grid_share[t])  # fmt: skip


@numba.njit(cache=True, error_model="numpy", fastmath={"nnan", "ninf", "nsz", "arcp", "contract"})
def run_battery_first(
    dt_h: float,
    pv_kw: np.ndarray,
    load_kw: np.ndarray,
    crit_kw: np.ndarray,
    grid_share: np.ndarray,
    grid_up_start: np.ndarray,
    e_min: float,
    e_max: float,
    e_init: float,
    p_ch: float,
    p_dis: float,
    eta_c: float,
    eta_d: float,
    sd_per_h: float,
    gen_rated: float,
    gen_min: float,
    gen_f0_l_per_h: float,
    gen_f1: float,
    imp_kw: float,
    exp_kw: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Battery-first dispatch, the off-grid reference rule, into ``out`` (n x 19).

    Each interval, after self-discharge (as in :func:`run_rules`), net = load - PV. A deficit: the
    battery gives min(net, its power limit, the energy above SoC min at its discharge efficiency)
    over the whole interval; the grid, if up, imports what it can; the genset covers the rest up to
    its rating, at least its minimum load (the surplus of that minimum is dumped); what is left is
    shed, non-critical load first. A surplus: the battery charges min(surplus, its power limit, the
    room below SoC max at its charge efficiency); the grid, if up, takes its export limit; the rest
    of the PV is spilled (curtailed). The genset runs whole intervals (run fraction 1 when its
    output is > 0) with no start delay, minimum run or minimum off time; fuel is
    (F0 Y_nameplate + F1 P) dt over those intervals.
    """
    n = pv_kw.shape[0]
    soc = e_init
    acc = np.empty(11)  # per interval: unserved, curtailed, g_in, g_out, diesel, b_in, b_out, selfdis, dump,
    # fuel, run hours
    for t in range(n):
        # a partly islanded interval: two parts of constant grid state, as in :func:`run_rules`
        first_h, first_up, second_h = grid_parts(grid_share[t], grid_up_start[t], dt_h)
        acc[:] = 0.0
        for part in range(2):
            dtp = first_h if part == 0 else second_h
            if dtp <= 0.0:
                break
            up = first_up if part == 0 else not first_up
            selfdis = self_discharge_kwh(soc, e_min, sd_per_h, dt_h) if part == 0 else 0.0  # the interval's
            soc -= selfdis
            net = (load_kw[t] - pv_kw[t]) * dtp
            b_in = 0.0
            b_out = 0.0
            g_in = 0.0
            g_out = 0.0
            diesel = 0.0
            dump = 0.0
            curtailed = 0.0
            unserved = 0.0
            if net > 0.0:
                b_out = min(net, discharge_cap_kwh(soc, e_min, p_dis, eta_d, dtp))
                rest = net - b_out
                g_in = min(rest, grid_cap_kwh(imp_kw, up, dtp))
                rest -= g_in
                if rest > _EPS and gen_rated > 0.0:
                    diesel = min(rest, gen_rated * dtp)
                    rest -= diesel
                    if diesel < gen_min * dtp:
                        dump = gen_min * dtp - diesel
                        diesel = gen_min * dtp
                unserved = max(rest, 0.0)
            else:
                surplus = -net
                b_in = min(surplus, charge_cap_kwh(soc, e_max, p_ch, eta_c, dtp))
                surplus -= b_in
                g_out = min(surplus, grid_cap_kwh(exp_kw, up, dtp))
                surplus -= g_out
                curtailed = surplus
            soc = soc_after(soc, b_in, b_out, eta_c, eta_d)
            run_h = dtp if diesel > 0.0 else 0.0
            fuel = genset_fuel_l(gen_f0_l_per_h, gen_f1, run_h, diesel)
            parts = (unserved, curtailed, g_in, g_out, diesel, b_in, b_out, selfdis, dump, fuel, run_h)
            for k in range(11):
                acc[k] += parts[k]
        _write_interval(out, t, load_kw[t] * dt_h, crit_kw[t] * dt_h, acc[0], pv_kw[t] * dt_h, acc[1], acc[2],
                        acc[3], acc[4], acc[5], acc[6], acc[7], acc[8], acc[9], soc, acc[10] / dt_h,
                        grid_share[t])  # fmt: skip


_CODES = {
    "load_following": LOAD_FOLLOWING,
    "cycle_charging": CYCLE_CHARGING,
    "pv_first": PV_FIRST,
    "battery_first": BATTERY_FIRST,
}


@dataclass(frozen=True)
class RuleStrategy:
    """A rule-based strategy run by the compiled loop.

    Parameters
    ----------
    name : {'load_following', 'cycle_charging', 'pv_first', 'battery_first'}
        Which rules.
    """

    name: str

    @property
    def commits_genset(self) -> bool:
        """Whether the genset keeps its minimum run and off times (battery-first runs whole
        intervals without them, as the reference rule does)."""
        return self.name != "battery_first"

    def dispatch(self, problem: DispatchProblem) -> dict[str, np.ndarray]:
        """Run the compiled rules over the whole problem."""
        out = np.empty((problem.n, len(FLOW_COLUMNS)), dtype=np.float64, order="F")  # contiguous columns
        run_into(self.name, problem, out)
        return {c: out[:, i] for i, c in enumerate(FLOW_COLUMNS)}


def run_into(name: str, p: DispatchProblem, out: np.ndarray) -> None:
    """Run the rules of ``name`` on ``p`` into a preallocated ``out`` (n x 19).

    Sizing calls this directly in its inner loop to avoid any allocation.
    """
    b, g = p.battery, p.genset
    sim = SimulationSpec.model_fields
    setpoint = float(p.options.get("cycle_charging_setpoint_frac", sim["cycle_charging_setpoint_frac"].default))
    band = float(p.options.get("cycle_charging_band_frac", sim["cycle_charging_band_frac"].default))
    run_rules(
        _CODES[name],
        p.dt_h,
        p.pv_kw,
        p.load_kw,
        p.critical_kw,
        p.grid_available,
        p.up_at_start,
        b.soc_min_kwh,
        b.soc_max_kwh,
        b.soc_init_kwh,
        b.reserve_kwh,
        b.charge_kw,
        b.discharge_kw,
        b.eta_charge,
        b.eta_discharge,
        b.self_discharge_frac_per_h,
        g.rated_kw,
        min(g.min_load_kw, g.rated_kw),
        g.f0_l_per_h_per_kw * g.nameplate_kw,
        g.f1_l_per_kwh,
        g.min_run_h,
        g.start_delay_h,
        p.grid.import_kw,
        p.grid.export_kw,
        setpoint * b.energy_kwh,
        g.min_off_h,
        band * b.energy_kwh,
        out,
    )
