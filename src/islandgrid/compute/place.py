"""Flexible compute in a run: split the room's load, place the jobs with a policy, check, rebuild the load.

The room's IT load (``[load]``) is split: ``1 - flexible_frac`` of it stays inflexible (inference,
storage and the like; PUE's cooling follows all IT), the rest is replaced by the jobs (a jobs file,
or the synthetic stream whose energy matches it). The policy places the jobs; the run's IT load is
then inflexible IT + the jobs' IT, its demand that times PUE, and its critical part the site's
``critical_frac`` of that.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from islandgrid.compute import kernel as jk
from islandgrid.compute.checks import check_schedule
from islandgrid.compute.jobs import Jobs, read_jobs_csv
from islandgrid.compute.policies import PlacementInfo, fifo_run, get_job_policy
from islandgrid.compute.schedule import JobGrid, JobRunner, Schedule
from islandgrid.compute.synthetic import queue_deadlines, synthetic_jobs
from islandgrid.errors import SimulationError
from islandgrid.inputs.series import InputSeries
from islandgrid.site.compute import ComputeSpec
from islandgrid.site.spec import Site
from islandgrid.strategy.base import DispatchProblem
from islandgrid.strategy.problem import build_problem


@dataclass(frozen=True)
class JobRun:
    """The jobs of a run and where they went.

    Attributes
    ----------
    schedule : Schedule
        The policy's placement.
    fifo : Schedule
        The same jobs first come, first served (the baseline and the shift's reference).
    info : PlacementInfo
    inputs : InputSeries
        The run's inputs with the placed jobs' load.
    fifo_inputs : InputSeries
        The same with the ``fifo`` placement.
    """

    schedule: Schedule
    fifo: Schedule
    info: PlacementInfo
    inputs: InputSeries
    fifo_inputs: InputSeries


def compute_spec(site: Site) -> ComputeSpec:
    """The site's ``[compute]`` section, or its defaults."""
    return site.compute if site.compute is not None else ComputeSpec()


def site_with_job_policy(site: Site, name: str | None) -> Site:
    """``site`` with ``[compute] job_policy = name`` (the section's defaults if it has none); ``None``
    leaves it as it is. An unknown name is exit 2 naming ``--job-policy``."""
    if name is None:
        return site
    get_job_policy(name)
    return site.model_copy(update={"compute": compute_spec(site).model_copy(update={"job_policy": name})})


def with_it_load(site: Site, inputs: InputSeries, it_kw: np.ndarray) -> InputSeries:
    """``inputs`` with IT load ``it_kw`` [kW] (demand = IT × PUE, its critical share as the site's)."""
    f = inputs.frame
    load = it_kw * f["pue"].to_numpy()
    frame = f.assign(it_kw=it_kw, load_kw=load, critical_kw=load * site.load.critical_frac)
    return replace(inputs, frame=frame)


def site_job_grid(
    site: Site, inputs: InputSeries, base_it_kw: np.ndarray, problem: DispatchProblem | None = None
) -> tuple[JobGrid, JobRunner | None]:
    """The site's jobs on the run's time grid, and the finished ``fifo`` run of them when drawing them
    took one (else None).

    The jobs file, or the synthetic stream matching the flexible share of the profile. A jobs file
    keeps its own deadlines. The synthetic stream's deadlines follow ``[compute] deadline_basis``: with
    ``queue`` (the default) each is the job's finish under ``fifo`` on the room's spare capacity plus
    the slack (:func:`islandgrid.compute.synthetic.queue_deadlines`), the finish taken from the one fifo
    kernel run (fifo places jobs without looking at deadlines, so that run is also the jobs' ``fifo``
    placement). ``problem``: the plant on the inflexible load (built here when needed and not given).
    """
    spec = compute_spec(site)
    src = str(site.source) if site.source else None
    rating = site.load.it_kw
    f = inputs.frame
    idx = pd.DatetimeIndex(f.index)
    pue = f["pue"].to_numpy()
    if spec.jobs_csv is not None:
        jobs = read_jobs_csv(spec.jobs_csv, site.location.tz, rating)
        return JobGrid.build(jobs, idx, inputs.dt_h, base_it_kw, pue, rating), None
    end = idx[-1] + pd.Timedelta(hours=inputs.dt_h)
    flex_kwh = float((f["it_kw"].to_numpy() - base_it_kw).sum() * inputs.dt_h)
    jobs = synthetic_jobs(spec, idx[0], end, flex_kwh, rating - float(base_it_kw.max()), source=src)
    grid = JobGrid.build(jobs, idx, inputs.dt_h, base_it_kw, pue, rating)
    if spec.deadline_basis == "release":
        return grid, None
    if problem is None:
        problem = build_problem(site, with_it_load(site, inputs, base_it_kw))
    fifo = JobRunner(grid, problem, jk.FIFO)
    fifo.run(grid.n)
    jobs = queue_deadlines(jobs, idx[0], end, fifo.finish_min, spec.deadline_slack_h)
    grid = JobGrid.build(jobs, idx, inputs.dt_h, base_it_kw, pue, rating)
    return grid, fifo.on_grid(grid)


def site_jobs(site: Site, inputs: InputSeries, base_it_kw: np.ndarray, problem: DispatchProblem | None = None) -> Jobs:
    """The site's jobs (:func:`site_job_grid`)."""
    return site_job_grid(site, inputs, base_it_kw, problem)[0].jobs


def place_jobs(site: Site, inputs: InputSeries, policy: str | None = None) -> JobRun:
    """Place the site's jobs with ``policy`` (default ``[compute] job_policy``), check the placement
    (:func:`islandgrid.compute.checks.check_schedule`) and return the run's inputs with their load."""
    spec = compute_spec(site)
    name = policy or spec.job_policy
    place = get_job_policy(name, source=None if policy else (str(site.source) if site.source else None))
    f = inputs.frame
    base_it = f["it_kw"].to_numpy() * (1.0 - spec.flexible_frac)
    problem = build_problem(site, with_it_load(site, inputs, base_it))
    grid, fifo_runner = site_job_grid(site, inputs, base_it, problem)
    fifo_runner = fifo_run(grid, problem, fifo_runner)
    fifo = fifo_runner.schedule("fifo")
    check_schedule(fifo)
    schedule, info = (fifo, PlacementInfo()) if name == "fifo" else place(grid, problem, spec, fifo_runner)
    if schedule is not fifo:
        check_schedule(schedule)
    run_inputs = with_it_load(site, inputs, base_it + schedule.flex_it_kw)
    total = base_it + schedule.flex_it_kw
    drift = np.abs(run_inputs.frame["load_kw"].to_numpy() - total * f["pue"].to_numpy()).max(initial=0.0)
    if drift > 1e-9:
        raise SimulationError(f"flexible compute: demand differs from (inflexible + jobs) × PUE by {drift:g} kW")
    return JobRun(schedule, fifo, info, run_inputs, with_it_load(site, inputs, base_it + fifo.flex_it_kw))
