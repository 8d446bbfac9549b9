"""Assemble the plant's LP/MILP (:mod:`islandgrid.optimize.model` states it) as arrays, and re-price a
built model for new data.

:func:`build_plant_model` is the one builder: the optimiser's year (:func:`build_model`) and the MPC's
window (:class:`islandgrid.mpc.window.WindowModel`) both call it. A model built with
``Formulation(fixed_structure=True)`` keeps every column and row whatever the data, so that
:func:`plant_data` can re-price it for the next window (bounds, costs, row bounds and the direct-use
coefficients) without assembling the matrix again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from islandgrid.optimize.model import (
    KINDS,
    Formulation,
    Horizon,
    InitialState,
    Model,
    Penalties,
    csc,
    fuel_cost_per_l,
    grid_cost_per_kwh,
    live_blocks,
    validate,
)
from islandgrid.strategy.base import DispatchProblem


@dataclass(frozen=True)
class PlantData:
    """The data of a model over one horizon, in its column and row layout.

    Attributes
    ----------
    cost, col_lower, col_upper : ndarray
        Per column.
    row_lower, row_upper : ndarray
        Per row.
    direct_coef : ndarray
        Coefficient of the block's ``on`` in each direct-use row (-min(load, rated x dt)).
    offset : float
        Objective constant [currency].
    """

    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    direct_coef: np.ndarray
    offset: float


@dataclass(frozen=True)
class _Data:
    """Per-kind column data and the data-dependent row values of one horizon."""

    spec: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]  # kind -> times, lo, hi, cost
    on_lo: np.ndarray
    on_hi: np.ndarray
    on_cost: np.ndarray
    start_cost: np.ndarray
    load: np.ndarray
    e0_rhs: float
    e_init: float
    res_lo: np.ndarray  # per res time
    on_init: float
    minrun_hi: np.ndarray  # per block: 0, or inf where the grid (import > 0) is back at the block's start
    minoff_hi: np.ndarray  # per block: 1, less the genset's initial state in the row that reaches it
    direct_coef: np.ndarray  # per interval
    offset: float
    decay: float
    spb: int


def _data(p: DispatchProblem, h: Horizon, state: InitialState, form: Formulation, pen: Penalties) -> _Data:
    b, g = p.battery, p.genset
    n, dt = h.n, p.dt_h
    milp = form.mode == "milp"
    t_all = np.arange(n)
    share = np.asarray(h.grid_available, dtype=float)  # grid-connected share of each interval
    up = share > 0.0
    load = np.asarray(h.load_kw, dtype=float) * dt
    crit = np.minimum(np.asarray(h.critical_kw, dtype=float) * dt, load)
    fuel_l = fuel_cost_per_l(p)
    spb = max(1, round(1.0 / dt))
    n_blocks = -(-n // spb)
    blk = t_all // spb
    on_lo = np.zeros(n_blocks)
    on_hi = live_blocks(p, h, spb).astype(float) if milp else np.zeros(n_blocks)
    # the rules' grid-return policy: once the grid (import > 0) is back at a block's start, the
    # minimum run time is over (the genset may stop)
    grid_back = grid_back_blocks(p, up, spb)
    if milp and g.rated_kw > 0 and state.genset_on and state.run_h < g.min_run_h - 1e-9 and not grid_back[0]:
        on_lo[0] = on_hi[0] = 1.0  # measured on inside its minimum run time: held on through the first block
    on_init = 1.0 if state.genset_on else 0.0
    minoff_hi = np.ones(n_blocks)
    m_off = min_off_blocks(p, spb)
    if 1 < m_off <= n_blocks:
        minoff_hi[m_off - 1] -= on_init  # on_{-1}: the initial state (earlier blocks count as off)
    e_cap = b.soc_max_kwh - b.soc_min_kwh
    has_bat = b.energy_kwh > 0 and e_cap > 0
    e_res = max(h.reserve_kwh - b.soc_min_kwh, 0.0) if (has_bat and pen.reserve_per_kwh_h > 0) else 0.0
    # reserve rows: every interval in a fixed structure, else the grid-up ones (if there is a reserve)
    res_t = t_all if form.fixed_structure else (np.flatnonzero(up) if e_res > 0 else np.zeros(0, dtype=np.int64))
    res_on = up[res_t] & (e_res > 0)
    res_hi = np.where(res_on, np.inf if form.soft_soc else e_res, 0.0)
    res_lo = np.where(res_on, e_res, -np.inf)
    gcost = grid_cost_per_kwh(p, h)
    noload_l_per_kwh = g.f0_l_per_h_per_kw * g.nameplate_kw / max(g.rated_kw, 1e-12)
    dsl_price = (g.f1_l_per_kwh + (0.0 if milp else noload_l_per_kwh)) * fuel_l
    dsl_ub = np.where(on_hi[blk] > 0, g.rated_kw * dt, 0.0) if milp else np.full(n, g.rated_kw * dt)
    e_init = state.soc_kwh - b.soc_min_kwh
    if not form.soft_soc:
        e_init = min(max(e_init, 0.0), e_cap) if has_bat else 0.0
    a = 1.0 - b.self_discharge_frac_per_h * dt
    e_lo = np.full(n, -b.soc_min_kwh if form.soft_soc else 0.0)
    e_hi = np.full(n, np.inf if form.soft_soc else e_cap)
    e_cost = np.zeros(n)
    offset = 0.0
    if form.e_end_kwh is not None:
        e_lo[-1] = e_hi[-1] = form.e_end_kwh
    elif form.end_soc == "initial":
        e_lo[-1] = max(e_lo[-1], e_init)
    elif form.end_soc == "terminal":
        terminal = float(gcost[up].min() if up.any() else gcost.min(initial=0.0)) * b.eta_discharge
        e_cost[-1] = -terminal
        offset = -terminal * b.soc_min_kwh  # the value of the stored energy, SoC min included
    zero = np.zeros(n)
    big = np.full(n, np.inf)
    spec = {
        "pv": (t_all, zero, np.asarray(h.pv_kw, dtype=float) * dt, zero),
        # the grid's limits times its connected share (a partly islanded interval: its connected part)
        "gin": (t_all, zero, p.grid.import_kw * dt * share, gcost),
        "gout": (t_all, zero, p.grid.export_kw * dt * share, -np.asarray(h.export_price, dtype=float)),
        "bin": (t_all, zero, np.full(n, b.charge_kw * dt), zero),
        "bout": (t_all, zero, np.full(n, b.discharge_kw * dt), np.full(n, pen.discharge_per_kwh)),
        "dsl": (t_all, zero, dsl_ub, np.full(n, dsl_price)),
        "e": (t_all, e_lo, e_hi, e_cost),
        "shed": (t_all, zero, load - crit, np.full(n, pen.shed_per_kwh)),
        "shedc": (t_all, zero, crit, np.full(n, pen.shed_critical_per_kwh)),
        "ures": (res_t, np.zeros(len(res_t)), res_hi, np.full(len(res_t), pen.reserve_per_kwh_h * dt)),
        "dump": (t_all, zero, dsl_ub if milp else zero, np.full(n, pen.dump_per_kwh)),
        "umin": (t_all, zero, big, np.full(n, pen.soc_bound_per_kwh)),
        "omax": (t_all, zero, big, np.full(n, pen.soc_bound_per_kwh)),
    }
    noload = g.f0_l_per_h_per_kw * g.nameplate_kw * fuel_l
    blk_h = np.bincount(blk, minlength=n_blocks) * dt
    return _Data(
        spec=spec,
        on_lo=on_lo,
        on_hi=on_hi,
        on_cost=noload * blk_h,
        start_cost=np.full(n_blocks, noload * pen.start_h_of_noload_fuel),
        load=load,
        e0_rhs=a * max(e_init, 0.0) + min(e_init, 0.0),  # no self-discharge below SoC min (the rules' floor)
        e_init=e_init,
        res_lo=res_lo,
        on_init=on_init,
        minrun_hi=np.where(grid_back, np.inf, 0.0),
        minoff_hi=minoff_hi,
        direct_coef=-np.minimum(load, g.rated_kw * dt),
        offset=offset,
        decay=a,
        spb=spb,
    )


def min_off_blocks(problem: DispatchProblem, spb: int) -> int:
    """The genset's minimum off time in whole blocks of ``spb`` intervals (1: no constraint)."""
    return max(1, int(np.ceil(problem.genset.min_off_h / (spb * problem.dt_h) - 1e-9)))


