"""The job-policy registry, behind one seam: a policy places the jobs of a :class:`JobGrid` on a
problem's intervals and returns a :class:`Schedule`.

=========  ===================================================================================
fifo       start on release (first come, first served while the room has capacity), run to the end
green      start or pause jobs on PV surplus, battery state and grid state; deadline-aware
optimal    jobs co-optimised with dispatch under perfect foresight (the plant's LP with job columns,
           relaxed, rounded to a plan the job kernel runs): the bound
mpc        the same LP over a rolling horizon on forecasts (clear-sky PV, seasonal-naive load,
           the grid assumed up beyond a measured outage), re-planned every ``mpc_replan_h``
=========  ===================================================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from islandgrid.compute import kernel as jk
from islandgrid.compute.checks import late_given
from islandgrid.compute.plan import build_job_lp, plan_from_lp, solve_job_lp
from islandgrid.compute.schedule import JobGrid, JobRunner, Schedule
from islandgrid.errors import SiteFileError
from islandgrid.forecast.registry import build_forecaster
from islandgrid.optimize.model import Horizon, InitialState
from islandgrid.site.compute import JOB_POLICIES, ComputeSpec
from islandgrid.strategy.base import DispatchProblem

SUMMARIES: dict[str, str] = {
    "fifo": "start on release, run to the end (first come, first served): the baseline",
    "green": "start or pause flexible jobs on PV surplus, battery state and grid state; never misses a deadline "
    "it can meet",
    "optimal": "jobs co-optimised with dispatch under perfect foresight (LP relaxation, rounded): the bound",
    "mpc": "jobs re-planned on forecasts over a rolling horizon with the same LP (usable live)",
}


@dataclass
class PlacementInfo:
    """What a policy did beyond the placement (the LP's bound, solve time)."""

    lp_objective: float | None = None
    solve_s: float = 0.0
    n_solves: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Policy(Protocol):
    """A job policy: the jobs on the grid, the plant's problem, the section -> the placement and what it
    did. ``fifo``: the finished ``fifo`` run of these jobs, when the caller has it (else it is run)."""

    def __call__(
        self, grid: JobGrid, problem: DispatchProblem, spec: ComputeSpec, fifo: JobRunner | None = None
    ) -> tuple[Schedule, PlacementInfo]: ...


def fifo_run(grid: JobGrid, problem: DispatchProblem, fifo: JobRunner | None = None) -> JobRunner:
    """The finished ``fifo`` run of the grid's jobs (``fifo`` itself when given)."""
    if fifo is None:
        fifo = JobRunner(grid, problem, jk.FIFO)
        fifo.run(grid.n)
    return fifo


def _fifo(
    grid: JobGrid, problem: DispatchProblem, spec: ComputeSpec, fifo: JobRunner | None = None
) -> tuple[Schedule, PlacementInfo]:
    return fifo_run(grid, problem, fifo).schedule("fifo"), PlacementInfo()


#: Shares of the time ``fifo`` finishes a job before its deadline by which a policy may first defer it
#: beyond ``fifo``'s start (the kernel's guard), tried in turn [-].
GUARD_SLACK_SHARES = (1.0, 0.5, 0.25, 0.1)
#: Rounds of repair per share (a job ``fifo`` met and the policy missed gets ``fifo``'s own start).
GUARD_REPAIRS = 3


def guarded(
    grid: JobGrid,
    problem: DispatchProblem,
    replay: Callable[[np.ndarray], JobRunner],
    name: str,
    fifo: JobRunner | None = None,
) -> tuple[Schedule, int, bool]:
    """Run a policy (``replay``: guard -> its finished runner) under guards from ``fifo`` until it misses no deadline
    ``fifo`` meets.

    Every job ``fifo`` met is guarded from ``fifo``'s start plus a share of its spare time
    (``GUARD_SLACK_SHARES``, largest first); a job the policy then misses gets ``fifo``'s own start and
    the policy runs again (``GUARD_REPAIRS`` rounds per share; a repair that leaves the guard as it was,
    every missed job already at ``fifo``'s start, would repeat the run, so the next share is tried
    instead); the first run that misses none is returned. Then every guard goes to ``fifo``'s start:
    the guarded jobs at any time are then among those ``fifo`` runs, go first, and the jobs not
    guarded pause at their checkpoints one interval before the guarded would not fit (the kernel), so
    each finishes no later than under ``fifo`` —
    except where a running job cannot reach a checkpoint in time (a resume cost, a checkpoint interval
    longer than the step). Should that run still miss one, ``fifo``'s own placement is returned: the
    promise holds unconditionally. Returns the schedule, the number of runs and whether it fell back to
    ``fifo``.
    """
    fifo = fifo_run(grid, problem, fifo)
    fifo_late = late_given(grid, fifo.finish_min)
    strict = fifo.guard_from_fifo(0.0)
    runs = 0
    for share in GUARD_SLACK_SHARES:
        guard = fifo.guard_from_fifo(share)
        for _ in range(GUARD_REPAIRS):
            r = replay(guard)
            runs += 1
            miss = late_given(grid, r.finish_min) & ~fifo_late
            if not miss.any():
                return r.schedule(name), runs, False
            if np.array_equal(guard[miss], strict[miss]):
                break  # every job it missed already had fifo's start: a rerun would be this run again
            guard[miss] = strict[miss]
    r = replay(strict)
    runs += 1
    if (late_given(grid, r.finish_min) & ~fifo_late).any():
        # the last resort's argument has a hole (a running job holds the room up to its next checkpoint,
        # a resume cost cannot be cut short): fifo's own placement keeps the promise
        return fifo.schedule(name), runs, True
    return r.schedule(name), runs, False


def _green(
    grid: JobGrid, problem: DispatchProblem, spec: ComputeSpec, fifo: JobRunner | None = None
) -> tuple[Schedule, PlacementInfo]:
    def replay(guard: np.ndarray) -> JobRunner:
        r = JobRunner(grid, problem, jk.GREEN, green_floor_frac=spec.green_battery_min_frac, guard_idx=guard)
        r.run(grid.n)
        return r

    s, repairs, fell_back = guarded(grid, problem, replay, "green", fifo)
    return s, PlacementInfo(extra={"guard_runs": repairs, "fell_back_to_fifo": fell_back})


#: How long past its deadline the LP may place a job [h] (at the lateness price).
LATE_WINDOW_H = 48.0


def _windows(grid: JobGrid) -> tuple[np.ndarray, np.ndarray]:
    """Each job's LP window: [release, deadline + LATE_WINDOW_H), within the period."""
    hi = np.minimum(grid.dl_idx + round(LATE_WINDOW_H / grid.dt_h), grid.n)
    return grid.rel_idx.copy(), np.maximum(hi, grid.rel_idx)


def _optimal(
    grid: JobGrid, problem: DispatchProblem, spec: ComputeSpec, fifo: JobRunner | None = None
) -> tuple[Schedule, PlacementInfo]:
    t0 = time.perf_counter()
    lo, hi = _windows(grid)
    work = grid.jobs.duration_h * 60.0
    need = np.minimum(work, 60.0 * grid.dt_h * (np.minimum(hi, grid.n) - lo))
    lp = build_job_lp(problem, grid, 0, grid.n, np.arange(grid.jobs.n), need, need, lo, hi, due=grid.dl_idx)
    x, obj = solve_job_lp(lp)
    ptr, pt = plan_from_lp(lp, x, grid.jobs.n, grid.dt_h)

    def replay(guard: np.ndarray) -> JobRunner:
        r = JobRunner(grid, problem, jk.PLAN, guard_idx=guard)
        r.run(grid.n, ptr, pt)
        return r

    s, repairs, fell_back = guarded(grid, problem, replay, "optimal", fifo)
    # the bound on the plant's objective: without the lateness and unplaced-work prices of the job columns
    late_cost = float(lp.model.cost[lp.col0 :] @ x[lp.col0 :])
    info = PlacementInfo(lp_objective=obj - late_cost, solve_s=time.perf_counter() - t0, n_solves=1)
    info.extra["guard_runs"] = repairs
    info.extra["fell_back_to_fifo"] = fell_back
    info.extra["lp_lateness_cost"] = late_cost
    return s, info


def _mpc(
    grid: JobGrid, problem: DispatchProblem, spec: ComputeSpec, fifo: JobRunner | None = None
) -> tuple[Schedule, PlacementInfo]:
    p = problem
    fc = build_forecaster("clearsky", p)
    horizon = max(1, round(spec.mpc_horizon_h / p.dt_h))
    replan = max(1, round(spec.mpc_replan_h / p.dt_h))
    lo_all, hi_all = _windows(grid)
    fifo = fifo_run(grid, p, fifo)
    r = JobRunner(grid, p, jk.PLAN, guard_idx=fifo.guard_from_fifo(GUARD_SLACK_SHARES[0]))
    plans: list[tuple[int, np.ndarray | None, np.ndarray | None]] = []
    info = PlacementInfo()
    t_start = time.perf_counter()
    dt_min = 60.0 * p.dt_h
    for t in range(0, grid.n, replan):
        f = fc.issue(p, t, horizon)
        t1 = t + len(f.pv_kw)
        sl = slice(t, t1)
        h = Horizon(
            pv_kw=f.pv_kw,
            load_kw=f.load_kw,
            critical_kw=f.critical_kw,
            grid_available=f.grid_available,
            import_price=p.import_price_per_kwh[sl],
            export_price=p.export_price_per_kwh[sl],
            grid_co2=p.grid_co2_kg_per_kwh[sl],
            reserve_kwh=p.battery.reserve_kwh,
        )
        active = np.flatnonzero((grid.rel_idx < t1) & (r.status != jk.DONE))
        if len(active) == 0:
            plans.append((min(t + replan, grid.n), None, None))
            r.run(plans[-1][0])
            continue
        rem = r.remaining_min()[active]
        lo = np.maximum(lo_all[active], t)
        hi = np.maximum(hi_all[active], t1)
        beyond = np.maximum(grid.dl_idx[active] - t1, 0) * dt_min
        span = np.maximum(np.minimum(hi, t1) - lo, 0) * dt_min
        need_hi = np.minimum(rem, span)
        need_lo = np.minimum(np.maximum(rem - beyond, 0.0), need_hi)
        lp = build_job_lp(
            p,
            grid,
            t,
            t1,
            active,
            need_lo,
            need_hi,
            lo,
            hi,
            horizon=h,
            state=InitialState(float(r.soc[0])),
            end_soc="terminal",
            due=grid.dl_idx[active],
        )
        x, _obj = solve_job_lp(lp, time_limit_s=10.0)
        info.n_solves += 1
        ptr, pt = plan_from_lp(lp, x, grid.jobs.n, p.dt_h)
        plans.append((min(t + replan, grid.n), ptr, pt))
        r.run(*plans[-1])
    info.solve_s = time.perf_counter() - t_start

    def replay(guard: np.ndarray) -> JobRunner:
        """The kernel on the plans the MPC issued (a repair changes only which jobs are guarded)."""
        rr = JobRunner(grid, p, jk.PLAN, guard_idx=guard)
        for t1, ptr, pt in plans:
            rr.run(t1, ptr, pt)
        return rr

    s, repairs, fell_back = guarded(grid, p, replay, "mpc", fifo)
    info.extra["guard_runs"] = repairs
    info.extra["fell_back_to_fifo"] = fell_back
    return s, info


def job_policies() -> dict[str, Policy]:
    """Every job policy by name."""
    table: dict[str, Policy] = {"fifo": _fifo, "green": _green, "optimal": _optimal, "mpc": _mpc}
    assert tuple(table) == JOB_POLICIES
    return table


def get_job_policy(name: str, source: str | None = None) -> Policy:
    """The policy called ``name``; an unknown name is exit 2 with the list."""
    table = job_policies()
    if name not in table:
        raise SiteFileError(
            "unknown job policy",
            source=source,
            field="--job-policy" if source is None else "compute.job_policy",
            value=name,
            allowed=", ".join(table),
            fix="pick one of those names",
        )
    return table[name]
