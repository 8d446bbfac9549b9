"""Solve the perfect-foresight model with HiGHS and turn the solution into engine flows.

LP: by default the certified time decomposition of :mod:`islandgrid.optimize.decompose`
(independent day-to-week blocks between intervals where the battery is pinned full, checked
by a duality certificate, exact); ``method='direct'`` is one HiGHS dual-simplex solve of the
whole year (the model passed as arrays with ``passModel``; no modelling layer). MILP: the LP
first (its certified lower bound is reported as ``lp_bound``),
then the MILP with genset binaries where they can matter (see
:func:`islandgrid.optimize.model.live_blocks`), warm-started by nothing but HiGHS's own
heuristics. If the MILP finds no solution within its time limit, the LP's genset use is rounded
up to whole running blocks (extended to the minimum run time), the binaries are fixed there and
the rest is re-solved as an LP: always feasible, and the gap to the LP bound says how far from
optimal it can be.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from islandgrid.errors import InputError
from islandgrid.optimize.build import build_model, commit_schedule, grid_back_blocks, min_off_blocks, min_run_blocks
from islandgrid.optimize.decompose import solve_decomposed
from islandgrid.optimize.highs import highs_for, run_lp, solver_failure, status_text
from islandgrid.optimize.model import Model, Penalties, validate_options
from islandgrid.strategy.base import FLOW_COLUMNS, DispatchProblem

Progress = Callable[[str], None]
METHODS: tuple[str, ...] = ("decompose", "direct")


@dataclass(frozen=True)
class SolveInfo:
    """What the optimiser did.

    Attributes
    ----------
    mode : str
        'lp' or 'milp'.
    objective : float
        Objective of the returned dispatch [currency] (costs + penalties).
    lp_bound : float
        Optimum of the LP (no commitment) [currency]: no dispatch of this hardware can cost less.
    optimality_gap : float
        (objective - lp_bound) / |objective| [-]; 0 for the LP (solved to optimality).
    mip_gap : float
        HiGHS's own MIP gap of the restricted MILP (NaN after the relax-and-round fallback, 0 for LP).
    status : str
        HiGHS model status, or 'relax-and-round' for the fallback.
    n_cols, n_rows, n_binaries : int
        Model size.
    build_s, solve_s : float
        Wall times [s].
    """

    mode: str
    objective: float
    lp_bound: float
    optimality_gap: float
    mip_gap: float
    status: str
    n_cols: int
    n_rows: int
    n_binaries: int
    build_s: float
    solve_s: float

    def as_kpis(self) -> dict[str, Any]:
        """The solve figures as KPI entries (prefixed ``optimal_`` where ambiguous)."""
        return {
            "optimization_mode": self.mode,
            "optimal_objective": self.objective,
            "lp_bound": self.lp_bound,
            "optimality_gap": self.optimality_gap,
            "mip_gap": None if np.isnan(self.mip_gap) else self.mip_gap,
            "solver_status": self.status,
            "solve_seconds": self.build_s + self.solve_s,
        }


def solve_problem(
    problem: DispatchProblem,
    mode: str = "lp",
    *,
    end_soc: str = "free",
    penalties: Penalties | None = None,
    time_limit_s: float = 300.0,
    mip_rel_gap: float = 1e-3,
    method: str = "decompose",
    progress: Progress | None = None,
) -> tuple[dict[str, np.ndarray], SolveInfo]:
    """Optimise ``problem`` with perfect foresight.

    Parameters
    ----------
    problem : DispatchProblem
        The whole period, known in advance.
    mode : {'lp', 'milp'}
        See :mod:`islandgrid.optimize.model`.
    end_soc : {'free', 'initial'}
        End-of-period SoC rule.
    penalties : Penalties, optional
        Slack prices.
    time_limit_s : float
        Wall-time limit of each HiGHS run [s]; the solver never hangs.
    mip_rel_gap : float
        Relative MIP gap at which HiGHS stops [-].
    method : {'decompose', 'direct'}
        The LP: certified time decomposition (:mod:`islandgrid.optimize.decompose`, exact, about
        twice as fast) or one HiGHS solve of the whole year.
    progress : callable, optional
        Called with a short description of each stage.

    Returns
    -------
    flows : dict
        Every key of :data:`~islandgrid.strategy.base.FLOW_COLUMNS`.
    info : SolveInfo

    Raises
    ------
    InputError
        Unknown mode or end-SoC rule, or data the model cannot take.
    SolverError
        HiGHS failed or ran out of time without a solution.
    """
    import highspy

    say = progress or (lambda _s: None)
    validate_options(mode, end_soc, time_limit_s, mip_rel_gap)
    if method not in METHODS:
        raise InputError(
            "unknown LP method", field="method", value=method, allowed=", ".join(METHODS), fix="use decompose or direct"
        )
    t0 = time.perf_counter()
    if method == "decompose":
        say("solving the LP by certified time decomposition (HiGHS dual simplex per block)")
        lp, dec = solve_decomposed(problem, end_soc, penalties, time_limit_s=time_limit_s)
        x_lp, obj_lp, lp_bound, blocks = dec.x, dec.objective, dec.bound, dec.segments
        build_s, solve_s = 0.0, time.perf_counter() - t0
    else:
        say("building the LP")
        lp = build_model(problem, "lp", end_soc, penalties)
        build_s = time.perf_counter() - t0
        say(f"solving the LP ({lp.n_cols:,} columns, HiGHS dual simplex)")
        x_lp, obj_lp, solve_s = run_lp(lp, time_limit_s)
        lp_bound, blocks = obj_lp, 1
    if mode == "lp":
        status = "Optimal" + (f" ({blocks} blocks, certified)" if blocks > 1 else "")
        info = SolveInfo(
            "lp", obj_lp, lp_bound, _gap(obj_lp, lp_bound), 0.0, status, lp.n_cols, lp.n_rows, 0, build_s, solve_s
        )
        return flows_from_solution(lp, x_lp), info
    obj_lp = lp_bound  # the certified lower bound
    if lp.values(x_lp, "dsl").max(initial=0.0) <= 1e-9:
        # the LP optimum never runs the genset, so it is a MILP solution too (all binaries 0, no start,
        # no dump) with the same objective: it is the MILP optimum, gap 0, no branch and bound needed
        say("the LP optimum never runs the genset: it is the MILP optimum")
        obj = float(lp.cost @ x_lp) + lp.offset
        status = "Optimal (the LP optimum keeps the genset off, so it is integral)"
        info = SolveInfo(
            "milp", obj, lp_bound, _gap(obj, lp_bound), 0.0, status, lp.n_cols, lp.n_rows, 0, build_s, solve_s
        )
        return flows_from_solution(lp, x_lp), info
    t1 = time.perf_counter()
    mi = build_model(problem, "milp", end_soc, penalties)
    build_s += time.perf_counter() - t1
    n_bin = int(mi.integrality.sum()) if mi.integrality is not None else 0
    live = int(mi.col_upper[mi.cols["on"][0] : mi.cols["on"][0] + len(mi.cols["on"][1])].sum()) if n_bin else 0
    if live == 0:
        # no block where commitment can matter: the MILP is an LP (the genset stays off)
        say("no genset block to commit: solving the MILP as an LP")
        x, obj, s = run_lp(replace(mi, integrality=None), time_limit_s)
        info = SolveInfo(
            "milp", obj, obj_lp, _gap(obj, obj_lp), 0.0, "Optimal", mi.n_cols, mi.n_rows, 0, build_s, solve_s + s
        )
        return flows_from_solution(mi, x), info
    say(f"solving the MILP ({live} live genset blocks, HiGHS branch and bound)")
    h = highs_for(mi, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap)
    if progress is not None:

        def improving(event: Any) -> None:
            """Show each better MILP solution with its gap (HiGHS calls this from its own thread)."""
            out = event.data_out
            say(
                f"solving the MILP ({live} live genset blocks): incumbent {out.mip_primal_bound:,.0f}, "
                + (f"gap {100 * out.mip_gap:.2f} %, " if np.isfinite(out.mip_gap) else "")
                + f"{out.mip_node_count} nodes"
            )

        h.cbMipImprovingSolution.subscribe(improving)
    t2 = time.perf_counter()
    h.run()
    solve_s += time.perf_counter() - t2
    hinfo = h.getInfo()
    if hinfo.primal_solution_status == 2:
        x = np.asarray(h.getSolution().col_value)
        x = _round_binaries(mi, x)
        obj = float(hinfo.objective_function_value)
        info = SolveInfo(
            "milp",
            obj,
            obj_lp,
            _gap(obj, obj_lp),
            float(hinfo.mip_gap),
            status_text(h),
            mi.n_cols,
            mi.n_rows,
            live,
            build_s,
            solve_s,
        )
        return flows_from_solution(mi, x), info
    if h.getModelStatus() not in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt):
        raise solver_failure(mi, status_text(h), time_limit_s)
    say("MILP found no solution in time: relax and round")
    x, obj, s = _relax_and_round(mi, lp, x_lp, time_limit_s)
    info = SolveInfo(
        "milp", obj, obj_lp, _gap(obj, obj_lp), float("nan"), "relax-and-round", mi.n_cols, mi.n_rows, live, build_s,
        solve_s + s,
    )  # fmt: skip
    return flows_from_solution(mi, x), info


def _gap(obj: float, bound: float) -> float:
    return max(obj - bound, 0.0) / max(abs(obj), 1e-9)


def _round_binaries(mi: Model, x: np.ndarray) -> np.ndarray:
    on0, blocks = mi.cols["on"]
    x = x.copy()
    x[on0 : on0 + len(blocks)] = np.round(x[on0 : on0 + len(blocks)])
    return x


def _relax_and_round(mi: Model, lp: Model, x_lp: np.ndarray, time_limit_s: float) -> tuple[np.ndarray, float, float]:
    """Fix the genset on in every block the LP uses it (runs extended to the minimum run time, gaps
    shorter than the minimum off time bridged)."""
    p = mi.problem
    on0, blocks = mi.cols["on"]
    nb = len(blocks)
    used = lp.values(x_lp, "dsl") > 1e-6
    on = np.bincount(np.arange(p.n) // mi.spb, weights=used.astype(float), minlength=nb) > 0
    free = mi.col_upper[on0 : on0 + nb] > 0
    back = grid_back_blocks(p, p.grid_available, mi.spb)
    on = commit_schedule(on, free, min_run_blocks(p, mi.spb), min_off_blocks(p, mi.spb), back)
    lo, hi = mi.col_lower.copy(), mi.col_upper.copy()
    lo[on0 : on0 + nb] = hi[on0 : on0 + nb] = on.astype(float)
    return run_lp(replace(mi, integrality=None, col_lower=lo, col_upper=hi), time_limit_s)


def flows_from_solution(model: Model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Engine flows (every key of FLOW_COLUMNS) from a solution of ``model``.

    Tiny solver tolerances are clipped into the column bounds; self-discharge is the residual of
    the battery row, so the engine's state check holds exactly.
    """
    p, b, g = model.problem, model.problem.battery, model.problem.genset
    x = np.clip(x, model.col_lower, model.col_upper)
    dt = p.dt_h
    v = model.values
    load = np.asarray(p.load_kw, dtype=float) * dt
    crit = np.minimum(np.asarray(p.critical_kw, dtype=float) * dt, load)
    pv_av = np.asarray(p.pv_kw, dtype=float) * dt
    pv = v(x, "pv")
    shed, shedc = v(x, "shed"), v(x, "shedc")
    bin_, bout, dsl = v(x, "bin"), v(x, "bout"), v(x, "dsl")
    if "e" in model.cols:
        soc = v(x, "e") + b.soc_min_kwh
        prev = np.concatenate(([model.e_init_kwh + b.soc_min_kwh], soc[:-1]))
        selfdis = np.maximum(prev - soc + b.eta_charge * bin_ - bout / b.eta_discharge, 0.0)
    else:
        soc = np.full(p.n, b.soc_init_kwh)
        selfdis = np.zeros(p.n)
    if "on" in model.cols:
        on0, blocks = model.cols["on"]
        on = np.round(x[on0 : on0 + len(blocks)])[np.arange(p.n) // model.spb]
        on = np.where(g.rated_kw > 0, on, 0.0)
        dsl = np.where(on > 0, dsl, 0.0)  # solver dust of a genset that is off
        fuel = (g.f0_l_per_h_per_kw * g.nameplate_kw * dt * on + g.f1_l_per_kwh * dsl) * (on > 0)
    else:
        # LP: the genset runs at rated power for the fraction dsl / (rated dt) of the interval
        on = np.minimum(dsl / (g.rated_kw * dt), 1.0) if g.rated_kw > 0 else np.zeros(p.n)
        on = np.where(dsl > 1e-9, on, 0.0)
        fuel = g.f0_l_per_h_per_kw * g.nameplate_kw * dt * on + g.f1_l_per_kwh * dsl
    unserved = shed + shedc
    out = {
        "load_kwh": load,
        "critical_load_kwh": crit,
        "load_served_kwh": load - unserved,
        "unserved_kwh": unserved,
        "unserved_critical_kwh": shedc,
        "pv_available_kwh": pv_av,
        "pv_used_kwh": pv,
        "pv_curtailed_kwh": np.maximum(pv_av - pv, 0.0),
        "grid_in_kwh": v(x, "gin"),
        "grid_out_kwh": v(x, "gout"),
        "diesel_kwh": dsl,
        "bat_in_kwh": bin_,
        "bat_out_kwh": bout,
        "bat_selfdis_kwh": selfdis,
        "dump_kwh": v(x, "dump"),
        "fuel_l": fuel,
        "soc_kwh": soc,
        "genset_on": on,
        "grid_available": np.asarray(p.grid_available, dtype=float),
    }
    return {c: np.ascontiguousarray(out[c], dtype=float) for c in FLOW_COLUMNS}
