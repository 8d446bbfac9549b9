"""The MPC's window: the plant's model (:mod:`islandgrid.optimize.model`, the same builder as the
perfect-foresight optimiser) over one planning horizon, built once and re-solved every hour.

The window is the plant model written with

- genset commitment by hour blocks (MILP), binaries free only where they can matter
  (:func:`islandgrid.optimize.model.live_blocks`), the direct-use valid inequality, minimum
  run time by a sum of starts (over once the grid is back: the rules' grid-return policy),
  minimum off time, and the measured genset state (on/off, run time);
- soft SoC bounds and a soft islanding reserve, SoC min raised by the self-discharge margin
  (the rules lose a little more than the model, :mod:`islandgrid.optimize.model`);
- a terminal value on the stored energy at the end of the horizon (the cheapest grid-up import
  price of the horizon times eta_d: worth keeping, never worth buying from the grid just to hold);
- a fixed structure, so that the next window changes only bounds, costs, row bounds and the
  direct-use coefficients (:func:`islandgrid.optimize.build.plant_data`).

With the whole period as its horizon, no terminal value, no margin and the initial state of the
period, it reaches the optimiser's optimum (tests/test_plant_model.py).

**Never infeasible.** Every row has a slack: unserved load (shed) and dump keep the
balance; under_min, under_res and over_max keep any measured SoC (below its minimum,
above its maximum) admissible; a genset measured on with minimum run time left is
held on through the first block (unless the grid is back), and its minimum load can always go to dump. Slacks
carry penalties far above any energy price, so they are used only when the
measured state forces them (EMHASS issues #390 and #1049 are this failure: a hard
SoC bound violated by the measured state makes the whole optimisation infeasible).

The structure is held in two HiGHS instances (the LP relaxation, kept hot, and the MILP); each
solve pushes only what changed. A solve (see :meth:`WindowModel.solve`):

1. the LP relaxation; if no binary is free or all are integral, it is the exact MILP
   optimum (gap 0): every grid-up window and most outage windows end here;
2. otherwise integer schedules rounded from it (:mod:`islandgrid.mpc.rounding`), each an LP with
   the schedule fixed; the best is accepted if within ``mip_rel_gap`` of the LP bound;
3. otherwise, if ``time_limit_s`` > 0 (off by default), HiGHS's MILP from that plan until
   the gap or the time limit; the best plan is used and its gap against the best bound
   reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from islandgrid.errors import SolverError
from islandgrid.mpc.rounding import INTEGRAL_TOL, best_schedule, shifted
from islandgrid.optimize.build import (
    PlantData,
    build_plant_model,
    grid_back_blocks,
    min_off_blocks,
    min_run_blocks,
    plant_data,
)
from islandgrid.optimize.highs import highs_lp, new_highs
from islandgrid.optimize.model import Formulation, Horizon, InitialState, Model, Penalties
from islandgrid.strategy.base import DispatchProblem

#: The window's inputs are the model's horizon (series and reserve).
WindowInputs = Horizon
#: Plan flow name -> model column kind (the stored energy is reported as SoC, SoC min included).
COLUMN_KINDS: dict[str, str] = {
    "pv_used": "pv",
    "grid_in": "gin",
    "grid_out": "gout",
    "bat_in": "bin",
    "bat_out": "bout",
    "diesel": "dsl",
    "soc": "e",
    "shed": "shed",
    "shed_crit": "shedc",
    "dump": "dump",
    "under_min": "umin",
    "under_res": "ures",
    "over_max": "omax",
}
#: The flows of a plan.
COLS: tuple[str, ...] = tuple(COLUMN_KINDS)
#: How the window writes the plant.
FORMULATION = Formulation(
    mode="milp", end_soc="terminal", soft_soc=True, fixed_structure=True, direct_use_cut=True, selfdis_margin=True
)
#: Time limit of the LP relaxation [s] (it takes milliseconds; this only guards against a hang).
LP_TIME_LIMIT_S = 10.0

__all__ = ["COLS", "InitialState", "Penalties", "Plan", "WindowInputs", "WindowModel"]


@dataclass
class Plan:
    """A solved window: the flows per interval [kWh] and the genset schedule."""

    flows: dict[str, np.ndarray]
    on: np.ndarray  # per interval, 0/1
    objective: float
    mip_gap: float
    x: np.ndarray = field(repr=False)
    method: str = "mip"  # 'lp' (relaxation integral: exact), 'lp_round', 'mip', 'mip_time_limit'


def window_failure(h: Any) -> SolverError:
    """HiGHS returned no plan at all for a window."""
    return SolverError(
        f"HiGHS returned no feasible plan ({h.modelStatusToString(h.getModelStatus())}); "
        "the window model has slacks on every row, so this is a solver failure. "
        "Fix: raise the MPC time limit or report the case"
    )


@dataclass
class WindowModel:
    """The plant's MILP over ``horizon`` intervals of ``problem`` (structure built once).

    Parameters
    ----------
    problem : DispatchProblem
        Component parameters, step length and carbon price.
    horizon : int
        Intervals in the window.
    integer : bool
        Genset binaries (MILP) or their LP relaxation.
    penalties : Penalties
        Slack prices (the optimiser's, :class:`islandgrid.optimize.model.Penalties`).
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
    terminal : bool
        Value the stored energy at the end of the horizon (the MPC); False ends it free, as the
        optimiser's ``end_soc='free'``.
    selfdis_margin : bool
        Keep the self-discharge margin above SoC min (the MPC,
        :class:`islandgrid.optimize.model.Formulation`); False plans to SoC min, as the optimiser.
    """

    problem: DispatchProblem
    horizon: int
    integer: bool = True
    penalties: Penalties = field(default_factory=Penalties)
    time_limit_s: float = 0.0
    mip_rel_gap: float = 1e-2
    terminal: bool = True
    selfdis_margin: bool = True
    _last_x: np.ndarray | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        p, g, H = self.problem, self.problem.genset, self.horizon
        zero = np.zeros(H)
        # placeholder data: the structure does not depend on it; a load at the genset's rating gives the
        # direct-use rows their usual coefficient, so that HiGHS keeps the entries (changed per window)
        placeholder = Horizon(zero, np.full(H, g.rated_kw), zero, np.ones(H, dtype=bool), zero, zero, zero,
                              p.battery.reserve_kwh)  # fmt: skip
        form = replace(FORMULATION, end_soc="terminal" if self.terminal else "free", selfdis_margin=self.selfdis_margin)
        self.model: Model = build_plant_model(p, placeholder, InitialState(p.battery.soc_init_kwh), form,
                                              self.penalties)  # fmt: skip
        m = self.model
        self.spb = m.spb  # intervals per genset block (an hour)
        self.blocks = len(m.cols["on"][1])
        self.n_cols, self.n_rows = m.n_cols, m.n_rows
        self.r_direct = m.rows["direct"][0]
        self._on_cols = (m.cols["on"][0] + np.arange(self.blocks)).astype(np.int32)
        self._direct_cols = self._on_cols[np.arange(H) // self.spb]
        self._lp = self._new_highs(highs_lp(m, integer=False), max(self.time_limit_s, LP_TIME_LIMIT_S))
        self._mip = None
        built = -np.minimum(np.full(H, g.rated_kw), g.rated_kw) * p.dt_h
        self._coef: dict[str, np.ndarray] = {"lp": built.copy()}
        self._offset: dict[str, float] = {"lp": m.offset}
        self._pushed: dict[str, tuple[np.ndarray, ...]] = {}
        self._binaries = bool(self.integer and g.rated_kw > 0)
        if self._binaries and self.time_limit_s > 0:
            self._mip = self._new_highs(highs_lp(m, integer=True), self.time_limit_s)
            self._coef["mip"] = built.copy()
            self._offset["mip"] = m.offset

    def on_col(self, b: int | np.ndarray) -> Any:
        """Column of the genset binary of block ``b``."""
        return self.model.cols["on"][0] + np.asarray(b)

    def _new_highs(self, lp: Any, time_limit_s: float) -> Any:
        h = new_highs()  # silent: no banner on a --json stdout
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

    def _load(self, which: str, d: PlantData) -> Any:
        """Push one window's data into the ``which`` ('lp' or 'mip') instance: only what changed
        since that instance's last window (bounds, costs, row bounds, the objective constant and the
        direct-use coefficients of blocks whose genset is not fixed off)."""
        h: Any = self._lp if which == "lp" else self._mip
        last = self._pushed.get(which)
        if last is None:
            c = np.arange(self.n_cols, dtype=np.int32)
            r = np.arange(self.n_rows, dtype=np.int32)
            k = c
        else:
            c = np.flatnonzero((last[0] != d.col_lower) | (last[1] != d.col_upper)).astype(np.int32)
            r = np.flatnonzero((last[3] != d.row_lower) | (last[4] != d.row_upper)).astype(np.int32)
            k = np.flatnonzero(last[2] != d.cost).astype(np.int32)
        if len(c):
            h.changeColsBounds(len(c), c, d.col_lower[c], d.col_upper[c])
        if len(k):
            h.changeColsCost(len(k), k, d.cost[k])
        if len(r):
            h.changeRowsBounds(len(r), r, d.row_lower[r], d.row_upper[r])
        if d.offset != self._offset[which]:
            h.changeObjectiveOffset(d.offset)
            self._offset[which] = d.offset
        old = self._coef[which]
        need = d.col_upper[self._direct_cols] > 0  # with the genset fixed off the coefficient is moot
        for j in np.flatnonzero(need & (old != d.direct_coef)):
            h.changeCoeff(int(self.r_direct + j), int(self._direct_cols[j]), float(d.direct_coef[j]))
            old[j] = d.direct_coef[j]
        self._pushed[which] = (d.col_lower, d.col_upper, d.cost, d.row_lower, d.row_upper)
        return h

    def _shortfall(self, x: np.ndarray) -> np.ndarray:
        """Energy short per interval in a plan x: load shed and SoC under its minimum [kWh]."""
        v = self.model.values
        return v(x, "shed") + v(x, "shedc") + v(x, "umin")

    # -- one solve ------------------------------------------------------------------
    def solve(self, w: WindowInputs, state: InitialState, *, warm_start: bool = True) -> Plan:
        """Set the window's data and initial state, solve, and return the plan.

        The LP relaxation is solved first. If no genset binary is free, or the relaxation's
        optimum already has every binary at 0 or 1, that optimum is the MILP's optimum (a
        relaxation's optimum that is feasible for the original problem is optimal for it), and
        the MILP is skipped: the plan is exact with gap 0. Otherwise integer schedules are rounded
        from it (:mod:`islandgrid.mpc.rounding`), the best is kept with its gap against the
        relaxation's bound; if that gap exceeds ``mip_rel_gap`` and ``time_limit_s`` > 0 the MILP
        runs from it until the gap or the time limit, and its best plan and gap are used.

        Raises
        ------
        SolverError
            Only if HiGHS returns no solution at all (the model itself is always feasible).
        """
        if len(w.pv_kw) != self.horizon:
            raise ValueError(f"window inputs have {len(w.pv_kw)} intervals, the model {self.horizon}")
        d = plant_data(self.model, w, state)
        on_cols = self._on_cols
        lo, hi = d.col_lower[on_cols], d.col_upper[on_cols]
        live = bool(self._binaries and (lo < hi).any())

        # 1. the LP relaxation (exact when it is integral)
        h = self._load("lp", d)
        self._run_lp()
        if h.getInfo().primal_solution_status != 2:
            raise window_failure(h)
        x = np.asarray(h.getSolution().col_value)
        objective = float(h.getInfo().objective_function_value)
        frac = float(np.abs(x[on_cols] - np.round(x[on_cols])).max(initial=0.0))
        method, gap = "lp", 0.0
        if live and frac > INTEGRAL_TOL:
            # 2. rounding heuristics on the relaxation (and the previous plan shifted by one hour),
            #    each an LP with the schedule fixed; the relaxation's objective bounds the gap
            bound = objective
            prev = shifted(self._last_x[on_cols], lo, hi) if warm_start and self._last_x is not None else None
            x, objective = best_schedule(h, self._run_lp, on_cols, lo, hi, x, bound, self._shortfall, self.spb,
                                         self.mip_rel_gap, prev, min_run_blocks(self.problem, self.spb),
                                         min_off_blocks(self.problem, self.spb),
                                         grid_back_blocks(self.problem, w.grid_available, self.spb),
                                         state.genset_on)  # fmt: skip
            if not np.isfinite(objective):
                raise window_failure(h)
            gap = (objective - bound) / max(abs(objective), 1e-9)
            method = "lp_round"
            if gap > self.mip_rel_gap and self._mip is not None:
                # 3. the MILP, started from the best rounded plan, until mip_rel_gap or the time limit
                import highspy

                hm = self._load("mip", d)
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
        m = self.model
        flows = {name: m.values(x, kind) for name, kind in COLUMN_KINDS.items()}
        flows["soc"] = flows["soc"] + self.problem.battery.soc_min_kwh
        on = np.round(x[self._direct_cols])
        return Plan(flows=flows, on=on, objective=objective, mip_gap=gap, x=x, method=method)

    def _run_lp(self) -> None:
        """Run the LP instance with its own time limit.

        HiGHS 1.16 checks a hot-started LP's time_limit against the instance's cumulative run
        time (a MIP's against the current run's clock), so the limit is re-based before each run.
        """
        h = self._lp
        h.setOptionValue("time_limit", float(h.getRunTime()) + max(self.time_limit_s, LP_TIME_LIMIT_S))
        h.run()
