"""Jobs co-optimised with the dispatch: the plant's one LP (:func:`islandgrid.optimize.build.build_plant_model`)
with a column per job and interval.

The plant model is built on the inflexible load; each job j gets a column x_jt in [0, 1] (the
fraction of interval t it runs) for every interval of its window [release, deadline), and

- bus row t:  ... − Σ_j peak_j × f̄ × PUE_t × dt × x_jt = inflexible load_t (jobs are load that cannot be shed);
- job row j:  Σ_t 60 dt x_jt + u_j = its remaining work [min] (``need_lo``..``need_hi``: the MPC's
  window asks only for what cannot wait beyond it); the window runs on past the deadline at a
  lateness price, and u_j (unplaced work) is priced far above it, so that a congested room still
  has a solution;
- room row t: Σ_j peak_j x_jt <= the room's spare capacity [kW];

f̄ is the node's mean power factor. Resume costs and checkpoints are left out: the relaxation is a
lower bound on the cost of any placement and dispatch (up to the minute shape's deviation from its
mean inside an interval). A job infeasible even alone gets the window [release, end) instead.

:func:`plan_from_lp` rounds the relaxation to a plan: each job's k intervals of largest x, k its
LP work in whole intervals. The job kernel then runs the plan, keeping the promises (checkpoints,
resume costs, deadlines, capacity).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from islandgrid.compute.schedule import JobGrid
from islandgrid.optimize.build import build_plant_model
from islandgrid.optimize.highs import run_lp
from islandgrid.optimize.model import Formulation, Horizon, InitialState, Model, Penalties, csc
from islandgrid.strategy.base import DispatchProblem

#: Running past the deadline, per kW of the job's peak and hour [currency/(kW h)]: above any tariff and
#: fuel cost per kWh, so a job runs late only when the room has no earlier room.
LATE_PER_KW_H = 5.0
#: Work the horizon cannot place [currency/min]: far above lateness.
UNPLACED_PER_MIN = 1000.0


@dataclass(frozen=True)
class JobLP:
    """A plant model with job columns, and where they are.

    Attributes
    ----------
    model : Model
        The plant's model with the job columns and rows appended.
    col_job, col_t : ndarray of int
        Job and interval (absolute) of each job column, from ``col0`` on.
    col0 : int
        First job column.
    """

    model: Model
    col_job: np.ndarray
    col_t: np.ndarray
    col0: int


def build_job_lp(
    problem: DispatchProblem,
    grid: JobGrid,
    t0: int,
    t1: int,
    jobs: np.ndarray,
    need_lo_min: np.ndarray,
    need_hi_min: np.ndarray,
    win_lo: np.ndarray,
    win_hi: np.ndarray,
    *,
    horizon: Horizon | None = None,
    state: InitialState | None = None,
    end_soc: str = "free",
    due: np.ndarray | None = None,
) -> JobLP:
    """The plant's LP over [t0, t1) with the given jobs' columns (module docstring).

    Parameters
    ----------
    problem : DispatchProblem
        Its load is the inflexible load.
    grid : JobGrid
    t0, t1 : int
        The horizon.
    jobs : ndarray of int
        Jobs to place; ``need_lo_min``/``need_hi_min`` their work in the horizon [min] and
        ``win_lo``/``win_hi`` their windows (absolute intervals, clipped to the horizon).
    horizon : Horizon, optional
        The series (forecasts for the MPC); default the problem's own.
    state : InitialState, optional
        Default the problem's initial SoC, genset off.
    end_soc : str
        The plant model's end rule ('free', 'initial' or 'terminal').
    due : ndarray of int, optional
        Per job, the interval from which running is late: it costs ``LATE_PER_KW_H`` per kW of the
        job's peak and hour there (the window runs on past the deadline, so that a congested room
        still has a placement); work left unplaced costs ``UNPLACED_PER_MIN``.
    """
    h = horizon or Horizon.of(problem, t0, t1)
    st = state or InitialState(problem.battery.soc_init_kwh)
    base = build_plant_model(problem, h, st, Formulation(mode="lp", end_soc=end_soc), Penalties())
    lo = np.clip(win_lo, t0, t1)
    hi = np.clip(win_hi, t0, t1)
    lens = np.maximum(hi - lo, 0)
    col_job = np.repeat(jobs, lens)
    col_t = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)]) if len(jobs) else np.zeros(0, int)
    col_t = col_t.astype(np.int64)
    n_new = len(col_job)
    dt = problem.dt_h
    peak = grid.jobs.peak_kw[col_job]
    e_kwh = peak * grid.mean_factor * grid.pue[col_t] * dt
    bal0, _ = base.rows["bal"]
    r_job0 = base.n_rows
    slot = np.repeat(np.arange(len(jobs)), lens)
    r_cap0 = r_job0 + len(jobs)
    rows = np.concatenate([bal0 + (col_t - t0), r_job0 + slot, r_cap0 + (col_t - t0)])
    cols = np.tile(np.arange(n_new), 3)
    vals = np.concatenate([-e_kwh, np.full(n_new, 60.0 * dt), peak])
    late = np.zeros(n_new) if due is None else np.where(col_t >= np.repeat(due, lens), LATE_PER_KW_H * peak * dt, 0.0)
    # one unplaced-work slack per job (its own job row)
    n_u = len(jobs)
    rows = np.concatenate([rows, r_job0 + np.arange(n_u)])
    cols = np.concatenate([cols, n_new + np.arange(n_u)])
    vals = np.concatenate([vals, np.ones(n_u)])
    s_new, i_new, v_new = csc(rows, cols, vals, n_new + n_u)
    nnz = len(base.index)
    model = replace(
        base,
        cost=np.concatenate([base.cost, late, np.full(n_u, UNPLACED_PER_MIN)]),
        col_lower=np.concatenate([base.col_lower, np.zeros(n_new + n_u)]),
        col_upper=np.concatenate([base.col_upper, np.ones(n_new), np.full(n_u, np.inf)]),
        row_lower=np.concatenate([base.row_lower, need_lo_min, np.full(t1 - t0, -np.inf)]),
        row_upper=np.concatenate([base.row_upper, need_hi_min, np.full(t1 - t0, grid.flex_cap_kw)]),
        start=np.concatenate([base.start[:-1], s_new + nnz]).astype(np.int32),
        index=np.concatenate([base.index, i_new]).astype(np.int32),
        value=np.concatenate([base.value, v_new]),
    )
    return JobLP(model=model, col_job=col_job, col_t=col_t, col0=base.n_cols)


def plan_from_lp(lp: JobLP, x: np.ndarray, n_jobs: int, dt_h: float) -> tuple[np.ndarray, np.ndarray]:
    """Round the LP's job columns to a plan (CSR over all jobs: ``ptr``, sorted intervals)."""
    xj = np.clip(x[lp.col0 : lp.col0 + len(lp.col_job)], 0.0, 1.0)
    order = np.lexsort((lp.col_t, -xj, lp.col_job))  # per job: largest x first, earlier on ties
    job_sorted = lp.col_job[order]
    totals = np.bincount(lp.col_job, weights=xj, minlength=n_jobs)
    k = np.ceil(totals - 1e-6).astype(np.int64)
    first = np.searchsorted(job_sorted, np.arange(n_jobs))
    rank = np.arange(len(order)) - first[job_sorted]
    chosen = order[rank < k[job_sorted]]
    cj, ct = lp.col_job[chosen], lp.col_t[chosen]
    o = np.lexsort((ct, cj))
    ptr = np.zeros(n_jobs + 1, dtype=np.int64)
    np.cumsum(np.bincount(cj, minlength=n_jobs), out=ptr[1:])
    return ptr, np.ascontiguousarray(ct[o], dtype=np.int64)


def solve_job_lp(lp: JobLP, time_limit_s: float = 300.0) -> tuple[np.ndarray, float]:
    """Solve the job LP with HiGHS; return (x, objective [currency])."""
    x, obj, _s = run_lp(lp.model, time_limit_s)
    return x, obj
