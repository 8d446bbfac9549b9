"""A placement of jobs on the time grid (:class:`Schedule`) and the runner that drives the job kernel.

:class:`JobGrid` puts a :class:`~islandgrid.compute.jobs.Jobs` set and the room's series on the
simulation's time grid (release rounded up and deadline down to interval boundaries);
:class:`JobRunner` runs :func:`islandgrid.compute.kernel.run_jobs` over the year, in one call or in
segments (the MPC re-plans between them), and returns the :class:`Schedule`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from islandgrid.compute import kernel as jk
from islandgrid.compute.jobs import Jobs
from islandgrid.inputs.load import node_it_minute_factor
from islandgrid.strategy.base import DispatchProblem

#: The event log's reasons in words.
EVENT_REASONS: dict[int, str] = {
    jk.WHY_WANTS: "the policy runs it (fifo: released; green: PV surplus or battery above its green floor; "
    "optimal/mpc: planned)",
    jk.WHY_GUARD: "guarded: fifo would run it now and meet its deadline",
    jk.WHY_FORCED: "forced: its deadline (latest start) or the room's capacity-time to a deadline",
    jk.WHY_NO_BUDGET: "no green budget: PV below the inflexible load and the battery at its green floor",
    jk.WHY_ISLANDED: "islanded: jobs run on PV surplus only (no diesel, the battery kept for the outage)",
    jk.WHY_NOT_PLANNED: "not in the plan for this interval",
    jk.WHY_YIELDS: "yields the room to a guarded or forced job",
    jk.WHY_NO_ROOM: "no room: the room's capacity is taken by jobs ahead of it",
}


@dataclass(frozen=True)
class JobGrid:
    """Jobs and the room on one time grid.

    Attributes
    ----------
    jobs : Jobs
    index : pandas.DatetimeIndex
        Interval starts.
    dt_h : float
        Step [h].
    base_it_kw, pue : ndarray
        Inflexible IT [kW] and PUE [-] per interval.
    rating_kw : float
        The room's rated IT power [kW].
    rel_idx, dl_idx : ndarray of int
        First interval a job may run in; the interval boundary it must finish by.
    fac_cum : ndarray
        Cumulative integral of the node's minute power factor over one trace period [min].
    """

    jobs: Jobs
    index: pd.DatetimeIndex
    dt_h: float
    base_it_kw: np.ndarray
    pue: np.ndarray
    rating_kw: float
    rel_idx: np.ndarray
    dl_idx: np.ndarray
    fac_cum: np.ndarray

    @classmethod
    def build(
        cls, jobs: Jobs, index: pd.DatetimeIndex, dt_h: float, base_it_kw: np.ndarray, pue: np.ndarray, rating_kw: float
    ) -> JobGrid:
        """Round the jobs' times to the grid (release up, deadline down)."""
        step = pd.Timedelta(hours=dt_h)
        rel = np.ceil(((jobs.release - index[0]) / step).to_numpy(dtype=float) - 1e-9).astype(np.int64)
        dl = np.floor(((jobs.deadline - index[0]) / step).to_numpy(dtype=float) + 1e-9).astype(np.int64)
        fac = node_it_minute_factor()
        return cls(
            jobs=jobs,
            index=index,
            dt_h=dt_h,
            base_it_kw=np.ascontiguousarray(base_it_kw, dtype=float),
            pue=np.ascontiguousarray(pue, dtype=float),
            rating_kw=float(rating_kw),
            rel_idx=np.maximum(rel, 0),
            dl_idx=np.minimum(dl, len(index)),
            fac_cum=np.concatenate([[0.0], np.cumsum(fac)]),
        )

    @property
    def n(self) -> int:
        """Intervals."""
        return len(self.index)

    @property
    def mean_factor(self) -> float:
        """Mean of the node's power factor over its trace [-]."""
        return float(self.fac_cum[-1] / (len(self.fac_cum) - 1))

    @property
    def flex_cap_kw(self) -> float:
        """Room for jobs: the rating less the inflexible IT's peak [kW]."""
        return float(self.rating_kw - self.base_it_kw.max(initial=0.0))

    @property
    def arrival_kw(self) -> float:
        """The jobs' mean demand on the room's capacity over the period: sum of peak × duration over
        its length [kW] (what jobs not yet released take on average)."""
        j = self.jobs
        return float((j.peak_kw * j.duration_h).sum() / (self.n * self.dt_h))

    def need_intervals(self) -> np.ndarray:
        """Intervals each job needs run alone and without pause [-]."""
        return np.ceil(self.jobs.duration_h / self.dt_h - 1e-9).astype(np.int64)

    def feasible(self) -> np.ndarray:
        """Jobs that can meet their deadline at all: run alone from release, they fit the window and the
        room's spare capacity, and the window lies in the simulated period."""
        j = self.jobs
        return (
            (self.rel_idx + self.need_intervals() <= self.dl_idx)
            & (j.peak_kw <= self.flex_cap_kw + 1e-9)
            & (self.rel_idx < self.n)
        )


