"""Scenario years in one compiled loop: expand each scenario's draws into its input year, run every design.

The plant physics are the engine's own: each design runs :func:`islandgrid.strategy.rules.run_rules`
and is reduced to its annual sums by :func:`islandgrid.sizing.kernel.year_kpis` (the sizing kernel's
carbon pool and sums, from the opening charge counted as fossil grid energy). A scenario's inputs are
built once and serve every design.

Grid availability follows :func:`islandgrid.inputs.grid.grid_fraction`: each interval's connected
share from the outage minutes, and whether the grid is up at its start (a partly islanded interval
runs as two parts, :func:`islandgrid.components.physics.grid_parts`). A genset that failed to start
at an outage is unavailable for that whole outage (REopt's convention for fail-to-start): the year is
run in pieces, the pieces inside such an outage with no genset, each piece starting from the state of
charge the previous one ended with.
"""

from __future__ import annotations

import numba
import numpy as np

from islandgrid.carbon.flow import CARBON_COLUMNS
from islandgrid.sizing.kernel import KPI_COLUMNS, year_kpis
from islandgrid.strategy.base import FLOW_COLUMNS
from islandgrid.strategy.rules import C_SOC, run_rules

_NF = len(FLOW_COLUMNS)
_NC = len(CARBON_COLUMNS)
_NK = len(KPI_COLUMNS)


@numba.njit(cache=True, nogil=True)
def build_year(
    s: int,
    step_min: int,
    pv1_base: np.ndarray,
    pue_base: np.ndarray,
    it_base: np.ndarray,
    it_cap: float,
    crit_frac: float,
    grid_ok: bool,
    day_of: np.ndarray,
    step_in_day: np.ndarray,
    day_start: np.ndarray,
    day_len: np.ndarray,
    weather_id: np.ndarray,
    day_src: np.ndarray,
    yield_f: np.ndarray,
    util_f: np.ndarray,
    pue_off: np.ndarray,
    win_off: np.ndarray,
    win_start: np.ndarray,
    win_end: np.ndarray,
    win_failed: np.ndarray,
    pv1: np.ndarray,
    load: np.ndarray,
    crit: np.ndarray,
    up: np.ndarray,
    up_start: np.ndarray,
    gen_ok: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Scenario ``s``'s input year into ``pv1`` [kW/kWp], ``load``, ``crit`` [kW], ``up`` (the grid-connected
    share [-]), ``up_start`` (up at the interval start), ``gen_ok``."""
    n = pv1.shape[0]
    w = weather_id[s]
    yf = yield_f[s]
    uf = util_f[s]
    po = pue_off[s]
    for t in range(n):
        d = day_src[s, day_of[t]]
        src = day_start[d] + min(step_in_day[t], day_len[d] - 1)
        pv1[t] = pv1_base[w, src] * yf
        it = min(it_base[t] * uf, it_cap)
        load[t] = it * max(pue_base[w, src] + po, 1.0)
        crit[t] = load[t] * crit_frac
        up[t] = 1.0 if grid_ok else 0.0
        up_start[t] = grid_ok
        gen_ok[t] = True
    for j in range(win_off[s], win_off[s + 1]):
        a = win_start[j] // step_min
        b = min((win_end[j] + step_min - 1) // step_min, n)
        for t in range(a, b):
            t0 = t * step_min
            down_min = min(win_end[j], t0 + step_min) - max(win_start[j], t0)
            up[t] = max(up[t] - down_min / step_min, 0.0)
            if win_start[j] <= t0 < win_end[j]:
                up_start[t] = False
            if win_failed[j]:
                gen_ok[t] = False


@numba.njit(cache=True, nogil=True)
def dispatch_pieces(
    p: np.ndarray,
    dt_h: float,
    pv: np.ndarray,
    load: np.ndarray,
    crit: np.ndarray,
    up: np.ndarray,
    up_start: np.ndarray,
    gen_ok: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Run the rules over the year, without the genset where ``gen_ok`` is False."""
    n = pv.shape[0]
    a = 0
    e_init = p[4]
    while a < n:
        b = a + 1
        while b < n and gen_ok[b] == gen_ok[a]:
            b += 1
        rated = p[11] if gen_ok[a] else 0.0
        run_rules(
            int(p[0]), dt_h, pv[a:b], load[a:b], crit[a:b], up[a:b], up_start[a:b],
            p[2], p[3], e_init, p[5], p[6], p[7], p[8], p[9], p[10],
            rated, p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21],
            out[a:b],
        )  # fmt: skip
        e_init = out[b - 1, C_SOC]
        a = b


@numba.njit(cache=True, nogil=True)
def scenario_kpis(
    params: np.ndarray,
    dt_h: float,
    step_min: int,
    pv1_base: np.ndarray,
    pue_base: np.ndarray,
    it_base: np.ndarray,
    it_cap: float,
    crit_frac: float,
    grid_ok: bool,
    day_of: np.ndarray,
    step_in_day: np.ndarray,
    day_start: np.ndarray,
    day_len: np.ndarray,
    price_imp: np.ndarray,
    price_exp: np.ndarray,
    grid_co2: np.ndarray,
    co2_per_l: float,
    weather_id: np.ndarray,
    day_src: np.ndarray,
    yield_f: np.ndarray,
    util_f: np.ndarray,
    pue_off: np.ndarray,
    win_off: np.ndarray,
    win_start: np.ndarray,
    win_end: np.ndarray,
    win_failed: np.ndarray,
    active: np.ndarray,
    kpis: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Every active design (rows of ``params``, :data:`islandgrid.sizing.kernel.PARAM_COLUMNS`) in every scenario.

    Parameters
    ----------
    active : ndarray of bool, shape (m,)
        Designs to run; the rows of the others are left as they are.
    kpis : ndarray, shape (m, S, len(KPI_COLUMNS))
        Output: annual sums per design and scenario.
    """
    n = it_base.shape[0]
    m = params.shape[0]
    pv1 = np.empty(n)
    pv = np.empty(n)
    load = np.empty(n)
    crit = np.empty(n)
    up = np.empty(n)
    up_start = np.empty(n, dtype=np.bool_)
    gen_ok = np.empty(n, dtype=np.bool_)
    out = np.empty((n, _NF))
    carbon = np.empty((n, _NC))
    gco2 = np.empty(n)
    dco2 = np.empty(n)
    for s in range(weather_id.shape[0]):
        build_year(
            s, step_min, pv1_base, pue_base, it_base, it_cap, crit_frac, grid_ok, day_of, step_in_day, day_start,
            day_len, weather_id, day_src, yield_f, util_f, pue_off, win_off, win_start, win_end, win_failed,
            pv1, load, crit, up, up_start, gen_ok,
        )  # fmt: skip
        for d in range(m):
            if not active[d]:
                continue
            p = params[d]
            for t in range(n):
                pv[t] = pv1[t] * p[1]
            dispatch_pieces(p, dt_h, pv, load, crit, up, up_start, gen_ok, out)
            year_kpis(p, dt_h, out, price_imp, price_exp, grid_co2, co2_per_l, carbon, gco2, dco2, kpis[d, s])