def min_run_blocks(problem: DispatchProblem, spb: int) -> int:
    """The genset's minimum run time in whole blocks of ``spb`` intervals (1: no constraint)."""
    return max(1, int(np.ceil(problem.genset.min_run_h / (spb * problem.dt_h) - 1e-9)))


def grid_back_blocks(problem: DispatchProblem, grid_available: np.ndarray, spb: int) -> np.ndarray:
    """Per block of ``spb`` intervals: whether the grid (import > 0) is up at the block's start, which
    ends the genset's minimum run time (the rules' grid-return policy)."""
    up = np.asarray(grid_available, dtype=bool)
    return up[np.arange(0, len(up), spb)] & (problem.grid.import_kw > 0)


def commit_schedule(
    on: np.ndarray,
    free: np.ndarray,
    m_run: int,
    m_off: int,
    grid_back: np.ndarray,
    on_before: bool = False,
) -> np.ndarray:
    """A block schedule from ``on`` that keeps the minimum run and off times: each run started in
    the schedule is extended to ``m_run`` blocks (up to the last block of them the grid is not back
    in: the grid-return policy), runs are cut to the ``free`` blocks, and gaps shorter than ``m_off``
    blocks are bridged (:func:`bridge_min_off`).

    Parameters
    ----------
    on : ndarray of bool or {0, 1}
        The schedule, per block.
    free : ndarray of bool
        Blocks where the genset may run.
    m_run, m_off : int
        Minimum run and off time [blocks].
    grid_back : ndarray of bool
        Blocks the grid is back at the start of (:func:`grid_back_blocks`).
    on_before : bool
        Whether the genset runs in the block before the first (a run going on is not extended).

    Returns
    -------
    ndarray of bool
    """
    on = np.asarray(on, dtype=bool).copy()
    for s in np.flatnonzero(on & ~np.r_[on_before, on[:-1]]):
        held = np.flatnonzero(~grid_back[s : s + m_run])
        on[s : s + (int(held[-1]) + 1 if len(held) else 1)] = True
    return bridge_min_off(on & free, free, m_off, on_before)


