"""The perfect-foresight dispatch model: one LP (or MILP) over the whole period, built with numpy.

Variables, per interval t [kWh in the interval]:

=========  ==============================================  =====================================
pv         PV into the bus (pv_used)                        0 .. pv_available (curtailment free)
gin, gout  grid import / export                             0 .. limit x dt, 0 while the grid is down
bin, bout  battery charge / discharge (AC side)             0 .. power limit x dt
dsl        genset output                                    0 .. rated x dt
e          stored energy above SoC min, end of interval     0 .. soc_max - soc_min
shed       non-critical unserved load                       0 .. load - critical
shedc      critical unserved load                           0 .. critical
ures       stored energy missing below the islanding        0 .. reserve - soc_min, only while the
           reserve (grid-tied only)                         grid is up
dump       genset minimum-load surplus (MILP only)          0 .. rated x dt
=========  ==============================================  =====================================

and, MILP only, per genset block (an hour, or the interval if longer) ``on`` (binary) and
``start`` (>= 0).

Rows:

- bus, every t:  pv + gin + dsl + bout + shed + shedc - bin - gout - dump = load
- battery, every t:  e_t - a e_{t-1} - eta_c bin_t + bout_t / eta_d = (a e_init at t = 0), with
  a = 1 - self_discharge x dt. Self-discharge acts on the energy ABOVE SoC min (the BMS holds
  the cells at SoC min, as in the rule engine), which is why the state variable is shifted.
- reserve, grid-up t:  e_t + ures_t >= reserve - soc_min  (a soft floor while grid-tied, priced
  by ``Penalties.reserve_per_kwh_h``; when islanded the reserve is there to be used, as in the
  rules)
- MILP:  min x dt x on <= dsl <= rated x dt x on;  start_b >= on_b - on_{b-1} (off before the
  period);  sum of the last ceil(min_run_h) starts <= on_b (not in a block the grid, import > 0,
  starts up: the rules' grid-return policy);  on_{b-m} + sum of the last m starts
  <= 1 with m = ceil(min_off_h) blocks (minimum off time). Binaries are free only in blocks
  where commitment can matter (:func:`live_blocks`: grid down or short, and their neighbours)
  and fixed off elsewhere. That restriction can only raise the MILP's cost; the reported gap to
  the unrestricted LP bound covers it, so the gap is an honest bound on the distance from the
  true MILP optimum. The genset's start delay is not modelled (a perfect-foresight plan starts
  it in time; the battery bridges the seconds).

Objective [currency]: grid import at tariff + carbon price x grid factor, minus export at the
export price, fuel at (fuel price + carbon price x kg CO2/L) per litre, unserved energy (critical
much higher), reserve shortfall, a tie-break on discharge, and in the MILP a start cost and the
dump penalty. Curtailment is free.

Fuel. MILP: HOMER's curve exactly, F0 x nameplate x dt per running block-interval plus F1 per
kWh. LP: the genset has no commitment; running at ``dsl`` for an interval is read as running at
rated power for the fraction dsl / (rated x dt) of it (the rule engine's run fraction), so the
fuel is F1 x dsl + F0 x nameplate x dsl / rated: one linear price per kWh. This LP is the LP
relaxation of the MILP without its start costs, hence a valid lower bound on it.

End of period: ``end_soc='free'`` (default; the battery may end anywhere, the same freedom the
rules have, so the optimum bounds every rule) or ``'initial'`` (end at least where it started:
no energy is borrowed from the battery over the period). Every run starts at ``soc_init`` as the
rules do; a PyPSA-style cyclic state (start free, end = start) is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from islandgrid.errors import InputError
from islandgrid.strategy.base import DispatchProblem

#: Per-interval column kinds, in column order.
KINDS: tuple[str, ...] = ("pv", "gin", "gout", "bin", "bout", "dsl", "e", "shed", "shedc", "ures", "dump")
MODES: tuple[str, ...] = ("lp", "milp")
END_SOC: tuple[str, ...] = ("free", "initial")


@dataclass(frozen=True)
class Penalties:
    """Penalty prices of the optimiser [currency per kWh unless noted].

    The defaults match the MPC window model's (:class:`islandgrid.mpc.window.Penalties`) so that
    the regret table compares like with like.

    Attributes
    ----------
    shed_per_kwh, shed_critical_per_kwh : float
        Value of lost load, non-critical and critical [currency/kWh].
    reserve_per_kwh_h : float
        Stored energy below the islanding reserve while grid-tied [currency/(kWh h)]: far above any
        tariff, so the reserve is kept whenever it can be. 0 drops the reserve: perfect foresight
        knows every outage, so this gives the bound also for strategies that ignore the reserve
        (HOMER's load following and cycle charging).
    discharge_per_kwh : float
        Tie-break on battery discharge (no pointless simultaneous charge and discharge).
    dump_per_kwh : float
        Genset minimum-load surplus thrown away (MILP).
    start_h_of_noload_fuel : float
        Start cost as hours of no-load fuel [h] (MILP).
    """

    shed_per_kwh: float = 20.0
    shed_critical_per_kwh: float = 100.0
    reserve_per_kwh_h: float = 5.0
    discharge_per_kwh: float = 1e-4
    dump_per_kwh: float = 0.01
    start_h_of_noload_fuel: float = 0.25


@dataclass
class Model:
    """An assembled LP/MILP in HiGHS's column-wise form plus the map back to the flows.

    Attributes
    ----------
    cost, col_lower, col_upper : ndarray
        Per column.
    row_lower, row_upper : ndarray
        Per row.
    start, index, value : ndarray
        The constraint matrix, compressed sparse column.
    integrality : ndarray or None
        1 for the genset binaries (MILP), else None.
    cols : dict
        Kind -> (first column, times) of the per-interval kinds present; 'on' and 'start' -> (first
        column, blocks) in the MILP.
    rows : dict
        'bal', 'soc', 'res' -> (first row, times) of the bus, battery and reserve rows.
    """

    problem: DispatchProblem
    mode: str
    end_soc: str
    penalties: Penalties
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    integrality: np.ndarray | None
    cols: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)
    rows: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)
    e_init_kwh: float = 0.0
    decay: float = 1.0
    spb: int = 1
    r_soc: int = 0

    @property
    def n_cols(self) -> int:
        """Number of columns."""
        return len(self.cost)

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.row_lower)

    def values(self, x: np.ndarray, kind: str) -> np.ndarray:
        """Per-interval values of ``kind`` from a solution ``x`` (0 where the kind has no column)."""
        out = np.zeros(self.problem.n)
        if kind in self.cols:
            c0, times = self.cols[kind]
            out[times] = x[c0 : c0 + len(times)]
        return out


def validate_options(mode: str, end_soc: str, time_limit_s: float = 1.0, mip_rel_gap: float = 0.0) -> None:
    """Raise :class:`InputError` on options the optimiser cannot take."""
    if mode not in MODES:
        raise InputError(
            "unknown optimisation mode", field="mode", value=mode, allowed=", ".join(MODES), fix="use lp or milp"
        )
    if end_soc not in END_SOC:
        raise InputError(
            "unknown end-of-period SoC rule",
            field="end_soc",
            value=end_soc,
            allowed=", ".join(END_SOC),
            fix="use free (end anywhere) or initial (end at least at the start SoC)",
        )
    if not (np.isfinite(time_limit_s) and time_limit_s > 0):
        raise InputError(
            "the solver time limit must be a positive number of seconds",
            field="time_limit_s",
            value=time_limit_s,
            allowed="> 0",
            fix="give e.g. --time-limit 300",
        )
    if not (0.0 <= mip_rel_gap < 1.0):
        raise InputError(
            "the relative MIP gap must lie in [0, 1)",
            field="mip_rel_gap",
            value=mip_rel_gap,
            allowed="0 <= gap < 1",
            fix="give e.g. --mip-gap 0.001",
        )


def validate(problem: DispatchProblem, mode: str, end_soc: str) -> None:
    """Raise :class:`InputError` on options or data the model cannot take."""
    validate_options(mode, end_soc)
    if problem.n == 0:
        raise InputError("the problem has no intervals", field="index", value=0, fix="give at least one interval")
    b = problem.battery
    if b.energy_kwh > 0 and b.soc_init_kwh < b.soc_min_kwh - 1e-9:
        raise InputError(
            "the optimiser starts at the initial SoC, which lies below SoC min",
            field="battery.soc_init_frac",
            value=b.soc_init_kwh,
            allowed=f">= soc_min ({b.soc_min_kwh} kWh)",
            fix="raise soc_init_frac to at least soc_min_frac",
        )
    for name in ("pv_kw", "load_kw", "critical_kw", "import_price_per_kwh", "export_price_per_kwh"):
        arr = np.asarray(getattr(problem, name), dtype=float)
        if not np.isfinite(arr).all():
            raise InputError("contains NaN or infinite values", field=name, value="non-finite", fix="fill the gaps")


def fuel_cost_per_l(problem: DispatchProblem) -> float:
    """Fuel price plus its carbon cost [currency/L]."""
    g = problem.genset
    return g.fuel_price_per_l + g.co2_kg_per_l * problem.carbon_price_per_kg


def live_blocks(problem: DispatchProblem, spb: int) -> np.ndarray:
    """Genset blocks whose binary is left free in the MILP (the others are fixed off).

    A block is live when the grid is down in any of its intervals or cannot carry the net load
    (load - PV above the import limit), and one block either side of such a block. If a kWh of
    diesel (marginal fuel alone) is not dearer than every grid kWh, every block is live. This is a
    restriction of the MILP (its result stays feasible, so it is an upper bound); the LP bound
    below it is unrestricted, so the reported gap covers it.
    """
    p, g = problem, problem.genset
    n = p.n
    blocks = -(-n // spb)
    if g.rated_kw <= 0:
        return np.zeros(blocks, dtype=bool)
    grid_cost = np.asarray(p.import_price_per_kwh) + p.carbon_price_per_kg * np.asarray(p.grid_co2_kg_per_kwh)
    if g.f1_l_per_kwh * fuel_cost_per_l(p) < float(grid_cost.max(initial=0.0)):
        return np.ones(blocks, dtype=bool)
    need = ~np.asarray(p.grid_available, dtype=bool) | (
        np.asarray(p.load_kw) - np.asarray(p.pv_kw) > p.grid.import_kw + 1e-9
    )
    blk = np.arange(n) // spb
    live = np.bincount(blk, weights=need.astype(float), minlength=blocks) > 0
    live[1:] |= live[:-1].copy()
    live[:-1] |= live[1:].copy()
    return live


def build_model(
    problem: DispatchProblem,
    mode: str = "lp",
    end_soc: str = "free",
    penalties: Penalties | None = None,
    *,
    e_end_kwh: float | None = None,
) -> Model:
    """Assemble the perfect-foresight model of ``problem`` (no per-variable Python loops).

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
    pen = penalties or Penalties()
    p, b, g = problem, problem.battery, problem.genset
    n, dt = p.n, p.dt_h
    milp = mode == "milp"
    t_all = np.arange(n)
    up = np.asarray(p.grid_available, dtype=bool)
    load = np.asarray(p.load_kw, dtype=float) * dt
    crit = np.minimum(np.asarray(p.critical_kw, dtype=float) * dt, load)
    fuel_l = fuel_cost_per_l(p)
    has_bat = b.energy_kwh > 0 and b.soc_max_kwh > b.soc_min_kwh
    has_gen = g.rated_kw > 0
    spb = max(1, round(1.0 / dt))
    n_blocks = -(-n // spb)
    blk = t_all // spb
    live = live_blocks(p, spb) if (milp and has_gen) else np.zeros(n_blocks, dtype=bool)
    gmin = min(g.min_load_kw, g.rated_kw) * dt
    e_cap = b.soc_max_kwh - b.soc_min_kwh
    e_res = max(b.reserve_kwh - b.soc_min_kwh, 0.0) if (has_bat and pen.reserve_per_kwh_h > 0) else 0.0
    res_t = np.flatnonzero(up) if e_res > 0 else np.zeros(0, dtype=np.int64)

    # per kind: times, upper bound, cost (lower bounds are 0 except e at the end)
    grid_cost = np.asarray(p.import_price_per_kwh) + p.carbon_price_per_kg * np.asarray(p.grid_co2_kg_per_kwh)
    noload_l_per_kwh = g.f0_l_per_h_per_kw * g.nameplate_kw / max(g.rated_kw, 1e-12)
    dsl_price = (g.f1_l_per_kwh + (0.0 if milp else noload_l_per_kwh)) * fuel_l
    dsl_ub = np.where(live[blk], g.rated_kw * dt, 0.0) if milp else np.full(n, g.rated_kw * dt)
    spec: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | float]] = {
        "pv": (t_all, np.asarray(p.pv_kw, dtype=float) * dt, 0.0),
        "gin": (t_all, np.where(up, p.grid.import_kw * dt, 0.0), grid_cost),
        "gout": (t_all, np.where(up, p.grid.export_kw * dt, 0.0), -np.asarray(p.export_price_per_kwh, dtype=float)),
        "bin": (t_all, np.full(n, b.charge_kw * dt), 0.0),
        "bout": (t_all, np.full(n, b.discharge_kw * dt), pen.discharge_per_kwh),
        "dsl": (t_all, dsl_ub, dsl_price),
        "e": (t_all, np.full(n, e_cap), 0.0),
        "shed": (t_all, load - crit, pen.shed_per_kwh),
        "shedc": (t_all, crit, pen.shed_critical_per_kwh),
        "ures": (res_t, np.full(len(res_t), e_res), pen.reserve_per_kwh_h * dt),
        "dump": (t_all, dsl_ub if milp else np.zeros(n), pen.dump_per_kwh),
    }
    drop = set()
    if not has_bat:
        drop |= {"bin", "bout", "e", "ures"}
    for kind, (times, ub, _) in spec.items():
        if kind != "e" and (len(times) == 0 or not (ub > 0).any()):
            drop.add(kind)
    present = [k for k in KINDS if k not in drop]
    cols: dict[str, tuple[int, np.ndarray]] = {}
    c0 = 0
    cost_parts, lo_parts, hi_parts = [], [], []
    for kind in present:
        times, ub, c = spec[kind]
        cols[kind] = (c0, times)
        c0 += len(times)
        cost_parts.append(np.broadcast_to(np.asarray(c, dtype=float), times.shape))
        lo_parts.append(np.zeros(len(times)))
        hi_parts.append(ub.astype(float))
    if milp and has_gen and live.any():
        on0, st0 = c0, c0 + n_blocks
        blocks = np.arange(n_blocks)
        cols["on"] = (on0, blocks)
        cols["start"] = (st0, blocks)
        c0 += 2 * n_blocks
        blk_h = np.bincount(blk, minlength=n_blocks) * dt
        noload = g.f0_l_per_h_per_kw * g.nameplate_kw * fuel_l
        cost_parts += [noload * blk_h, np.full(n_blocks, noload * pen.start_h_of_noload_fuel)]
        lo_parts += [np.zeros(n_blocks), np.zeros(n_blocks)]
        hi_parts += [live.astype(float), live.astype(float)]
    cost = np.concatenate(cost_parts)
    col_lo = np.concatenate(lo_parts)
    col_hi = np.concatenate(hi_parts)
    a = 1.0 - b.self_discharge_frac_per_h * dt
    e_init = min(max(b.soc_init_kwh - b.soc_min_kwh, 0.0), e_cap) if has_bat else 0.0
    if has_bat and e_end_kwh is not None:
        col_lo[cols["e"][0] + n - 1] = col_hi[cols["e"][0] + n - 1] = e_end_kwh
    elif has_bat and end_soc == "initial":
        col_lo[cols["e"][0] + n - 1] = e_init

    # -- rows, as COO triplets per block --------------------------------------------------
    rr: list[np.ndarray] = []
    cc: list[np.ndarray] = []
    vv: list[np.ndarray] = []
    rlo: list[np.ndarray] = []
    rhi: list[np.ndarray] = []
    r0 = 0

    def put(rows: np.ndarray, kind: str, times: np.ndarray, v: float | np.ndarray) -> None:
        """Entries (rows, column of ``kind`` at ``times``); times must be columns of the kind."""
        if kind not in cols:
            return
        k0, ktimes = cols[kind]
        cidx = k0 + times if ktimes is t_all else k0 + np.searchsorted(ktimes, times)
        rr.append(rows)
        cc.append(cidx)
        vv.append(np.broadcast_to(np.asarray(v, dtype=float), rows.shape))

    # bus balance
    rows = r0 + t_all
    for kind, v in (
        ("pv", 1.0),
        ("gin", 1.0),
        ("dsl", 1.0),
        ("bout", 1.0),
        ("shed", 1.0),
        ("shedc", 1.0),
        ("bin", -1.0),
        ("gout", -1.0),
        ("dump", -1.0),
    ):
        put(rows, kind, t_all, v)
    rlo.append(load)
    rhi.append(load)
    row_map: dict[str, tuple[int, np.ndarray]] = {"bal": (0, t_all)}
    r0 += n
    r_soc = r0
    if has_bat:
        rows = r0 + t_all
        put(rows, "e", t_all, 1.0)
        put(rows[1:], "e", t_all[:-1], -a)
        put(rows, "bin", t_all, -b.eta_charge)
        put(rows, "bout", t_all, 1.0 / b.eta_discharge)
        rhs = np.zeros(n)
        rhs[0] = a * e_init
        rlo.append(rhs)
        rhi.append(rhs.copy())
        row_map["soc"] = (r0, t_all)
        r0 += n
        if "ures" in cols:
            row_map["res"] = (r0, res_t)
            rows = r0 + np.arange(len(res_t))
            put(rows, "e", res_t, 1.0)
            put(rows, "ures", res_t, 1.0)
            rlo.append(np.full(len(res_t), e_res))
            rhi.append(np.full(len(res_t), np.inf))
            r0 += len(res_t)
    if "on" in cols:
        on0 = cols["on"][0]
        st0 = cols["start"][0]
        lt = t_all[live[blk]]
        if "dsl" in cols and len(lt):
            # dsl - rated dt on <= 0 ; dsl - min dt on >= 0 (dump takes the minimum-load surplus)
            rows = r0 + np.arange(len(lt))
            put(rows, "dsl", lt, 1.0)
            rr.append(rows)
            cc.append(on0 + blk[lt])
            vv.append(np.full(len(lt), -g.rated_kw * dt))
            rlo.append(np.full(len(lt), -np.inf))
            rhi.append(np.zeros(len(lt)))
            r0 += len(lt)
            rows = r0 + np.arange(len(lt))
            put(rows, "dsl", lt, 1.0)
            rr.append(rows)
            cc.append(on0 + blk[lt])
            vv.append(np.full(len(lt), -gmin))
            rlo.append(np.zeros(len(lt)))
            rhi.append(np.full(len(lt), np.inf))
            r0 += len(lt)
        bb = np.arange(n_blocks)
        rows = r0 + bb
        rr += [rows, rows, rows[1:]]
        cc += [st0 + bb, on0 + bb, on0 + bb[:-1]]
        vv += [np.ones(n_blocks), -np.ones(n_blocks), np.ones(n_blocks - 1)]
        rlo.append(np.zeros(n_blocks))
        rhi.append(np.full(n_blocks, np.inf))
        r0 += n_blocks
        m = int(np.ceil(g.min_run_h / (spb * dt) - 1e-9))
        if m > 1:
            rows = r0 + bb
            for j in range(m):
                rr.append(rows[j:])
                cc.append(st0 + bb[: n_blocks - j])
                vv.append(np.ones(n_blocks - j))
            rr.append(rows)
            cc.append(on0 + bb)
            vv.append(-np.ones(n_blocks))
            rlo.append(np.full(n_blocks, -np.inf))
            # the rules' grid-return policy: no minimum run time binds in a block the grid (import > 0)
            # starts up
            grid_back = np.asarray(p.grid_available, dtype=bool)[bb * spb] & (p.grid.import_kw > 0)
            rhi.append(np.where(grid_back, np.inf, 0.0))
            r0 += n_blocks
        m_off = int(np.ceil(g.min_off_h / (spb * dt) - 1e-9))
        if m_off > 1:
            # minimum off time: on_{b-m} + the starts of the last m blocks <= 1 (a stop and a restart
            # within m blocks would need both), with the genset off before the period
            rows = r0 + bb
            for j in range(m_off):
                rr.append(rows[j:])
                cc.append(st0 + bb[: n_blocks - j])
                vv.append(np.ones(n_blocks - j))
            rr.append(rows[m_off:])
            cc.append(on0 + bb[: n_blocks - m_off])
            vv.append(np.ones(max(n_blocks - m_off, 0)))
            rlo.append(np.full(n_blocks, -np.inf))
            rhi.append(np.ones(n_blocks))
            r0 += n_blocks
    start, index, value = _csc(np.concatenate(rr), np.concatenate(cc), np.concatenate(vv), len(cost))
    integrality = None
    if "on" in cols:
        integrality = np.zeros(len(cost), dtype=np.int32)
        integrality[cols["on"][0] : cols["on"][0] + n_blocks] = 1
    model = Model(
        problem=p,
        mode=mode,
        end_soc=end_soc,
        penalties=pen,
        cost=cost,
        col_lower=col_lo,
        col_upper=col_hi,
        row_lower=np.concatenate(rlo),
        row_upper=np.concatenate(rhi),
        start=start,
        index=index,
        value=value,
        integrality=integrality,
        cols=cols,
        rows=row_map,
        e_init_kwh=e_init,
        decay=a,
        spb=spb,
        r_soc=r_soc,
    )
    return model


def _csc(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_cols: int) -> tuple[Any, Any, Any]:
    """COO triplets -> CSC arrays (start, index, value); no duplicate entries are built."""
    order = np.lexsort((rows, cols))
    counts = np.bincount(cols, minlength=n_cols)
    start = np.zeros(n_cols + 1, dtype=np.int32)
    np.cumsum(counts, out=start[1:])
    return start, rows[order].astype(np.int32), vals[order].astype(float)
