"""Exact time decomposition of the annual LP, with a duality certificate.

The year's LP couples the intervals only through the battery's stored energy. Where the
stored energy of an optimum is known, the year splits there into independent LPs. On a sunny
day the battery of a PV-rich site ends the midday surplus full while PV is curtailed: there the
stored energy is pinned at its maximum. The decomposition

1. runs the PV-first rules (a compiled loop, about a millisecond a year) and takes, as split
   candidates, the last interval of every run in which they hold the battery full while
   curtailing PV, at least ``min_segment`` intervals apart;
2. solves each segment between splits as its own LP (start fixed at the previous split's
   value, end fixed full; the last segment ends by the year's end rule);
3. stitches the primal solutions and the row duals into full-year vectors and computes the
   Lagrangian bound L(y) = sum_j min(d_j lb_j, d_j ub_j) + sum_i min(y_i lo_i, y_i hi_i) with
   d = c - A^T y, a valid lower bound on the year's optimum for ANY y (weak duality). The
   stitched dispatch is feasible for the year by construction, so
   ``c x - L(y)`` bounds its distance from the optimum;
4. if that certified gap exceeds ``tol`` (a guessed split was not pinned in any optimum), the
   splits whose stored-energy columns have the wrong reduced-cost sign are dropped and the
   merged segments re-solved, once; if the certificate still fails, the whole year is solved
   in one piece.

So the returned optimum is exact to ``tol`` (relative), certified, never assumed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from islandgrid.errors import SolverError
from islandgrid.optimize.build import build_model
from islandgrid.optimize.highs import lp_solution, new_highs, solver_failure, status_text
from islandgrid.optimize.model import Model, Penalties
from islandgrid.strategy.base import DispatchProblem
from islandgrid.strategy.rules import RuleStrategy


@dataclass(frozen=True)
class Decomposed:
    """A decomposed solve: the full-year solution, its objective and certificate.

    Attributes
    ----------
    x : ndarray
        Solution in the full-year model's columns.
    objective : float
        c x [currency].
    bound : float
        The Lagrangian lower bound from the stitched duals [currency].
    segments : int
        Number of independent LPs solved (1: the whole year).
    """

    x: np.ndarray
    objective: float
    bound: float
    segments: int

    @property
    def gap(self) -> float:
        """Certified relative gap (objective - bound) / |objective| [-]."""
        return max(self.objective - self.bound, 0.0) / max(abs(self.objective), 1e-9)


def split_candidates(problem: DispatchProblem, min_segment: int) -> np.ndarray:
    """Intervals where the stored energy is probably at its maximum in an optimum (see module doc)."""
    b = problem.battery
    if b.energy_kwh <= 0 or problem.n < 2 * min_segment:
        return np.zeros(0, dtype=np.int64)
    f = RuleStrategy("pv_first").dispatch(problem)
    full = (f["soc_kwh"] >= b.soc_max_kwh - 1e-6) & (f["pv_curtailed_kwh"] > 1e-6)
    ends = np.flatnonzero(full & ~np.r_[full[1:], False])
    chosen: list[int] = []
    last = -1
    for t in ends:
        if t - last >= min_segment and problem.n - 1 - t >= min_segment:
            chosen.append(int(t))
            last = int(t)
    return np.asarray(chosen, dtype=np.int64)


@dataclass(frozen=True)
class TimeMajor:
    """The year's LP with columns and rows sorted by interval, so that a run of intervals is a
    contiguous block of columns and of rows (the battery row of the block's first interval also
    refers to the stored energy before it, which the block takes as a constant)."""

    perm_c: np.ndarray  # time-major position -> model column
    perm_r: np.ndarray  # time-major position -> model row
    col_start_t: np.ndarray  # first time-major column of each interval (n + 1)
    row_start_t: np.ndarray  # first time-major row of each interval (n + 1)
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    e_pos: np.ndarray  # time-major column of the stored energy of each interval
    soc_row_pos: np.ndarray  # time-major row of the battery row of each interval


def time_major(model: Model) -> TimeMajor:
    """Permute ``model`` (an LP with a battery) to interval-major order."""
    from scipy import sparse

    n = model.problem.n
    col_t = np.empty(model.n_cols, dtype=np.int64)
    for c0, times in model.cols.values():
        col_t[c0 : c0 + len(times)] = times
    row_t = np.empty(model.n_rows, dtype=np.int64)
    for r0, times in model.rows.values():
        row_t[r0 : r0 + len(times)] = times
    perm_c = np.argsort(col_t, kind="stable")
    perm_r = np.argsort(row_t, kind="stable")
    inv_r = np.empty_like(perm_r)
    inv_r[perm_r] = np.arange(len(perm_r))
    a = sparse.csc_matrix((model.value, model.index, model.start), shape=(model.n_rows, model.n_cols))[:, perm_c]
    a = sparse.csc_matrix((a.data, inv_r[a.indices], a.indptr), shape=a.shape)
    a.sort_indices()
    inv_c = np.empty_like(perm_c)
    inv_c[perm_c] = np.arange(len(perm_c))
    e0, _ = model.cols["e"]
    s0, _ = model.rows["soc"]
    return TimeMajor(
        perm_c=perm_c,
        perm_r=perm_r,
        col_start_t=np.searchsorted(col_t[perm_c], np.arange(n + 1)),
        row_start_t=np.searchsorted(row_t[perm_r], np.arange(n + 1)),
        start=a.indptr.astype(np.int32),
        index=a.indices.astype(np.int32),
        value=a.data,
        cost=model.cost[perm_c],
        col_lower=model.col_lower[perm_c],
        col_upper=model.col_upper[perm_c],
        row_lower=model.row_lower[perm_r],
        row_upper=model.row_upper[perm_r],
        e_pos=inv_c[e0 + np.arange(n)],
        soc_row_pos=inv_r[s0 + np.arange(n)],
    )


def block_solver(time_limit_s: float) -> Any:
    """One Highs instance, re-used for every block, with the options measured best for blocks."""
    h = new_highs()
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("threads", 1)  # as every HiGHS instance here: the scheduler is per process
    h.setOptionValue("presolve", "off")  # measured: small blocks solve ~2x faster without it
    h.setOptionValue("simplex_dual_edge_weight_strategy", 0)  # Dantzig pricing: fewer, cheaper iterations here
    return h


def _solve_block(
    h: Any,
    tm: TimeMajor,
    model: Model,
    t0: int,
    t1: int,
    e_before: float | None,
    e_end: float | None,
    time_limit_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve intervals [t0, t1) as their own LP on ``h``; return (x, row duals) in time-major positions."""
    import highspy

    ca, cb = int(tm.col_start_t[t0]), int(tm.col_start_t[t1])
    ra, rb = int(tm.row_start_t[t0]), int(tm.row_start_t[t1])
    # the block's last stored energy also enters the next block's battery row: carry the rows up to
    # that one along as free rows (no bound, so no constraint) instead of filtering the entry out
    r_ext = int(tm.soc_row_pos[t1]) + 1 if t1 < len(tm.soc_row_pos) else rb
    pa, pb = int(tm.start[ca]), int(tm.start[cb])
    idx = (tm.index[pa:pb] - ra).astype(np.int32)
    start = (tm.start[ca:cb] - pa).astype(np.int32)
    lo, hi = tm.col_lower[ca:cb].copy(), tm.col_upper[ca:cb].copy()
    rlo, rhi = tm.row_lower[ra:r_ext].copy(), tm.row_upper[ra:r_ext].copy()
    rlo[rb - ra :], rhi[rb - ra :] = -np.inf, np.inf
    if e_end is not None:
        k = int(tm.e_pos[t1 - 1]) - ca
        lo[k] = hi[k] = e_end
    if e_before is not None:
        k = int(tm.soc_row_pos[t0]) - ra
        rlo[k] = rhi[k] = model.decay * e_before
    nc = cb - ca
    # the array form of passModel: ~10x less overhead than filling a HighsLp (measured); an all-zero
    # integrality vector keeps it an LP
    h.passModel(nc, r_ext - ra, pb - pa, 1, 1, 0.0, tm.cost[ca:cb], lo, hi, rlo, rhi, start, idx,
                tm.value[pa:pb], np.zeros(nc, dtype=np.int32))  # fmt: skip
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise solver_failure(model, status_text(h), time_limit_s)
    sol = h.getSolution()
    return np.asarray(sol.col_value), np.asarray(sol.row_dual)[: rb - ra]