def bridge_min_off(on: np.ndarray, free: np.ndarray, m_off: int, on_before: bool = False) -> np.ndarray:
    """A block schedule that keeps the minimum off time: a gap shorter than ``m_off`` blocks is
    bridged (kept on) where its blocks are ``free``, else the run after it is dropped.

    Parameters
    ----------
    on : ndarray of bool or {0, 1}
        The schedule, per block.
    free : ndarray of bool
        Blocks where the genset may run.
    m_off : int
        Minimum off time [blocks].
    on_before : bool
        Whether the genset runs in the block before the first.

    Returns
    -------
    ndarray of bool
    """
    on = np.asarray(on, dtype=bool).copy()
    nb = len(on)
    b = 0
    last_on = -1 if on_before else -(10**9)
    while b < nb:
        if on[b] and not (b > 0 and on[b - 1]) and 0 < b - last_on - 1 < m_off:
            if free[max(last_on + 1, 0) : b].all():
                on[max(last_on + 1, 0) : b] = True
            else:
                while b < nb and on[b]:
                    on[b] = False
                    b += 1
                continue
        if on[b]:
            last_on = b
        b += 1
    return on


def _present(p: DispatchProblem, d: _Data, form: Formulation) -> list[str]:
    """The kinds that get columns."""
    b = p.battery
    drop = set() if form.soft_soc else {"umin", "omax"}
    if form.fixed_structure:
        return [k for k in KINDS if k not in drop]
    if not (b.energy_kwh > 0 and b.soc_max_kwh > b.soc_min_kwh):
        drop |= {"bin", "bout", "e", "ures", "umin", "omax"}
    for kind, (times, _lo, hi, _c) in d.spec.items():
        if kind != "e" and (len(times) == 0 or not (hi > 0).any()):
            drop.add(kind)
    return [k for k in KINDS if k not in drop]


