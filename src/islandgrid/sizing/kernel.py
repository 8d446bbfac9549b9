"""The sizing inner loop: a full simulated year per design, in parallel, reduced to KPIs.

Each design runs the engine's own compiled rules (:func:`islandgrid.strategy.rules.run_rules`,
the same code ``islandgrid.simulate`` runs) and the carbon-flow pool
(:func:`islandgrid.carbon.flow.pool_kernel`) for ``pv_share``, then sums its year into one row of
:data:`KPI_COLUMNS`. Designs are split into one chunk per thread; each chunk reuses its own
scratch arrays, so the loop allocates nothing per design beyond the pool's small mix vector.

PV is linear in kWp (PVWatts DC and inverter scale with the nameplate), so one 1-kWp series
serves every design.
"""

from __future__ import annotations

import numba
import numpy as np

from islandgrid.carbon.flow import CARBON_COLUMNS, pool_kernel
from islandgrid.strategy.base import FLOW_COLUMNS
from islandgrid.strategy.rules import (
    C_BAT_IN,
    C_BAT_OUT,
    C_DIESEL,
    C_DUMP,
    C_FUEL,
    C_GEN_ON,
    C_GRID_IN,
    C_GRID_OUT,
    C_LOAD,
    C_PV_AVAIL,
    C_PV_CURT,
    C_PV_USED,
    C_SELFDIS,
    C_SERVED,
    C_UNSERVED,
    C_UNSERVED_CRIT,
    run_rules,
)

#: Per-design parameter columns, in the order :func:`islandgrid.strategy.rules.run_rules` takes them.
PARAM_COLUMNS: tuple[str, ...] = (
    "code",
    "pv_kwp",
    "e_min_kwh",
    "e_max_kwh",
    "e_init_kwh",
    "e_reserve_kwh",
    "p_ch_kw",
    "p_dis_kw",
    "eta_c",
    "eta_d",
    "sd_per_h",
    "gen_rated_kw",
    "gen_min_kw",
    "gen_f0_l_per_h",
    "gen_f1_l_per_kwh",
    "gen_min_run_h",
    "gen_delay_h",
    "import_kw",
    "export_kw",
    "cc_setpoint_kwh",
    "gen_min_off_h",
    "cc_band_kwh",
)

#: Annual sums per design (names as in :func:`islandgrid.simulate.kpis.compute_kpis`).
KPI_COLUMNS: tuple[str, ...] = (
    "load_kwh",
    "served_kwh",
    "unserved_kwh",
    "unserved_critical_kwh",
    "pv_available_kwh",
    "pv_used_kwh",
    "pv_curtailed_kwh",
    "pv_to_load_kwh",
    "grid_import_kwh",
    "grid_export_kwh",
    "diesel_kwh",
    "diesel_hours",
    "diesel_starts",
    "fuel_l",
    "dump_kwh",
    "bat_out_kwh",
    "grid_cost",
    "export_revenue",
    "co2_scope1_kg",
    "co2_scope2_location_kg",
    "loss_of_load_hours",
)
_NK = len(KPI_COLUMNS)
_NF = len(FLOW_COLUMNS)
_NC = len(CARBON_COLUMNS)
_PV_FRAC = CARBON_COLUMNS.index("load_pv_frac")


@numba.njit(cache=True)
def _one_design(
    p: np.ndarray,
    dt_h: float,
    pv1: np.ndarray,
    load: np.ndarray,
    crit: np.ndarray,
    up: np.ndarray,
    up_start: np.ndarray,
    price_imp: np.ndarray,
    price_exp: np.ndarray,
    grid_co2_factor: np.ndarray,
    co2_per_l: float,
    pv: np.ndarray,
    out: np.ndarray,
    carbon: np.ndarray,
    gco2: np.ndarray,
    dco2: np.ndarray,
    kpi: np.ndarray,
) -> None:  # pragma: no cover - compiled
    n = pv1.shape[0]
    kwp = p[1]
    for t in range(n):
        pv[t] = pv1[t] * kwp
    run_rules(
        int(p[0]), dt_h, pv, load, crit, up, up_start,
        p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10],
        p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21],
        out,
    )  # fmt: skip
    year_kpis(p, dt_h, out, price_imp, price_exp, grid_co2_factor, co2_per_l, carbon, gco2, dco2, kpi)