@dataclass(frozen=True)
class Schedule:
    """Where the jobs ran.

    Attributes
    ----------
    grid : JobGrid
    policy : str
    rows : pandas.DataFrame
        One row per job and interval it ran in: job (index into the jobs), t (interval), run_min,
        work_min, overhead_min (resume cost paid), it_kwh.
    events : pandas.DataFrame
        The event log: one row per start, pause, resume and finish (job, t, kind, why; the codes of
        :mod:`islandgrid.compute.kernel`, in words by :meth:`event_log`).
    start_min, finish_min : ndarray
        Per job, from the first interval's start [min]; NaN if it never started / finished.
    n_resumes : ndarray of int
    flex_it_kwh : ndarray
        The jobs' IT energy per interval [kWh].
    """

    grid: JobGrid
    policy: str
    rows: pd.DataFrame
    events: pd.DataFrame
    start_min: np.ndarray
    finish_min: np.ndarray
    n_resumes: np.ndarray
    flex_it_kwh: np.ndarray

    @property
    def flex_it_kw(self) -> np.ndarray:
        """The jobs' mean IT power per interval [kW]."""
        return self.flex_it_kwh / self.grid.dt_h

    def load_kw(self) -> np.ndarray:
        """The room's demand: (inflexible IT + jobs) × PUE [kW]."""
        return (self.grid.base_it_kw + self.flex_it_kw) * self.grid.pue

    def event_log(self) -> pd.DataFrame:
        """The event log in words: time (interval start), job, event and its reason."""
        kinds = {jk.EV_START: "start", jk.EV_PAUSE: "pause", jk.EV_RESUME: "resume", jk.EV_FINISH: "finish"}
        e = self.events
        return pd.DataFrame(
            {
                "time": self.grid.index[e["t"].to_numpy()],
                "job_id": self.grid.jobs.job_id[e["job"].to_numpy()],
                "event": [kinds[k] for k in e["kind"]],
                "reason": [EVENT_REASONS.get(int(w), "") for w in e["why"]],
            }
        )

    def finish_time(self) -> pd.DatetimeIndex:
        """Finish times (NaT for a job not finished in the period)."""
        return self.grid.index[0] + pd.to_timedelta(self.finish_min, unit="min")


