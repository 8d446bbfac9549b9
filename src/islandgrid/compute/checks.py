"""The promises every job policy keeps, checked on its :class:`~islandgrid.compute.schedule.Schedule`.

Hard promises (a broken one is a bug: :class:`~islandgrid.errors.SimulationError`):

- **duration**: a finished job did exactly its work (duration) and paid exactly one resume cost
  per resume (run time = duration + resumes × resume cost);
- **release**: no job runs in an interval starting before its release is rounded up to the grid;
- **checkpoint**: a job stops only at a checkpoint (work done a multiple of its checkpoint interval;
  a job without checkpoints never stops before it is done), and runs every interval from a start
  or resume until it stops (no hidden pause);
- **rating**: inflexible IT + the peaks of the jobs running in an interval never exceed the room's
  rating;
- **energy**: the jobs' IT energy per interval is the sum of their rows.

Deadlines are reported, not raised: :func:`late_jobs` gives the jobs that could meet their deadline
alone in the room (:meth:`JobGrid.feasible`) and did not; in a congested room some of those cannot
all be met by any policy. :func:`deadline_misses` lists, for the ``green``, ``optimal`` and ``mpc``
policies, the jobs ``fifo`` met and the policy missed (the kernel's guard is built to leave none;
the job KPIs count them as ``jobs_late_fifo_met``).
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from islandgrid.compute.schedule import JobGrid, Schedule
from islandgrid.errors import SimulationError

_TOL_MIN = 1e-6


def late_jobs(s: Schedule) -> np.ndarray:
    """Jobs that could meet their deadline and finished after it, or not at all (bool per job)."""
    return late_given(s.grid, s.finish_min)


def late_given(g: JobGrid, finish_min: np.ndarray) -> np.ndarray:
    """:func:`late_jobs` from the finish times [min from the period's start] alone."""
    dl_min = (g.jobs.deadline - g.index[0]) / pd.Timedelta(minutes=1)
    late = ~(finish_min <= np.asarray(dl_min, dtype=float) + _TOL_MIN)
    return late & g.feasible()


@numba.njit(cache=True)
def group_cumsum(group: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Running sum of ``x`` within each run of equal ``group`` values (rows sorted by group), summed in
    order as a groupby's cumsum does."""
    out = np.empty(len(x))
    acc = 0.0
    for i in range(len(x)):
        if i == 0 or group[i] != group[i - 1]:
            acc = 0.0
        acc += x[i]
        out[i] = acc
    return out


def schedule_violations(s: Schedule) -> list[str]:
    """Every broken promise of ``s``, one line each (empty: all kept)."""
    g, j = s.grid, s.grid.jobs
    out: list[str] = []
    order = np.lexsort((s.rows["t"].to_numpy(), s.rows["job"].to_numpy()))  # by job, then interval (stable)
    job = s.rows["job"].to_numpy()[order]
    t = s.rows["t"].to_numpy()[order]
    work_min = s.rows["work_min"].to_numpy()[order]
    dt_min = g.dt_h * 60.0
    work = np.bincount(job, weights=work_min, minlength=j.n)
    over = np.bincount(job, weights=s.rows["overhead_min"].to_numpy()[order], minlength=j.n)
    done = np.isfinite(s.finish_min)
    for i in np.flatnonzero(done & (np.abs(work - j.duration_h * 60.0) > _TOL_MIN)):
        out.append(
            f"duration: job {j.job_id[i]} did {work[i]:.4f} min of work, its duration is {j.duration_h[i] * 60:.4f}"
        )
    for i in np.flatnonzero(np.abs(over - s.n_resumes * j.resume_cost_min) > _TOL_MIN):
        out.append(f"duration: job {j.job_id[i]} paid {over[i]:.4f} min of resume cost for {s.n_resumes[i]} resume(s)")
    early = t < g.rel_idx[job]
    for r in np.flatnonzero(early)[:10]:
        out.append(f"release: job {j.job_id[job[r]]} runs in interval {t[r]}, before its release {j.release[job[r]]}")
    # pauses: a row that is not the job's last and either runs less than the whole interval or is
    # followed by a gap; the work done by its end must be a multiple of the checkpoint interval
    cum = group_cumsum(job, work_min)
    last = np.r_[job[1:] != job[:-1], True]
    gap = np.r_[(t[1:] - t[:-1] > 1) & (job[1:] == job[:-1]), False]
    short = s.rows["run_min"].to_numpy()[order] < dt_min - _TOL_MIN
    stop = np.flatnonzero(~last & (gap | short))
    ck = j.checkpoint_min[job[stop]]
    rem = np.where(ck > 0, cum[stop] % np.where(ck > 0, ck, 1.0), np.inf)
    at_ck = (ck > 0) & (np.minimum(rem, ck - rem) <= _TOL_MIN)
    for r, c in zip(stop[~at_ck], ck[~at_ck], strict=True):
        out.append(
            f"checkpoint: job {j.job_id[job[r]]} stops after {cum[r]:.3f} min of work in interval {t[r]}, "
            f"not at a checkpoint (every {c:g} min)"
        )
    peak = np.bincount(t, weights=j.peak_kw[job], minlength=g.n)
    over_kw = g.base_it_kw + peak - g.rating_kw
    for k in np.flatnonzero(over_kw > 1e-6)[:10]:
        out.append(f"rating: interval {k}: IT {g.base_it_kw[k] + peak[k]:.2f} kW above the room's {g.rating_kw:g} kW")
    e = np.bincount(t, weights=s.rows["it_kwh"].to_numpy()[order], minlength=g.n)
    bad = np.abs(e - s.flex_it_kwh) > 1e-6 * np.maximum(1.0, np.abs(e))
    for k in np.flatnonzero(bad)[:10]:
        out.append(f"energy: interval {k}: jobs' rows give {e[k]:.6f} kWh, the schedule {s.flex_it_kwh[k]:.6f}")
    return out


def deadline_misses(s: Schedule, fifo: Schedule) -> np.ndarray:
    """Jobs ``fifo`` finished by their deadline and ``s`` did not (bool per job)."""
    return late_jobs(s) & ~late_jobs(fifo) & fifo.grid.feasible()


def check_schedule(s: Schedule) -> None:
    """Raise :class:`SimulationError` naming every broken promise (:func:`schedule_violations`)."""
    v = schedule_violations(s)
    if v:
        more = f" (+{len(v) - 10} more)" if len(v) > 10 else ""
        raise SimulationError(f"job policy '{s.policy}' broke its promises: " + "; ".join(v[:10]) + more)