@numba.njit(cache=True)
def year_kpis(
    p: np.ndarray,
    dt_h: float,
    out: np.ndarray,
    price_imp: np.ndarray,
    price_exp: np.ndarray,
    grid_co2_factor: np.ndarray,
    co2_per_l: float,
    carbon: np.ndarray,
    gco2: np.ndarray,
    dco2: np.ndarray,
    kpi: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """A dispatched year (``out``, the rules' flow columns) to its annual sums :data:`KPI_COLUMNS` in ``kpi``.

    Runs the carbon-flow pool for ``pv_to_load_kwh`` (from the battery's opening charge counted as fossil
    grid energy, as every chain counts it: :meth:`islandgrid.carbon.flow.CarbonState.opening`); ``carbon``,
    ``gco2`` and ``dco2`` are scratch
    arrays of the year's length.
    """
    n = out.shape[0]
    for t in range(n):
        gco2[t] = out[t, C_GRID_IN] * grid_co2_factor[t]
        dco2[t] = out[t, C_FUEL] * co2_per_l
    pool_kernel(
        out[:, C_PV_USED], out[:, C_GRID_IN], out[:, C_DIESEL], out[:, C_BAT_OUT], out[:, C_BAT_IN],
        out[:, C_SELFDIS], gco2, dco2, out[:, C_SERVED], out[:, C_GRID_OUT], out[:, C_DUMP],
        p[4], p[8], p[9], carbon,
    )  # fmt: skip
    for k in range(_NK):
        kpi[k] = 0.0
    was_on = False
    for t in range(n):
        o = out[t]
        kpi[0] += o[C_LOAD]
        kpi[1] += o[C_SERVED]
        kpi[2] += o[C_UNSERVED]
        kpi[3] += o[C_UNSERVED_CRIT]
        kpi[4] += o[C_PV_AVAIL]
        kpi[5] += o[C_PV_USED]
        kpi[6] += o[C_PV_CURT]
        kpi[7] += o[C_SERVED] * carbon[t, _PV_FRAC]
        kpi[8] += o[C_GRID_IN]
        kpi[9] += o[C_GRID_OUT]
        kpi[10] += o[C_DIESEL]
        kpi[11] += o[C_GEN_ON] * dt_h
        on = o[C_GEN_ON] > 0.0
        if on and not was_on:
            kpi[12] += 1.0
        was_on = on
        kpi[13] += o[C_FUEL]
        kpi[14] += o[C_DUMP]
        kpi[15] += o[C_BAT_OUT]
        kpi[16] += o[C_GRID_IN] * price_imp[t]
        kpi[17] += o[C_GRID_OUT] * price_exp[t]
        kpi[18] += dco2[t]
        kpi[19] += gco2[t]
        if o[C_UNSERVED] > 1e-6:
            kpi[20] += dt_h


@numba.njit(parallel=True, cache=True)
def evaluate_designs(
    params: np.ndarray,
    dt_h: float,
    pv1: np.ndarray,
    load: np.ndarray,
    crit: np.ndarray,
    up: np.ndarray,
    up_start: np.ndarray,
    price_imp: np.ndarray,
    price_exp: np.ndarray,
    grid_co2_factor: np.ndarray,
    co2_per_l: float,
    n_chunks: int,
    kpis: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Simulate every design (row of ``params``, columns :data:`PARAM_COLUMNS`) into ``kpis``.

    Parameters
    ----------
    params : ndarray, shape (m, 20)
        Design parameters, absolute units [kWh, kW, L/h, h].
    dt_h : float
        Step length [h].
    pv1 : ndarray
        PV AC output of 1 kWp [kW].
    load, crit : ndarray
        Demand and its critical part [kW].
    up : ndarray of float
        Grid-connected share of each interval [-].
    up_start : ndarray of bool
        Whether the grid is up at each interval's start (the order of a partly islanded interval's parts).
    price_imp, price_exp : ndarray
        Tariffs [currency/kWh].
    grid_co2_factor : ndarray
        Grid factor [kg/kWh].
    co2_per_l : float
        Diesel emission factor [kg/L].
    n_chunks : int
        Work split: one chunk per thread (``numba.get_num_threads()``).
    kpis : ndarray, shape (m, len(KPI_COLUMNS))
        Output: the annual sums of each design.
    """
    m = params.shape[0]
    n = pv1.shape[0]
    n_chunks = max(min(n_chunks, m), 1)
    for c in numba.prange(n_chunks):
        pv = np.empty(n)
        out = np.empty((n, _NF))
        carbon = np.empty((n, _NC))
        gco2 = np.empty(n)
        dco2 = np.empty(n)
        for d in range(c, m, n_chunks):
            _one_design(
                params[d], dt_h, pv1, load, crit, up, up_start, price_imp, price_exp, grid_co2_factor, co2_per_l,
                pv, out, carbon, gco2, dco2, kpis[d],
            )  # fmt: skip