def _set_data_rows(row_lo: np.ndarray, row_hi: np.ndarray, rows: dict[str, tuple[int, np.ndarray]], d: _Data) -> None:
    """Write the data-dependent row bounds of ``d`` into ``row_lo`` / ``row_hi``."""
    r0, times = rows["bal"]
    row_lo[r0 : r0 + len(times)] = row_hi[r0 : r0 + len(times)] = d.load
    if "soc" in rows:
        r0, _ = rows["soc"]
        row_lo[r0] = row_hi[r0] = d.e0_rhs
    if "res" in rows:
        r0, times = rows["res"]
        row_lo[r0 : r0 + len(times)] = d.res_lo
    if "start" in rows:
        row_lo[rows["start"][0]] = -d.on_init
    for name, hi in (("minrun", d.minrun_hi), ("minoff", d.minoff_hi)):
        if name in rows:
            r0, times = rows[name]
            row_hi[r0 : r0 + len(times)] = hi


def build_plant_model(
    problem: DispatchProblem,
    horizon: Horizon,
    state: InitialState,
    form: Formulation,
    penalties: Penalties,
) -> Model:
    """Assemble the plant's model over ``horizon`` from ``state`` (no per-variable Python loops).

    Parameters
    ----------
    problem : DispatchProblem
        Component parameters, step length and carbon price (its series are not read).
    horizon : Horizon
        The series of the horizon.
    state : InitialState
        Stored energy, genset on/off and run time at the start.
    form : Formulation
        LP or MILP, end rule, soft or hard SoC bounds, fixed or data-dependent structure.
    penalties : Penalties
        Slack prices.

    Returns
    -------
    Model
    """
    p, b, g = problem, problem.battery, problem.genset
    d = _data(p, horizon, state, form, penalties)
    n, dt, spb = horizon.n, p.dt_h, d.spb
    t_all = np.arange(n)
    n_blocks = len(d.on_hi)
    blk = t_all // spb
    present = _present(p, d, form)
    cols: dict[str, tuple[int, np.ndarray]] = {}
    c0 = 0
    cost_parts, lo_parts, hi_parts = [], [], []
    for kind in present:
        times, lo, hi, c = d.spec[kind]
        cols[kind] = (c0, times)
        c0 += len(times)
        cost_parts.append(c)
        lo_parts.append(lo)
        hi_parts.append(hi)
    milp_cols = form.mode == "milp" and (form.fixed_structure or (g.rated_kw > 0 and d.on_hi.any()))
    if milp_cols:
        blocks = np.arange(n_blocks)
        cols["on"] = (c0, blocks)
        cols["start"] = (c0 + n_blocks, blocks)
        c0 += 2 * n_blocks
        cost_parts += [d.on_cost, d.start_cost]
        lo_parts += [d.on_lo, np.zeros(n_blocks)]
        hi_parts += [d.on_hi, d.on_hi.copy()]

    # -- rows, as COO triplets per block --------------------------------------------------
    rr: list[np.ndarray] = []
    cc: list[np.ndarray] = []
    vv: list[np.ndarray] = []
    rlo: list[np.ndarray] = []
    rhi: list[np.ndarray] = []
    rows_map: dict[str, tuple[int, np.ndarray]] = {}
    r0 = 0

    def put(rows: np.ndarray, kind: str, times: np.ndarray, v: float | np.ndarray) -> None:
        """Entries (rows, column of ``kind`` at ``times``); times must be columns of the kind."""
        if kind not in cols:
            return
        k0, ktimes = cols[kind]
        cidx = k0 + times if len(ktimes) == n else k0 + np.searchsorted(ktimes, times)
        rr.append(rows)
        cc.append(cidx)
        vv.append(np.broadcast_to(np.asarray(v, dtype=float), rows.shape))

    def block(name: str, times: np.ndarray, lo: float | np.ndarray, hi: float) -> np.ndarray:
        """Open a block of rows, one per entry of ``times``; return its row numbers."""
        nonlocal r0
        rows_map[name] = (r0, times)
        rows = r0 + np.arange(len(times))
        rlo.append(np.broadcast_to(np.asarray(lo, dtype=float), times.shape).copy())
        rhi.append(np.full(len(times), hi))
        r0 += len(times)
        return rows

    rows = block("bal", t_all, 0.0, 0.0)
    for kind, v in (("pv", 1.0), ("gin", 1.0), ("dsl", 1.0), ("bout", 1.0), ("shed", 1.0), ("shedc", 1.0),
                    ("bin", -1.0), ("gout", -1.0), ("dump", -1.0)):  # fmt: skip
        put(rows, kind, t_all, v)
    if "e" in cols:
        rows = block("soc", t_all, 0.0, 0.0)
        put(rows, "e", t_all, 1.0)
        put(rows[1:], "e", t_all[:-1], -d.decay)
        put(rows, "bin", t_all, -b.eta_charge)
        put(rows, "bout", t_all, 1.0 / b.eta_discharge)
    if "ures" in cols:
        res_t = cols["ures"][1]
        rows = block("res", res_t, 0.0, np.inf)
        put(rows, "e", res_t, 1.0)
        put(rows, "ures", res_t, 1.0)
    if "umin" in cols:
        # the plan's floor, raised by the most the rules' self-discharge can exceed the model's by then
        margin = (1.0 - d.decay ** (t_all + 1.0)) * b.soc_min_kwh if form.selfdis_margin else 0.0
        rows = block("umin", t_all, margin, np.inf)
        put(rows, "e", t_all, 1.0)
        put(rows, "umin", t_all, 1.0)
        rows = block("omax", t_all, -np.inf, b.soc_max_kwh - b.soc_min_kwh)
        put(rows, "e", t_all, 1.0)
        put(rows, "omax", t_all, -1.0)
    if "on" in cols:
        on0, st0 = cols["on"][0], cols["start"][0]
        lt = t_all if form.fixed_structure else t_all[d.on_hi[blk] > 0]
        gmin = min(g.min_load_kw, g.rated_kw) * dt
        genset_rows = [("gmax", -np.inf, 0.0, np.full(len(lt), -g.rated_kw * dt)),
                       ("gmin", 0.0, np.inf, np.full(len(lt), -gmin))]  # fmt: skip
        if form.direct_use_cut:
            genset_rows.append(("direct", -np.inf, 0.0, d.direct_coef[lt]))
        for name, r_lo, r_hi, coef in genset_rows:
            rows = block(name, lt, r_lo, r_hi)
            put(rows, "dsl", lt, 1.0)
            if name == "direct":
                for kind in ("bin", "gout", "dump"):
                    put(rows, kind, lt, -1.0)
            rr.append(rows)
            cc.append(on0 + blk[lt])
            vv.append(coef)
        bb = np.arange(n_blocks)
        rows = block("start", bb, 0.0, np.inf)
        rr += [rows, rows, rows[1:]]
        cc += [st0 + bb, on0 + bb, on0 + bb[:-1]]
        vv += [np.ones(n_blocks), -np.ones(n_blocks), np.ones(n_blocks - 1)]
        m = min_run_blocks(p, spb)
        if m > 1:
            rows = block("minrun", bb, -np.inf, 0.0)
            for j in range(m):
                rr.append(rows[j:])
                cc.append(st0 + bb[: n_blocks - j])
                vv.append(np.ones(n_blocks - j))
            rr.append(rows)
            cc.append(on0 + bb)
            vv.append(-np.ones(n_blocks))
        m_off = min_off_blocks(p, spb)
        if m_off > 1:
            # minimum off time: on_{b-m} + the starts of the last m blocks <= 1 (a stop and a restart
            # within m blocks would need both); on_{-1} is the initial state, earlier blocks are off
            rows = block("minoff", bb, -np.inf, 1.0)
            for j in range(min(m_off, n_blocks)):
                rr.append(rows[j:])
                cc.append(st0 + bb[: n_blocks - j])
                vv.append(np.ones(n_blocks - j))
            if m_off < n_blocks:
                rr.append(rows[m_off:])
                cc.append(on0 + bb[: n_blocks - m_off])
                vv.append(np.ones(n_blocks - m_off))
    row_lo, row_hi = np.concatenate(rlo), np.concatenate(rhi)
    _set_data_rows(row_lo, row_hi, rows_map, d)
    cost = np.concatenate(cost_parts)
    start, index, value = csc(np.concatenate(rr), np.concatenate(cc), np.concatenate(vv), len(cost))
    integrality = None
    if "on" in cols:
        integrality = np.zeros(len(cost), dtype=np.int32)
        integrality[cols["on"][0] : cols["on"][0] + n_blocks] = 1
    return Model(
        problem=p,
        horizon=horizon,
        form=form,
        penalties=penalties,
        cost=cost,
        col_lower=np.concatenate(lo_parts).astype(float),
        col_upper=np.concatenate(hi_parts).astype(float),
        row_lower=row_lo,
        row_upper=row_hi,
        start=start,
        index=index,
        value=value,
        integrality=integrality,
        offset=d.offset,
        cols=cols,
        rows=rows_map,
        e_init_kwh=d.e_init,
        decay=d.decay,
        spb=spb,
        r_soc=rows_map["soc"][0] if "soc" in rows_map else 0,
    )


