"""A seeded synthetic stream of training jobs drawn from the site's AI-training profile.

Defaults (``[compute]``, :class:`islandgrid.site.compute.ComputeSpec`):

- **energy**: jobs are drawn until their IT energy at the node's mean draw reaches
  ``flexible_frac`` of the ``[load]`` profile's IT energy over the year, so that inflexible
  IT (the rest of the profile) plus the jobs is the room's energy, to within one job;
- **sizes**: 8 or 16 GPUs with probabilities 0.7 / 0.3 (one or two 8-GPU nodes); sizes
  that do not fit the room's spare capacity (rating less the inflexible peak) are not drawn;
- **run time**: lognormal with median 30 h and log-standard deviation 0.8, the AI-training
  profile's own training runs (``inputs/load.py``), capped at 168 h, at least 1 h, whole minutes;
- **arrivals**: a Poisson stream over the year: given their number, releases are independent
  and uniform (the order statistics of a Poisson process), each early enough that release +
  run time + slack lies in the year;
- **deadline** = the job's baseline finish + ``deadline_slack_h`` (24 h). The baseline
  (``deadline_basis``) is by default the job's finish under ``fifo`` on the room's spare capacity:
  the queue it joins (:func:`queue_deadlines`; the fifo kernel's own run,
  :mod:`islandgrid.compute.place`). That is the temporal-shifting window of Wiesner et al., "Let's
  Wait Awhile: How Temporal Workload Shifting Can Reduce Carbon Emissions in the Cloud",
  Middleware 2021 (a job may be shifted within a window after its baseline time), and every
  deadline is one the room can meet: ``fifo`` meets all of them. ``release``: release + run time +
  slack, which a congested room cannot meet for every job;
- **checkpoints** every 30 min of work, resume cost 10 min (``checkpoint_min``, ``resume_cost_min``);
- **power**: ``gpus × GPU_IT_KW`` at full draw, following the 8×H100 node trace's minute shape
  with its checkpoint dips (:func:`islandgrid.compute.jobs.gpu_it_kw`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from islandgrid.compute.jobs import Jobs, gpu_it_kw
from islandgrid.errors import SiteFileError
from islandgrid.inputs.load import node_it_minute_factor
from islandgrid.site.compute import ComputeSpec


def synthetic_jobs(
    spec: ComputeSpec,
    start: pd.Timestamp,
    end: pd.Timestamp,
    flexible_it_kwh: float,
    flex_cap_kw: float,
    source: str | None = None,
) -> Jobs:
    """Draw the job stream (module docstring).

    Parameters
    ----------
    spec : ComputeSpec
        The ``[compute]`` section.
    start, end : pandas.Timestamp
        The simulated period.
    flexible_it_kwh : float
        The IT energy the jobs replace [kWh].
    flex_cap_kw : float
        The room's spare capacity for jobs [kW].
    source : str, optional
        The site file, for the error message.
    """
    rng = np.random.default_rng(spec.seed)
    per_gpu = gpu_it_kw()
    sizes = np.asarray(spec.gpus_per_job, dtype=float)
    weights = np.asarray(spec.gpus_per_job_weights, dtype=float)
    fits = sizes * per_gpu <= flex_cap_kw + 1e-9
    if not fits.any():
        raise SiteFileError(
            "no job size fits the room's spare capacity",
            source=source,
            field="compute.gpus_per_job",
            value=spec.gpus_per_job,
            allowed=f"jobs of at most {flex_cap_kw:.1f} kW ({flex_cap_kw / per_gpu:.0f} GPUs at {per_gpu:.2f} kW)",
            fix="give smaller jobs, lower flexible_frac's inflexible part or raise [load] it_kw",
        )
    sizes, weights = sizes[fits], weights[fits] / weights[fits].sum()
    mean_fac = float(node_it_minute_factor().mean())
    year_h = (end - start) / pd.Timedelta(hours=1)
    cap_h = min(spec.duration_max_h, year_h - spec.deadline_slack_h - 1.0)
    gpus_parts: list[np.ndarray] = []
    dur_parts: list[np.ndarray] = []
    energy = 0.0
    while energy < flexible_it_kwh:  # in batches; the stream stops at the job that reaches the energy
        g = rng.choice(sizes, p=weights, size=256)
        d = np.round(np.clip(rng.lognormal(np.log(spec.duration_median_h), spec.duration_sigma, 256), 1.0, cap_h) * 60)
        d = d / 60.0
        cum = energy + np.cumsum(g * per_gpu * mean_fac * d)
        k = min(int(np.searchsorted(cum, flexible_it_kwh, side="left")) + 1, len(cum))
        gpus_parts.append(g[:k])
        dur_parts.append(d[:k])
        energy = float(cum[k - 1])
    gpus = np.concatenate(gpus_parts) if gpus_parts else np.zeros(0)
    dur = np.concatenate(dur_parts) if dur_parts else np.zeros(0)
    dur_h = np.asarray(dur)
    latest_h = year_h - dur_h - spec.deadline_slack_h
    rel_min = np.floor(rng.uniform(0.0, 1.0, len(dur_h)) * latest_h * 60.0).astype(np.int64)
    release = start + pd.to_timedelta(rel_min, unit="min")
    n = len(dur_h)
    return Jobs.from_frame(
        pd.DataFrame(
            {
                "job_id": [f"job-{i:04d}" for i in range(n)],
                "gpus": gpus,
                "peak_kw": gpus * per_gpu,
                "duration_h": dur_h,
                "release": release,
                "deadline": release + pd.to_timedelta(np.round((dur_h + spec.deadline_slack_h) * 60.0), unit="min"),
                "checkpoint_min": np.full(n, spec.checkpoint_min),
                "resume_cost_min": np.full(n, spec.resume_cost_min),
                "priority": np.zeros(n, dtype=np.int64),
            }
        )
    )


def queue_deadlines(jobs: Jobs, start: pd.Timestamp, end: pd.Timestamp, finish_min: np.ndarray, slack_h: float) -> Jobs:
    """``jobs`` with deadline = finish under the baseline queue + ``slack_h`` (module docstring).

    Parameters
    ----------
    jobs : Jobs
        The stream (its deadlines are replaced).
    start, end : pandas.Timestamp
        The simulated period.
    finish_min : ndarray
        Each job's finish under ``fifo`` [min from ``start``]; NaN for a job ``fifo`` does not finish
        in the period: its deadline is the period's end + slack (no policy can be shown to meet it).
    slack_h : float
        Deadline slack [h].
    """
    end_min = (end - start) / pd.Timedelta(minutes=1)
    finish = np.where(np.isfinite(finish_min), finish_min, end_min)
    dl = start + pd.to_timedelta(np.ceil(finish - 1e-6) + round(slack_h * 60.0), unit="min")
    return Jobs.from_frame(jobs.frame().assign(deadline=dl))
