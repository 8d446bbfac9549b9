"""An independent statement of the dispatch LP, from plain numbers only.

This module imports nothing from islandgrid: the textbook LP below is written from the
problem statement (the optimiser module docstring and its documented penalty prices), not from the optimiser's
code, and solved densely with scipy.optimize.linprog (HiGHS). Tests compare its optimum
with the optimiser's.

Per interval t (dt h long), variables [kWh]: PV used, grid import, grid export, battery in,
battery out, diesel, stored energy, non-critical shed, critical shed; and, per grid-up
interval when the reserve lies above SoC min, the shortfall below the reserve.

- bus: pv + gin + dsl + bout + shed + shedc - bin - gout = load
- battery: e_t - e_min = (1 - s dt)(e_{t-1} - e_min) + eta_c bin - bout / eta_d
- bounds: pv <= PV available, gin <= P_imp dt (0 while down), gout <= P_exp dt (0 while down),
  bin <= P_ch dt, bout <= P_dis dt, dsl <= P_rated dt, e_min <= e <= e_max,
  shed <= load - critical, shedc <= critical
- reserve (grid up): e_t + short_t >= e_reserve, short_t <= e_reserve - e_min
- cost: (import price + carbon price x grid factor) gin - export price gout
  + fuel cost per L x (F1 + F0 Y_nameplate / P_rated) dsl (the genset at rated power for the
  fraction it runs) + shed prices + reserve price x dt x short + discharge tie-break x bout
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

#: The optimiser's documented penalty prices [currency/kWh; reserve: currency/(kWh h)].
SHED_PER_KWH = 20.0
SHED_CRITICAL_PER_KWH = 100.0
RESERVE_PER_KWH_H = 5.0
DISCHARGE_PER_KWH = 1e-4


def reference_lp_objective(
    *,
    dt_h: float,
    pv_kw: np.ndarray,
    load_kw: np.ndarray,
    critical_kw: np.ndarray,
    grid_up: np.ndarray,
    import_price: np.ndarray,
    export_price: np.ndarray,
    grid_kg_per_kwh: np.ndarray,
    carbon_price_per_kg: float,
    import_kw: float,
    export_kw: float,
    e_min_kwh: float,
    e_max_kwh: float,
    e_init_kwh: float,
    e_reserve_kwh: float,
    charge_kw: float,
    discharge_kw: float,
    eta_c: float,
    eta_d: float,
    selfdis_per_h: float,
    rated_kw: float,
    nameplate_kw: float,
    f0_l_per_h_per_kw: float,
    f1_l_per_kwh: float,
    fuel_price_per_l: float,
    diesel_kg_per_l: float,
) -> float:
    """The optimum of the LP in the module docstring [currency]."""
    n, dt = len(pv_kw), dt_h
    up = np.asarray(grid_up, dtype=bool)
    load = np.asarray(load_kw, dtype=float) * dt
    crit = np.minimum(np.asarray(critical_kw, dtype=float) * dt, load)
    a = 1 - selfdis_per_h * dt
    R = [t for t in range(n) if up[t]] if e_reserve_kwh > e_min_kwh else []
    nv = 9 * n + len(R)
    PV, GIN, GOUT, BIN, BOUT, DSL, SOC, SHED, SHEDC = range(9)

    def v(k: int, t: int) -> int:
        return 9 * t + k

    fuel_per_l = fuel_price_per_l + diesel_kg_per_l * carbon_price_per_kg
    per_kwh_diesel = (f1_l_per_kwh + f0_l_per_h_per_kw * nameplate_kw / rated_kw) * fuel_per_l if rated_kw else 0.0
    c = np.zeros(nv)
    lb, ub = np.zeros(nv), np.zeros(nv)
    for t in range(n):
        c[v(GIN, t)] = import_price[t] + carbon_price_per_kg * grid_kg_per_kwh[t]
        c[v(GOUT, t)] = -export_price[t]
        c[v(BOUT, t)] = DISCHARGE_PER_KWH
        c[v(DSL, t)] = per_kwh_diesel
        c[v(SHED, t)] = SHED_PER_KWH
        c[v(SHEDC, t)] = SHED_CRITICAL_PER_KWH
        ub[v(PV, t)] = pv_kw[t] * dt
        ub[v(GIN, t)] = import_kw * dt * up[t]
        ub[v(GOUT, t)] = export_kw * dt * up[t]
        ub[v(BIN, t)] = charge_kw * dt
        ub[v(BOUT, t)] = discharge_kw * dt
        ub[v(DSL, t)] = rated_kw * dt
        lb[v(SOC, t)], ub[v(SOC, t)] = e_min_kwh, e_max_kwh
        ub[v(SHED, t)] = load[t] - crit[t]
        ub[v(SHEDC, t)] = crit[t]
    for i, _t in enumerate(R):
        c[9 * n + i] = RESERVE_PER_KWH_H * dt
        ub[9 * n + i] = e_reserve_kwh - e_min_kwh
    a_eq = np.zeros((2 * n, nv))
    b_eq = np.zeros(2 * n)
    for t in range(n):
        for k, s in ((PV, 1), (GIN, 1), (DSL, 1), (BOUT, 1), (SHED, 1), (SHEDC, 1), (BIN, -1), (GOUT, -1)):
            a_eq[t, v(k, t)] = s
        b_eq[t] = load[t]
        a_eq[n + t, v(SOC, t)] = 1
        a_eq[n + t, v(BIN, t)] = -eta_c
        a_eq[n + t, v(BOUT, t)] = 1 / eta_d
        if t > 0:
            a_eq[n + t, v(SOC, t - 1)] = -a
            b_eq[n + t] = (1 - a) * e_min_kwh
        else:
            b_eq[n + t] = a * e_init_kwh + (1 - a) * e_min_kwh
    a_ub = np.zeros((len(R), nv))
    for i, t in enumerate(R):
        a_ub[i, v(SOC, t)] = -1
        a_ub[i, 9 * n + i] = -1
    res = linprog(c, A_ub=a_ub if R else None, b_ub=-np.full(len(R), e_reserve_kwh) if R else None, A_eq=a_eq,
                  b_eq=b_eq, bounds=list(zip(lb, ub, strict=True)), method="highs")  # fmt: skip
    assert res.status == 0, res.message
    return float(res.fun)