def plant_data(model: Model, horizon: Horizon, state: InitialState) -> PlantData:
    """The data of ``model`` (built with ``fixed_structure``) for a new horizon and initial state.

    The matrix is unchanged except the direct-use coefficients (returned per interval).
    """
    if not model.form.fixed_structure:
        raise ValueError("plant_data re-prices only a model built with Formulation(fixed_structure=True)")
    if horizon.n != model.n_t:
        raise ValueError(f"the horizon has {horizon.n} intervals, the model {model.n_t}")
    d = _data(model.problem, horizon, state, model.form, model.penalties)
    cost, lo, hi = np.empty(model.n_cols), np.empty(model.n_cols), np.empty(model.n_cols)
    for kind, (c0, times) in model.cols.items():
        sl = slice(c0, c0 + len(times))
        if kind == "on":
            cost[sl], lo[sl], hi[sl] = d.on_cost, d.on_lo, d.on_hi
        elif kind == "start":
            cost[sl], lo[sl], hi[sl] = d.start_cost, 0.0, d.on_hi
        else:
            _t, lo[sl], hi[sl], cost[sl] = d.spec[kind]
    row_lo, row_hi = model.row_lower.copy(), model.row_upper.copy()
    _set_data_rows(row_lo, row_hi, model.rows, d)
    return PlantData(cost, lo, hi, row_lo, row_hi, d.direct_coef, d.offset)


def build_model(
    problem: DispatchProblem,
    mode: str = "lp",
    end_soc: str = "free",
    penalties: Penalties | None = None,
    *,
    e_end_kwh: float | None = None,
) -> Model:
    """The perfect-foresight model of the whole of ``problem``, from its initial SoC with the genset off.

    Parameters
    ----------
    problem : DispatchProblem
        The period to optimise.
    mode : {'lp', 'milp'}
        Linear genset (LP) or hourly commitment with minimum load, minimum run time and start cost.
    end_soc : {'free', 'initial'}
        End-of-period SoC rule.
    penalties : Penalties, optional
        Slack prices.
    e_end_kwh : float, optional
        Fix the stored energy above SoC min at the end of the last interval [kWh] (used by the
        time decomposition; overrides ``end_soc``).

    Returns
    -------
    Model
    """
    validate(problem, mode, end_soc)
    return build_plant_model(
        problem,
        Horizon.of(problem),
        InitialState(problem.battery.soc_init_kwh),
        Formulation(mode=mode, end_soc=end_soc, e_end_kwh=e_end_kwh),
        penalties or Penalties(),
    )