class JobRunner:
    """Drives the job kernel over a problem's intervals, keeping its state between calls."""

    def __init__(
        self,
        grid: JobGrid,
        problem: DispatchProblem,
        mode: int,
        *,
        green_floor_frac: float = 0.6,
        force_margin: int = 1,
        guard_idx: np.ndarray | None = None,
    ) -> None:
        j, b = grid.jobs, problem.battery
        never = np.full(j.n, np.iinfo(np.int64).max, dtype=np.int64)
        self.guard = np.ascontiguousarray(guard_idx if guard_idx is not None else never, dtype=np.int64)
        self.grid, self.problem, self.mode, self.force_margin = grid, problem, mode, force_margin
        self.bat = np.array(
            [
                b.soc_min_kwh,
                b.soc_max_kwh,
                b.reserve_kwh,
                green_floor_frac * b.energy_kwh,
                b.charge_kw,
                b.discharge_kw,
                b.eta_charge,
                b.eta_discharge,
                b.self_discharge_frac_per_h,
            ]
        )
        self.work_min = np.ascontiguousarray(j.duration_h * 60.0)
        self.status = np.zeros(j.n, dtype=np.int64)
        self.progress = np.zeros(j.n)
        self.overhead_left = np.zeros(j.n)
        self.n_resumes = np.zeros(j.n, dtype=np.int64)
        self.start_min = np.full(j.n, np.nan)
        self.finish_min = np.full(j.n, np.nan)
        self.soc = np.array([b.soc_init_kwh])
        ck = np.where(j.checkpoint_min > 0, j.checkpoint_min, np.inf)
        pauses = np.where(np.isfinite(ck), np.floor(self.work_min / ck), 0.0)
        dt_min = grid.dt_h * 60.0
        bound = np.ceil(self.work_min / dt_min) + 2 + 3 * pauses + np.ceil(pauses * j.resume_cost_min / dt_min)
        self.rows = np.empty((int(bound.sum()) + 1, jk.N_ROWCOLS))  # rows [0, n_rows) are written
        self.n_rows = np.zeros(1, dtype=np.int64)
        # at most a start, a finish and a pause and a resume per checkpoint of each job
        self.events = np.empty((int(2 * j.n + 2 * pauses.sum()) + 1, 4), dtype=np.int64)
        self.n_events = np.zeros(1, dtype=np.int64)
        self.flex_it_kwh = np.zeros(grid.n)
        self.t = 0

    def run(self, t1: int, plan_ptr: np.ndarray | None = None, plan_t: np.ndarray | None = None) -> None:
        """Run intervals ``[self.t, t1)``; a plan (CSR: per job, sorted intervals) for the PLAN mode."""
        g, p, j = self.grid, self.problem, self.grid.jobs
        if plan_ptr is None or plan_t is None:
            plan_ptr, plan_t = np.zeros(j.n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
        jk.run_jobs(
            self.t,
            t1,
            g.dt_h,
            g.base_it_kw,
            g.pue,
            np.ascontiguousarray(p.pv_kw, dtype=float),
            np.ascontiguousarray(p.grid_available, dtype=np.bool_),
            g.flex_cap_kw,
            g.arrival_kw,
            self.bat,
            np.ascontiguousarray(j.peak_kw),
            self.work_min,
            np.ascontiguousarray(j.checkpoint_min),
            np.ascontiguousarray(j.resume_cost_min),
            g.rel_idx,
            g.dl_idx,
            np.ascontiguousarray(j.priority),
            self.guard,
            g.fac_cum,
            self.mode,
            self.force_margin,
            plan_ptr,
            plan_t,
            self.status,
            self.progress,
            self.overhead_left,
            self.n_resumes,
            self.start_min,
            self.finish_min,
            np.ascontiguousarray(plan_ptr[:-1].copy()),
            self.soc,
            self.rows,
            self.n_rows,
            self.flex_it_kwh,
            self.events,
            self.n_events,
        )
        self.t = t1

    def on_grid(self, grid: JobGrid) -> JobRunner:
        """This finished ``fifo`` run on ``grid``: the same jobs and room with other deadlines (``fifo``
        places jobs without looking at deadlines, so its run is the same; the guard and the lateness
        then read the new ones)."""
        same = (
            self.mode == jk.FIFO
            and self.t == grid.n == self.grid.n
            and np.array_equal(grid.rel_idx, self.grid.rel_idx)
            and np.array_equal(grid.jobs.peak_kw, self.grid.jobs.peak_kw)
            and np.array_equal(grid.jobs.duration_h, self.grid.jobs.duration_h)
        )
        if not same:
            raise ValueError("on_grid: only a finished fifo run, on the same jobs and room")
        self.grid = grid
        return self

    def guard_from_fifo(self, slack_share: float = 0.5) -> np.ndarray:
        """Per job this (``fifo``) run met the deadline of: the interval from which a policy must run it,
        ``fifo``'s start plus ``slack_share`` of the time ``fifo`` finished it early (0: ``fifo``'s own
        start); never for a job ``fifo`` missed (the kernel's ``guard_idx``)."""
        g = self.grid
        step = g.dt_h * 60.0
        dl_min = ((g.jobs.deadline - g.index[0]) / pd.Timedelta(minutes=1)).to_numpy(dtype=float)
        met = self.finish_min <= dl_min + 1e-6
        spare = np.nan_to_num(dl_min - self.finish_min, nan=0.0) * slack_share
        start = np.floor((np.nan_to_num(self.start_min, nan=0.0) + spare) / step + 1e-9).astype(np.int64)
        return np.where(met, np.maximum(start, 0), np.iinfo(np.int64).max).astype(np.int64)

    def remaining_min(self) -> np.ndarray:
        """Work left per job plus a paused job's resume cost [min]."""
        paused = self.status == jk.PAUSED
        return self.work_min - self.progress + self.overhead_left + np.where(paused, self.grid.jobs.resume_cost_min, 0)

    def schedule(self, policy: str) -> Schedule:
        """The placement so far."""
        r = self.rows[: int(self.n_rows[0])]
        rows = pd.DataFrame(
            {
                "job": r[:, jk.R_JOB].astype(np.int64),
                "t": r[:, jk.R_T].astype(np.int64),
                "run_min": r[:, jk.R_RUN],
                "work_min": r[:, jk.R_WORK],
                "overhead_min": r[:, jk.R_OVER],
                "it_kwh": r[:, jk.R_KWH],
            }
        )
        ev = self.events[: int(self.n_events[0])]
        events = pd.DataFrame({"job": ev[:, 0], "t": ev[:, 1], "kind": ev[:, 2], "why": ev[:, 3]})
        return Schedule(
            grid=self.grid,
            policy=policy,
            rows=rows,
            events=events,
            start_min=self.start_min.copy(),
            finish_min=self.finish_min.copy(),
            n_resumes=self.n_resumes.copy(),
            flex_it_kwh=self.flex_it_kwh.copy(),
        )
