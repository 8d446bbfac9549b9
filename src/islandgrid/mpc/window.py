"""The MPC's window model: a MILP of one planning horizon, built once and re-used.

Per interval k of the horizon (energies in kWh per interval) the columns are

    pv_used, grid_in, grid_out, bat_in, bat_out, diesel, soc,
    shed (non-critical unserved), shed_crit, dump,
    under_min (SoC below its minimum), under_res (below the islanding reserve),
    over_max (above its maximum)

and per hour block b of the horizon a genset binary ``on_b`` and a start ``start_b``.
The genset is committed by the hour (its minimum run time of up to an hour is then
met inside each block; longer ones by a sum-of-starts constraint).

Rows: the bus balance, the battery state, the soft SoC bounds and reserve, the
genset's minimum and maximum output while on, the direct-use valid inequality
(``diesel - bat_in - grid_out - dump <= min(load, rated) * on``: diesel beyond what the
load takes while the genset is on must be stored and pay the battery's losses; valid
for every integer schedule, it lifts the islanded LP bound from ~5 % to ~1 % under the
MILP optimum), starts, minimum run time.

**Never infeasible.** Every row has a slack: unserved load (shed) and dump keep the
balance; under_min, under_res and over_max keep any measured SoC (below its minimum,
above its maximum) admissible; a genset measured on with minimum run time left is
held on through the first block, and its minimum load can always go to dump. Slacks
carry penalties far above any energy price, so they are used only when the
measured state forces them (EMHASS issues #390 and #1049 are this failure: a hard
SoC bound violated by the measured state makes the whole optimisation infeasible).

Objective [currency]: grid energy at the tariff plus its carbon cost, fuel (HOMER's
curve: F0 * nameplate per running hour + F1 per kWh) with its carbon cost, a start
cost, a tie-break cost on battery throughput, penalties on the slacks, minus export
revenue and minus a terminal value on the stored energy at the end of the horizon
(the cheapest import price in the horizon times eta_d: worth keeping, never worth
buying from the grid just to hold).

The structure (matrix) is built once per horizon length, in two HiGHS instances (the
LP relaxation, kept hot, and the MILP); each solve pushes only the bounds, costs, row
bounds and direct-use coefficients that changed. A solve (see :meth:`WindowModel.solve`):

1. the LP relaxation; if no binary is free or all are integral, it is the exact MILP
   optimum (gap 0): every grid-up window and most outage windows end here;
2. otherwise integer schedules rounded from it (cumulative rounding, repaired where it
   runs short; relax-and-round; the previous plan shifted by one hour), each an LP with
   the schedule fixed; the best is accepted if within ``mip_rel_gap`` of the LP bound;
3. otherwise, if ``time_limit_s`` > 0 (off by default), HiGHS's MILP from that plan until
   the gap or the time limit; the best plan is used and its gap against the best bound
   reported.

NOTE: this is the MPC's own window formulation, written while ``islandgrid.optimize``
(the perfect-foresight model builder) did not exist yet; see the module README note in
the final report. It solves any window with an initial state, so the perfect-foresight
bound over a short period is the same model with the whole period as its horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from islandgrid.errors import SolverError
from islandgrid.strategy.base import DispatchProblem

#: Column order inside one interval's block.
COLS = (
    "pv_used",
    "grid_in",
    "grid_out",
    "bat_in",
    "bat_out",
    "diesel",
    "soc",
    "shed",
    "shed_crit",
    "dump",
    "under_min",
    "under_res",
    "over_max",
)
NC = len(COLS)
(PV, GIN, GOUT, BIN, BOUT, DIES, SOC, SHED, SHEDC, DUMP, UMIN, URES, OMAX) = range(NC)
#: A relaxation's binary within this of 0 or 1 counts as integral.
_INTEGRAL_TOL = 1e-6
#: Time limit of the LP relaxation [s] (it takes milliseconds; this only guards against a hang).
LP_TIME_LIMIT_S = 10.0
#: Repair steps of the rounding heuristic (each one LP with the schedule fixed).
_REPAIRS = 6
#: Offsets of the cumulative rounding: 0.99 commits a block as soon as the relaxation's running
#: on-hours pass an integer (early), 0.25 late. Five offsets, not two: in closed loop over 4
#: islanded days the realised fuel cost was 7 % lower (each offset is one LP of ~2 ms).
_ROUNDING_OFFSETS = (0.99, 0.9, 0.75, 0.5, 0.25)


@dataclass(frozen=True)
class Penalties:
    """Penalty prices [currency per kWh per interval unless noted].

    Attributes
    ----------
    shed, shed_crit : float
        Value of lost load, non-critical and critical [currency/kWh].
    under_min, over_max : float
        SoC outside its bounds (only a measured state can force it).
    under_res : float
        SoC below the islanding reserve while the grid is up: a stiff soft bound, far
        above any tariff, so the reserve is kept whenever it can be.
    dump : float
        Genset minimum-load surplus thrown away.
    throughput : float
        Tie-break on battery charge and discharge (no simultaneous charge/discharge).
    start_h_of_noload_fuel : float
        Start cost as hours of no-load fuel [h].
    """

    shed: float = 20.0
    shed_crit: float = 100.0
    under_min: float = 1000.0
    over_max: float = 1000.0
    under_res: float = 5.0
    dump: float = 0.01
    throughput: float = 1e-3
    start_h_of_noload_fuel: float = 0.25


@dataclass(frozen=True)
class InitialState:
    """The measured state the window starts from.

    Attributes
    ----------
    soc_kwh : float
        Stored energy [kWh]; may lie outside [soc_min, soc_max].
    genset_on : bool
        Whether the genset is running.
    run_h : float
        How long it has run since its start [h].
    """

    soc_kwh: float
    genset_on: bool = False
    run_h: float = 0.0


@dataclass(frozen=True)
class WindowInputs:
    """Forecast series over the horizon and the reserve.

    Attributes
    ----------
    pv_kw, load_kw, critical_kw : ndarray
        [kW] per interval.
    grid_available : ndarray of bool
    import_price, export_price, grid_co2 : ndarray
        [currency/kWh], [currency/kWh], [kg/kWh].
    reserve_kwh : float
        Islanding reserve held while the grid is up [kWh].
    """

    pv_kw: np.ndarray
    load_kw: np.ndarray
    critical_kw: np.ndarray
    grid_available: np.ndarray
    import_price: np.ndarray
    export_price: np.ndarray
    grid_co2: np.ndarray
    reserve_kwh: float


@dataclass
class Plan:
    """A solved window: the flows per interval [kWh] and the genset schedule."""

    flows: dict[str, np.ndarray]
    on: np.ndarray  # per interval, 0/1
    objective: float
    mip_gap: float
    x: np.ndarray = field(repr=False)
    method: str = "mip"  # 'lp' (relaxation integral: exact), 'lp_round', 'mip', 'mip_time_limit'


@dataclass
class WindowModel:
    """A HiGHS MILP of ``horizon`` intervals of ``problem`` (structure built once).

    Parameters
    ----------
    problem : DispatchProblem
        Component parameters, step length and carbon price.
    horizon : int
        Intervals in the window.
    integer : bool
        Genset binaries (MILP) or their LP relaxation.
    penalties : Penalties
        Slack prices.
    time_limit_s : float
        Time limit of the MILP stage of one solve [s]; 0 (the default) skips it and uses the best
        rounded plan with its gap against the LP bound. The LP relaxation and rounding take ~2 ms
        (grid up) to ~20-40 ms (islanded). Measured (benchmarks/bench_mpc.py, 4 islanded days in
        closed loop): a 15 ms or 200 ms MILP stage did not lower the realised cost at all (the
        rounded plans are within ~1-2 % of the optimum; B&B needs ~1 s to prove 1 %). For proven
        gaps give it a second or more: the MILP starts from the rounded plan, and the best plan
        at the limit is used and its gap reported.
    mip_rel_gap : float
        Relative gap [-] (plan objective vs the best bound: the LP relaxation's or HiGHS's) at
        which a plan is accepted: 1 % of the window's cost by default.
    """

    problem: DispatchProblem
    horizon: int
    integer: bool = True
    penalties: Penalties = field(default_factory=Penalties)
    time_limit_s: float = 0.0
    mip_rel_gap: float = 1e-2
    _last_x: np.ndarray | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        p = self.problem
        self.spb = max(1, round(1.0 / p.dt_h))  # intervals per genset block (an hour)
        self.blocks = -(-self.horizon // self.spb)
        self.n_cols = NC * self.horizon + 2 * self.blocks
        self._build()

    # -- column helpers -------------------------------------------------------------
    def col(self, kind: int, k: np.ndarray | int) -> np.ndarray | int:
        """Column index of ``kind`` in interval ``k``."""
        return NC * np.asarray(k) + kind if isinstance(k, np.ndarray) else NC * k + kind

    def on_col(self, b: int | np.ndarray) -> Any:
        """Column of the genset binary of block ``b``."""
        return NC * self.horizon + np.asarray(b)

    def start_col(self, b: int | np.ndarray) -> Any:
        """Column of the start of block ``b``."""
        return NC * self.horizon + self.blocks + np.asarray(b)

    def _build(self) -> None:
        import highspy
        from scipy import sparse

        p, b, g = self.problem, self.problem.battery, self.problem.genset
        H, dt, B = self.horizon, p.dt_h, self.blocks
        k = np.arange(H)
        blk = k // self.spb
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        lo: list[np.ndarray] = []
        hi: list[np.ndarray] = []
        r0 = 0

        def add(r: np.ndarray, c: Any, v: Any) -> None:
            r = np.asarray(r)
            rows.append(r)
            cols.append(np.broadcast_to(np.asarray(c), r.shape))
            vals.append(np.broadcast_to(np.asarray(v, dtype=float), r.shape))

        # balance: pv + gin + diesel + bout - bin - gout - dump + shed + shedc = load
        r = r0 + k
        for kind, v in (
            (PV, 1),
            (GIN, 1),
            (DIES, 1),
            (BOUT, 1),
            (BIN, -1),
            (GOUT, -1),
            (DUMP, -1),
            (SHED, 1),
            (SHEDC, 1),
        ):
            add(r, self.col(kind, k), v)
        self.r_balance = r0
        lo.append(np.zeros(H))
        hi.append(np.zeros(H))
        r0 += H
        # battery: soc_k - a*soc_{k-1} - eta_c*bin + bout/eta_d = (a*soc_init if k == 0 else 0)
        a = 1.0 - b.self_discharge_frac_per_h * dt
        r = r0 + k
        add(r, self.col(SOC, k), 1.0)
        add(r[1:], self.col(SOC, k[:-1]), -a)
        add(r, self.col(BIN, k), -b.eta_charge)
        add(r, self.col(BOUT, k), 1.0 / b.eta_discharge)
        self.r_soc = r0
        self.soc_decay = a
        lo.append(np.zeros(H))
        hi.append(np.zeros(H))
        r0 += H
        # soc + under_min >= soc_min
        r = r0 + k
        add(r, self.col(SOC, k), 1.0)
        add(r, self.col(UMIN, k), 1.0)
        lo.append(np.full(H, b.soc_min_kwh))
        hi.append(np.full(H, np.inf))
        r0 += H
        # soc + under_res >= reserve (grid up) / soc_min (grid down): set per solve
        r = r0 + k
        add(r, self.col(SOC, k), 1.0)
        add(r, self.col(URES, k), 1.0)
        self.r_reserve = r0
        lo.append(np.full(H, b.soc_min_kwh))
        hi.append(np.full(H, np.inf))
        r0 += H
        # soc - over_max <= soc_max
        r = r0 + k
        add(r, self.col(SOC, k), 1.0)
        add(r, self.col(OMAX, k), -1.0)
        lo.append(np.full(H, -np.inf))
        hi.append(np.full(H, b.soc_max_kwh))
        r0 += H
        # diesel <= rated*dt*on ; diesel >= min*dt*on
        r = r0 + k
        add(r, self.col(DIES, k), 1.0)
        add(r, self.on_col(blk), -g.rated_kw * dt)
        lo.append(np.full(H, -np.inf))
        hi.append(np.zeros(H))
        r0 += H
        r = r0 + k
        add(r, self.col(DIES, k), 1.0)
        add(r, self.on_col(blk), -min(g.min_load_kw, g.rated_kw) * dt)
        lo.append(np.zeros(H))
        hi.append(np.full(H, np.inf))
        r0 += H
        # valid inequality (direct use): diesel - bat_in - grid_out - dump <= min(load, rated) * dt * on.
        # The balance gives diesel = load - pv_used - grid_in - bat_out - shed + bat_in + grid_out + dump,
        # so with the genset on, diesel beyond the load is stored, exported or dumped; with it off both
        # sides are >= 0. It cuts off the LP relaxation's cheapest trick (a fractional genset at full-load
        # efficiency feeding the load directly): diesel beyond on * load must go through the battery and
        # pay its losses, as it does in any integer schedule. The on-coefficient is data (set per solve).
        r = r0 + k
        add(r, self.col(DIES, k), 1.0)
        add(r, self.col(BIN, k), -1.0)
        add(r, self.col(GOUT, k), -1.0)
        add(r, self.col(DUMP, k), -1.0)
        add(r, self.on_col(blk), -g.rated_kw * dt)
        self.r_direct = r0
        lo.append(np.full(H, -np.inf))
        hi.append(np.zeros(H))
        r0 += H
        # start_b - on_b + on_{b-1} >= 0 (b = 0: >= -on_init, set per solve)
        bb = np.arange(B)
        r = r0 + bb
        add(r, self.start_col(bb), 1.0)
        add(r, self.on_col(bb), -1.0)
        add(r[1:], self.on_col(bb[:-1]), 1.0)
        self.r_start = r0
        lo.append(np.zeros(B))
        hi.append(np.full(B, np.inf))
        r0 += B
        # minimum run time beyond one block: sum of the last M starts <= on_b
        m = int(np.ceil(g.min_run_h - 1e-9))
        if m > 1:
            for j in range(m):
                add(r0 + bb[j:], self.start_col(bb[: B - j]), 1.0)
            add(r0 + bb, self.on_col(bb), -1.0)
            lo.append(np.full(B, -np.inf))
            hi.append(np.zeros(B))
            r0 += B
        self.n_rows = r0
        a_mat = sparse.csc_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, self.n_cols)
        )
        a_mat.sum_duplicates()
        lp = highspy.HighsLp()
        lp.num_col_ = self.n_cols
        lp.num_row_ = r0
        lp.col_cost_ = np.zeros(self.n_cols)
        lp.col_lower_ = np.zeros(self.n_cols)
        lp.col_upper_ = np.full(self.n_cols, np.inf)
        lp.row_lower_ = np.concatenate(lo)
        lp.row_upper_ = np.concatenate(hi)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a_mat.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a_mat.indices.astype(np.int32)
        lp.a_matrix_.value_ = a_mat.data
        self._row_lo = np.concatenate(lo)
        self._row_hi = np.concatenate(hi)
        self._direct_cols = np.asarray(self.on_col(blk), dtype=np.int32)
        # two HiGHS instances on the same structure: the LP relaxation (kept hot: its simplex basis
        # warm-starts the next window) and the MILP, run only when the relaxation is fractional
        self._lp = self._new_highs(lp, max(self.time_limit_s, LP_TIME_LIMIT_S))
        self._mip = None
        self._coef: dict[str, np.ndarray] = {"lp": np.full(H, -g.rated_kw * dt)}
        self._pushed: dict[str, tuple[np.ndarray, ...]] = {}
        self._binaries = bool(self.integer and g.rated_kw > 0)
        if self._binaries and self.time_limit_s > 0:
            integrality = np.zeros(self.n_cols, dtype=np.int32)
            integrality[self.on_col(bb)] = 1
            lp.integrality_ = [highspy.HighsVarType(int(v)) for v in integrality]
            self._mip = self._new_highs(lp, self.time_limit_s)
            self._coef["mip"] = np.full(H, -g.rated_kw * dt)

    def _new_highs(self, lp: Any, time_limit_s: float) -> Any:
        from islandgrid.optimize.solve import new_highs  # silent: no banner on a --json stdout

        h = new_highs()
        # HiGHS checks time_limit against the clock of the current run (reset by every run())
        h.setOptionValue("time_limit", float(time_limit_s))
        h.setOptionValue("mip_rel_gap", float(self.mip_rel_gap))
        h.setOptionValue("threads", 1)
        # the window is small and re-solved every hour: skip the costly sub-MIP heuristics and restarts
        for opt in ("mip_heuristic_run_rins", "mip_heuristic_run_rens", "mip_heuristic_run_root_reduced_cost"):
            h.setOptionValue(opt, False)
        h.setOptionValue("mip_allow_restart", False)
        h.passModel(lp)
        return h

    def _load(
        self,
        which: str,
        col_lo: np.ndarray,
        col_hi: np.ndarray,
        col_cost: np.ndarray,
        row_lo: np.ndarray,
        row_hi: np.ndarray,
        coef: np.ndarray,
    ) -> Any:
        """Push one window's data into the ``which`` ('lp' or 'mip') instance: only what changed
        since that instance's last window (bounds, costs, row bounds and the direct-use
        coefficients of blocks whose genset is not fixed off)."""
        h: Any = self._lp if which == "lp" else self._mip
        last = self._pushed.get(which)
        if last is None:
            c = np.arange(self.n_cols, dtype=np.int32)
            r = np.arange(self.n_rows, dtype=np.int32)
        else:
            c = np.flatnonzero((last[0] != col_lo) | (last[1] != col_hi)).astype(np.int32)
            r = np.flatnonzero((last[3] != row_lo) | (last[4] != row_hi)).astype(np.int32)
        if len(c):
            h.changeColsBounds(len(c), c, col_lo[c], col_hi[c])
        k = np.arange(self.n_cols) if last is None else np.flatnonzero(last[2] != col_cost)
        if len(k):
            h.changeColsCost(len(k), k.astype(np.int32), col_cost[k])
        if len(r):
            h.changeRowsBounds(len(r), r, row_lo[r], row_hi[r])
        old = self._coef[which]
        need = col_hi[self._direct_cols] > 0  # with the genset fixed off the coefficient is moot
        for j in np.flatnonzero(need & (old != coef)):
            h.changeCoeff(int(self.r_direct + j), int(self._direct_cols[j]), float(coef[j]))
            old[j] = coef[j]
        self._pushed[which] = (col_lo, col_hi, col_cost, row_lo, row_hi)
        return h

    # -- one solve ------------------------------------------------------------------
    def solve(self, w: WindowInputs, state: InitialState, *, warm_start: bool = True) -> Plan:
        """Set the window's data and initial state, solve, and return the plan.

        The LP relaxation is solved first. If no genset binary is free, or the relaxation's
        optimum already has every binary at 0 or 1, that optimum is the MILP's optimum (a
        relaxation's optimum that is feasible for the original problem is optimal for it), and
        the MILP is skipped: the plan is exact with gap 0. Otherwise integer schedules are rounded
        from it (and the previous plan shifted by one hour is tried), the best is kept with its gap
        against the relaxation's bound; if that gap exceeds ``mip_rel_gap`` and ``time_limit_s`` > 0
        the MILP runs from it until the gap or the time limit, and its best plan and gap are used.

        Raises
        ------
        SolverError
            Only if HiGHS returns no solution at all (the model itself is always feasible).
        """
        p, b, g, pen = self.problem, self.problem.battery, self.problem.genset, self.penalties
        H, dt, B = self.horizon, p.dt_h, self.blocks
        if len(w.pv_kw) != H:
            raise ValueError(f"window inputs have {len(w.pv_kw)} intervals, the model {H}")
        up = np.asarray(w.grid_available, dtype=bool)
        load = np.asarray(w.load_kw) * dt
        crit = np.minimum(np.asarray(w.critical_kw) * dt, load)
        lo = np.zeros((H, NC))
        hi = np.full((H, NC), np.inf)
        hi[:, PV] = np.asarray(w.pv_kw) * dt
        hi[:, GIN] = np.where(up, p.grid.import_kw * dt, 0.0)
        hi[:, GOUT] = np.where(up, p.grid.export_kw * dt, 0.0)
        hi[:, BIN] = b.charge_kw * dt
        hi[:, BOUT] = b.discharge_kw * dt
        hi[:, DIES] = g.rated_kw * dt
        hi[:, SHED] = load - crit
        hi[:, SHEDC] = crit
        carbon = p.carbon_price_per_kg
        fuel_cost_per_l = g.fuel_price_per_l + g.co2_kg_per_l * carbon
        cost = np.zeros((H, NC))
        cost[:, GIN] = np.asarray(w.import_price) + carbon * np.asarray(w.grid_co2)
        cost[:, GOUT] = -np.asarray(w.export_price)
        cost[:, DIES] = g.f1_l_per_kwh * fuel_cost_per_l
        cost[:, BIN] = pen.throughput
        cost[:, BOUT] = pen.throughput
        cost[:, SHED] = pen.shed
        cost[:, SHEDC] = pen.shed_crit
        cost[:, DUMP] = pen.dump
        cost[:, UMIN] = pen.under_min
        cost[:, URES] = pen.under_res
        cost[:, OMAX] = pen.over_max
        price_up = cost[up, GIN]
        terminal = (float(price_up.min()) if len(price_up) else float(cost[:, GIN].min())) * b.eta_discharge
        cost[H - 1, SOC] = -terminal
        noload_per_h = g.f0_l_per_h_per_kw * g.nameplate_kw * fuel_cost_per_l
        blk_len = np.bincount(np.arange(H) // self.spb, minlength=B) * dt  # hours in each block
        col_lo = np.concatenate([lo.ravel(), np.zeros(2 * B)])
        col_hi = np.concatenate([hi.ravel(), np.full(B, 1.0 if g.rated_kw > 0 else 0.0), np.full(B, np.inf)])
        col_cost = np.concatenate(
            [cost.ravel(), noload_per_h * blk_len, np.full(B, noload_per_h * pen.start_h_of_noload_fuel)]
        )
        # Commitment policy: where the grid is forecast up all block and can carry the block's net
        # load, and a kWh of diesel (marginal fuel alone) costs more than any grid kWh in the horizon,
        # the genset is not planned (its binary is fixed off). This only excludes charging the
        # battery from diesel while a cheaper grid is up; it leaves binaries where they matter
        # (forecast outages, import limits) and keeps the MILP small.
        diesel_marginal = g.f1_l_per_kwh * fuel_cost_per_l
        if diesel_marginal >= float(cost[:, GIN].max(initial=0.0)) - cost[:, GOUT].min(initial=0.0):
            blk = np.arange(H) // self.spb
            ok = up & (np.asarray(w.load_kw) - np.asarray(w.pv_kw) <= p.grid.import_kw)
            all_ok = np.bincount(blk, weights=ok.astype(float), minlength=B) == np.bincount(blk, minlength=B)
            col_hi[self.on_col(np.arange(B))[all_ok]] = 0.0
        # a genset measured on inside its minimum run time stays on through the first block, unless the
        # grid (import > 0) is back: then its minimum run time is over (the rules' grid-return policy)
        grid_back = bool(up[0]) and p.grid.import_kw > 0
        if state.genset_on and state.run_h < g.min_run_h - 1e-9 and g.rated_kw > 0 and not grid_back:
            col_lo[self.on_col(0)] = col_hi[self.on_col(0)] = 1.0
        row_lo = self._row_lo.copy()
        row_hi = self._row_hi.copy()
        row_lo[self.r_balance : self.r_balance + H] = load
        row_hi[self.r_balance : self.r_balance + H] = load
        row_lo[self.r_soc] = row_hi[self.r_soc] = self.soc_decay * state.soc_kwh
        row_lo[self.r_reserve : self.r_reserve + H] = np.where(up, max(w.reserve_kwh, b.soc_min_kwh), b.soc_min_kwh)
        row_lo[self.r_start] = -1.0 if state.genset_on else 0.0
        coef = -np.minimum(load, g.rated_kw * dt)
        data = (col_lo, col_hi, col_cost, row_lo, row_hi, coef)
        on_cols = self.on_col(np.arange(B)).astype(np.int32)
        live = bool(self._binaries and (col_lo[on_cols] < col_hi[on_cols]).any())

        # 1. the LP relaxation (exact when it is integral)
        h = self._load("lp", *data)
        self._run_lp()
        if h.getInfo().primal_solution_status != 2:
            raise self._failure(h)
        x = np.asarray(h.getSolution().col_value)
        objective = float(h.getInfo().objective_function_value)
        frac = float(np.abs(x[on_cols] - np.round(x[on_cols])).max(initial=0.0))
        method, gap = "lp", 0.0
        if live and frac > _INTEGRAL_TOL:
            # 2. rounding heuristics on the relaxation (and the previous plan shifted by one hour),
            #    each an LP with the schedule fixed; the relaxation's objective bounds the gap
            bound = objective
            prev = self._shifted(self._last_x, col_lo, col_hi) if warm_start and self._last_x is not None else None
            x, objective = self._round(x, bound, on_cols, col_lo, col_hi, prev)
            gap = (objective - bound) / max(abs(objective), 1e-9)
            method = "lp_round"
            if gap > self.mip_rel_gap and self._mip is not None:
                # 3. the MILP, started from the best rounded plan, until mip_rel_gap or the time limit
                import highspy

                hm = self._load("mip", *data)
                hm.setSolution(len(x), np.arange(len(x), dtype=np.int32), x)
                hm.run()
                info = hm.getInfo()
                if info.primal_solution_status == 2 and info.objective_function_value < objective:
                    x = np.asarray(hm.getSolution().col_value)
                    objective = float(info.objective_function_value)
                if np.isfinite(info.mip_dual_bound):
                    bound = max(bound, float(info.mip_dual_bound))
                gap = max((objective - bound) / max(abs(objective), 1e-9), 0.0)
                optimal = hm.getModelStatus() == highspy.HighsModelStatus.kOptimal
                method = "mip" if optimal else "mip_time_limit"
        self._last_x = x
        xs = x[: NC * H].reshape(H, NC)
        on = np.round(x[self.on_col(np.arange(H) // self.spb)])
        flows = {name: xs[:, i].copy() for i, name in enumerate(COLS)}
        return Plan(flows=flows, on=on, objective=objective, mip_gap=gap, x=x, method=method)

    def _run_lp(self) -> None:
        """Run the LP instance with its own time limit.

        HiGHS 1.16 checks a hot-started LP's time_limit against the instance's cumulative run
        time (a MIP's against the current run's clock), so the limit is re-based before each run.
        """
        h = self._lp
        h.setOptionValue("time_limit", float(h.getRunTime()) + max(self.time_limit_s, LP_TIME_LIMIT_S))
        h.run()

    @staticmethod
    def _failure(h: Any) -> SolverError:
        return SolverError(
            f"HiGHS returned no feasible plan ({h.modelStatusToString(h.getModelStatus())}); "
            "the window model has slacks on every row, so this is a solver failure. "
            "Fix: raise the MPC time limit or report the case"
        )

    def _round(
        self,
        x_lp: np.ndarray,
        bound: float,
        on_cols: np.ndarray,
        col_lo: np.ndarray,
        col_hi: np.ndarray,
        prev: np.ndarray | None,
    ) -> tuple[np.ndarray, float]:
        """The best of a few integer schedules built from the LP relaxation ``x_lp``.

        Candidates, each evaluated by the LP with its schedule fixed (warm, a few ms; every one is
        feasible because the model has slacks everywhere): ``prev`` (the previous plan shifted by
        one hour), returned at once if within ``mip_rel_gap`` of ``bound``; cumulative rounding of
        the relaxation's on-values (block b is on when the running sum of on-hours crosses an
        integer; offsets from early to late commitment, so the schedule follows when the
        relaxation needs energy), the best of them repaired where it runs short; and, if that
        still runs short, on in every block the relaxation uses at all (relax and round).
        """
        h, B = self._lp, self.blocks
        lo, hi = col_lo[on_cols], col_hi[on_cols]
        on_lp = np.clip(x_lp[on_cols], 0.0, 1.0)
        cum = np.concatenate([[0.0], np.cumsum(on_lp)])
        rounded = [np.minimum(np.diff(np.floor(cum + offset)), 1.0) for offset in _ROUNDING_OFFSETS]
        others: list[np.ndarray] = []
        best: list[Any] = [x_lp, np.inf]
        seen: dict[bytes, tuple[np.ndarray, float]] = {}

        def evaluate(sched: np.ndarray) -> tuple[np.ndarray, float]:
            """The plan and objective with the schedule fixed (inf when HiGHS returns nothing)."""
            fixed = np.clip(sched, lo, hi)
            key = fixed.tobytes()
            if key not in seen:
                h.changeColsBounds(B, on_cols, fixed, fixed)
                self._run_lp()
                ok = h.getInfo().primal_solution_status == 2
                obj = float(h.getInfo().objective_function_value) if ok else np.inf
                seen[key] = (np.asarray(h.getSolution().col_value) if ok else x_lp, obj)
                if obj < best[1]:
                    best[:] = [seen[key][0], obj]
            return seen[key]

        if prev is not None:
            # the closed loop's usual case: last hour's plan, shifted, is already good enough
            x, obj = evaluate(prev)
            if obj - bound <= self.mip_rel_gap * abs(obj):
                h.changeColsBounds(B, on_cols, lo, hi)
                return x, obj
        # the best cumulative rounding, repaired: while it is short of energy somewhere (load shed or
        # SoC under its minimum, e.g. where the battery was full when the rounding ran the genset),
        # commit the latest free block at or before the first shortfall
        sched = min(rounded, key=lambda r: evaluate(r)[1])
        x, obj = evaluate(sched)
        short = np.zeros(0, dtype=int)
        for _ in range(_REPAIRS):
            xs = x[: NC * self.horizon].reshape(self.horizon, NC)
            short = np.flatnonzero(xs[:, SHED] + xs[:, SHEDC] + xs[:, UMIN] > 1e-6)
            if not (len(short) and np.isfinite(obj)):
                break
            b0 = int(short[0]) // self.spb
            free = np.flatnonzero((np.clip(sched, lo, hi)[: b0 + 1] == 0) & (hi[: b0 + 1] > 0))
            if not len(free):
                break
            trial = sched.copy()
            trial[free[-1]] = 1.0
            x_t, obj_t = evaluate(trial)
            if obj_t >= obj:
                break
            sched, x, obj = trial, x_t, obj_t
        if len(short):  # still short after the repairs: try the genset in every block the relaxation uses
            others.append((on_lp > _INTEGRAL_TOL).astype(float))
        for sched in others:
            evaluate(sched)
        best_x, best_obj = best[0], float(best[1])
        h.changeColsBounds(B, on_cols, lo, hi)  # back to the window's bounds (the diff in _load assumes them)
        if not np.isfinite(best_obj):
            raise self._failure(h)
        return best_x, best_obj

    def _shifted(self, prev: np.ndarray, col_lo: np.ndarray, col_hi: np.ndarray) -> np.ndarray:
        """The previous plan's genset schedule shifted by one block, within this window's bounds."""
        cols = self.on_col(np.arange(self.blocks)).astype(np.int32)
        on = prev[cols]
        return np.clip(np.round(np.concatenate([on[1:], on[-1:]])), col_lo[cols], col_hi[cols])