def lagrangian_bound(model: Model, y: np.ndarray) -> float:
    """Weak-duality lower bound of ``model``'s optimum from any row multipliers ``y`` [currency].

    Multipliers whose sign would pick an infinite row bound are set to 0 first, so the bound is
    always finite (every column of the LP has finite bounds).
    """
    from scipy import sparse

    y = y.copy()
    y[np.isinf(model.row_upper) & (y < 0)] = 0.0
    y[np.isinf(model.row_lower) & (y > 0)] = 0.0
    a = sparse.csc_matrix((model.value, model.index, model.start), shape=(model.n_rows, model.n_cols))
    d = model.cost - a.T @ y
    col = np.where(d > 0, d * model.col_lower, d * model.col_upper)
    row = np.where(y > 0, y * np.where(np.isinf(model.row_lower), 0.0, model.row_lower),
                   y * np.where(np.isinf(model.row_upper), 0.0, model.row_upper))  # fmt: skip
    return float(col.sum() + row.sum()) + model.offset


def _solve_segments(
    model: Model, tm: TimeMajor, splits: np.ndarray, time_limit_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Solve the blocks between ``splits`` (stored energy pinned full there); full-year (x, y)."""
    p, b = model.problem, model.problem.battery
    e_cap = b.soc_max_kwh - b.soc_min_kwh
    x_tm = np.zeros(model.n_cols)
    y_tm = np.zeros(model.n_rows)
    bounds = [0, *(int(s) + 1 for s in splits), p.n]
    h = block_solver(time_limit_s)
    deadline = time.perf_counter() + time_limit_s  # one budget for all blocks: never hangs
    for j in range(len(bounds) - 1):
        t0, t1 = bounds[j], bounds[j + 1]
        left = deadline - time.perf_counter()
        if left <= 0:
            raise SolverError(
                f"the time limit ({time_limit_s:g} s) ran out after {j} of {len(bounds) - 1} blocks of the "
                f"decomposed LP ({p.n} intervals). Fix: raise --time-limit or use a coarser --resolution (1h)"
            )
        h.setOptionValue("time_limit", float(h.getRunTime()) + left)
        last = j == len(bounds) - 2
        e_before, e_end = None if j == 0 else e_cap, None if last else e_cap
        xs, ys = _solve_block(h, tm, model, t0, t1, e_before, e_end, time_limit_s)
        x_tm[tm.col_start_t[t0] : tm.col_start_t[t1]] = xs
        y_tm[tm.row_start_t[t0] : tm.row_start_t[t1]] = ys
    x = np.empty_like(x_tm)
    x[tm.perm_c] = x_tm
    y = np.empty_like(y_tm)
    y[tm.perm_r] = y_tm
    return x, y


def solve_decomposed(
    problem: DispatchProblem,
    end_soc: str = "free",
    penalties: Penalties | None = None,
    *,
    time_limit_s: float = 300.0,
    min_segment: int | None = None,
    tol: float = 1e-9,
) -> tuple[Model, Decomposed]:
    """Solve the year's LP by exact time decomposition (see the module docstring).

    Parameters
    ----------
    problem : DispatchProblem
        The year.
    end_soc : {'free', 'initial'}
        End-of-period rule.
    penalties : Penalties, optional
        Slack prices.
    time_limit_s : float
        For all blocks together [s] (and again for a one-piece fallback solve).
    min_segment : int, optional
        Fewest intervals between splits; default a day.
    tol : float
        Relative certified gap accepted [-].

    Returns
    -------
    model : Model
        The full-year LP (for mapping the solution back to flows).
    result : Decomposed
    """
    pen = penalties or Penalties()
    glob = build_model(problem, "lp", end_soc, pen)
    seg = min_segment or max(1, round(24.0 / problem.dt_h))
    splits = split_candidates(problem, seg) if "e" in glob.cols else np.zeros(0, dtype=np.int64)
    if len(splits) == 0:
        x, y = lp_solution(glob, time_limit_s)
        obj = float(glob.cost @ x) + glob.offset
        return glob, Decomposed(x, obj, obj, 1)
    tm = time_major(glob)
    for _attempt in range(2):
        x, y = _solve_segments(glob, tm, splits, time_limit_s)
        res = Decomposed(x, float(glob.cost @ x) + glob.offset, lagrangian_bound(glob, y), len(splits) + 1)
        if res.gap <= tol:
            return glob, res
        # drop the splits whose pinned stored energy has a reduced cost of the wrong sign
        from scipy import sparse

        a = sparse.csc_matrix((glob.value, glob.index, glob.start), shape=(glob.n_rows, glob.n_cols))
        d = glob.cost - a.T @ y
        e0 = glob.cols["e"][0]
        keep = d[e0 + splits] <= 1e-9 * max(1.0, abs(res.objective)) / problem.n
        if keep.all():
            break
        splits = splits[keep]
    x, y = lp_solution(glob, time_limit_s)
    obj = float(glob.cost @ x) + glob.offset
    return glob, Decomposed(x, obj, obj, 1)
