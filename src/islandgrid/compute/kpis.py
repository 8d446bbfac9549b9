"""Job KPIs of a run with flexible compute.

=============================  ===========================================================================
``jobs_total``                 jobs in the period
``jobs_infeasible``            jobs that cannot meet their deadline even alone in the room (not counted late)
``jobs_late``                  feasible jobs finished after their deadline (or not in the period)
``jobs_late_fifo_met``           of those, jobs ``fifo`` finished in time (a deadline the policy could meet)
``job_delay_h_mean``, ``_p95``  finish − earliest possible finish (release on the grid + duration) [h],
                               over the jobs finished in the period
``gpu_hours``                  GPUs × hours run, resume costs included [GPU h] (a job given in kW
                               counts its peak over the per-GPU IT power)
``flexible_energy_shifted_kwh`` room energy (IT × PUE) moved in time against ``fifo``:
                               ½ Σ_t |jobs_t − jobs_fifo,t| × PUE_t [kWh]
``cfe_hourly_score``           Σ_h min(load_h, CFE_h) / Σ_h load_h over local clock hours, CFE = the load
                               served by on-site PV (through the battery, the carbon flow's source mix)
                               plus ``[carbon] grid_cfe_share`` of the load served by the grid [-]
=============================  ===========================================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from islandgrid.compute.checks import deadline_misses, late_jobs
from islandgrid.compute.jobs import gpu_it_kw
from islandgrid.compute.schedule import Schedule


def cfe_hourly_score(flows: pd.DataFrame, carbon: pd.DataFrame, tz: str, grid_cfe_share: float | None) -> float:
    """Hourly-matched carbon-free share of the load (module docstring) [-]."""
    served = flows["load_served_kwh"]
    cfe = served * carbon["load_pv_frac"] + served * carbon["load_grid_frac"] * float(grid_cfe_share or 0.0)
    local = pd.DataFrame({"load": flows["load_kwh"], "cfe": cfe}).tz_convert(tz)
    h = local.groupby(pd.DatetimeIndex(local.index).floor("h")).sum()
    total = float(h["load"].sum())
    return float(np.minimum(h["load"], h["cfe"]).sum()) / total if total > 0 else 0.0


def job_kpis(s: Schedule, fifo: Schedule | None) -> dict[str, Any]:
    """The job KPIs of ``s`` (``fifo``: the same jobs first come, first served, for the shift)."""
    g, j = s.grid, s.grid.jobs
    feasible = g.feasible()
    earliest_min = g.rel_idx * g.dt_h * 60.0 + j.duration_h * 60.0
    done = np.isfinite(s.finish_min)
    delay_h = (s.finish_min[done] - earliest_min[done]) / 60.0
    run_h = np.bincount(s.rows["job"].to_numpy(), weights=s.rows["run_min"].to_numpy(), minlength=j.n) / 60.0
    gpus = np.where(np.isfinite(j.gpus), j.gpus, j.peak_kw / gpu_it_kw())
    shifted = 0.0
    if fifo is not None:
        shifted = float(0.5 * (np.abs(s.flex_it_kwh - fifo.flex_it_kwh) * g.pue).sum())
    return {
        "job_policy": s.policy,
        "jobs_total": int(j.n),
        "jobs_infeasible": int((~feasible).sum()),
        "jobs_late": int(late_jobs(s).sum()),
        "jobs_late_fifo_met": int(deadline_misses(s, fifo).sum()) if fifo is not None else 0,
        "job_delay_h_mean": float(delay_h.mean()) if len(delay_h) else 0.0,
        "job_delay_h_p95": float(np.percentile(delay_h, 95)) if len(delay_h) else 0.0,
        "gpu_hours": float((gpus * run_h).sum()),
        "flexible_energy_shifted_kwh": shifted,
        "job_resumes": int(s.n_resumes.sum()),
        "flexible_it_kwh": float(s.flex_it_kwh.sum()),
    }
