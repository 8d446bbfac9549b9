"""The orchestrating chain: site -> inputs -> strategy -> checks -> carbon -> KPIs (+ baseline)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pandas as pd

from islandgrid.carbon.flow import carbon_flow
from islandgrid.compute.kpis import cfe_hourly_score, job_kpis
from islandgrid.compute.place import JobRun, place_jobs
from islandgrid.dispatch.registry import get_strategy
from islandgrid.inputs.series import InputSeries, build_inputs
from islandgrid.simulate.checks import check_flows
from islandgrid.simulate.kpis import add_baseline, compute_kpis
from islandgrid.simulate.result import Result
from islandgrid.site.spec import Site
from islandgrid.strategy.base import FLOW_COLUMNS, DispatchProblem, Strategy
from islandgrid.strategy.problem import build_problem

Progress = Callable[[str], None]


def run_problem(site: Site, inputs: InputSeries, problem: DispatchProblem, strategy: Strategy) -> Result:
    """Dispatch one problem, check every interval, attribute carbon and compute KPIs."""
    arrays = strategy.dispatch(problem)
    flows = pd.DataFrame({c: arrays[c] for c in FLOW_COLUMNS}, index=problem.index)
    carbon = carbon_flow(
        flows,
        problem.grid_co2_kg_per_kwh,
        problem.genset.co2_kg_per_l,
        problem.battery.soc_init_kwh,
        problem.battery.eta_charge,
        problem.battery.eta_discharge,
        rule=site.carbon.battery_rule,
    )
    # the LP relaxation runs a fraction of rated power, not an on/off genset: no run or off times
    check_flows(arrays, problem, carbon, commitment=getattr(strategy, "commits_genset", True))
    kpis = compute_kpis(flows, carbon, problem, inputs.outages)
    return Result(
        site=site, strategy=strategy.name, flows=flows, carbon=carbon, inputs=inputs, problem=problem, kpis=kpis
    )


def baseline_site(site: Site, inputs: InputSeries) -> Site:
    """The traditional design: no PV, no battery, the grid supplies all load and a
    genset large enough for the peak load covers every outage (a UPS bridges its start)."""
    peak_kw = float(inputs.frame["load_kw"].max())
    rated = max(site.genset.rated_kw, peak_kw)
    return site.model_copy(
        update={
            "pv": site.pv.model_copy(update={"kwp": 0.0}),
            "battery": site.battery.model_copy(update={"energy_kwh": 0.0, "charge_kw": 0.0, "discharge_kw": 0.0}),
            "genset": site.genset.model_copy(
                update={"rated_kw": rated, "start_delay_s": 0.0, "altitude_limit_m": 10000.0}
            ),
            "simulation": site.simulation.model_copy(update={"strategy": "load_following"}),
        }
    )


def simulate(
    site: Site,
    strategy: str | Strategy | None = None,
    resolution: str | None = None,
    *,
    baseline: bool = True,
    progress: Progress | None = None,
    job_policy: str | None = None,
) -> Result:
    """Simulate a year of the site.

    Parameters
    ----------
    site : Site
        From :func:`islandgrid.load_site`.
    strategy : str or Strategy, optional
        Overrides ``site.simulation.strategy``.
    resolution : {'1h', '15min', '1min'}, optional
        Overrides ``site.simulation.resolution``.
    baseline : bool
        Also run the traditional grid + diesel design (``result.baseline``).
    progress : callable, optional
        Called with the name of each stage as it starts.
    job_policy : {'fifo', 'green', 'optimal', 'mpc'}, optional
        Place flexible training jobs with this policy (overrides ``[compute] job_policy``); with
        neither this nor a ``[compute]`` section the load is the ``[load]`` profile as it is.

    Returns
    -------
    Result
        Flows, carbon flow, KPIs and the baseline.
    """
    say = progress or (lambda _stage: None)
    say("inputs")
    inputs = build_inputs(site, resolution)
    if hasattr(strategy, "dispatch"):
        strat = strategy
    elif strategy:
        strat = get_strategy(strategy)
    else:  # the site file's choice: an unknown name is that file's error
        strat = get_strategy(site.simulation.strategy, source=str(site.source) if site.source else None)
    assert strat is not None and not isinstance(strat, str)
    jobs: JobRun | None = None
    if job_policy is not None or site.compute is not None:
        say("jobs")
        jobs = place_jobs(site, inputs, job_policy)
        inputs = jobs.inputs
    say("dispatch")
    problem = build_problem(site, inputs)
    result = run_problem(site, inputs, problem, strat)
    if jobs is not None:
        result = with_job_kpis(result, jobs)
    if not baseline:
        return result
    say("baseline")
    base_site = baseline_site(site, inputs)
    # the traditional design runs its jobs first come, first served
    plain = jobs.fifo_inputs if jobs is not None else inputs
    base_inputs = replace(plain, frame=plain.frame.assign(pv_kw=0.0))
    base = run_problem(base_site, base_inputs, build_problem(base_site, base_inputs), get_strategy("load_following"))
    say("kpis")
    return Result(
        site=site,
        strategy=result.strategy,
        flows=result.flows,
        carbon=result.carbon,
        inputs=inputs,
        problem=problem,
        kpis=add_baseline(result.kpis, base.kpis),
        baseline=base,
        jobs=jobs,
    )


def with_job_kpis(result: Result, jobs: JobRun) -> Result:
    """``result`` with the job KPIs (:mod:`islandgrid.compute.kpis`) and its placement."""
    kpis = dict(result.kpis)
    kpis.update(job_kpis(jobs.schedule, jobs.fifo))
    kpis["cfe_hourly_score"] = cfe_hourly_score(
        result.flows, result.carbon, result.site.location.tz, result.site.carbon.grid_cfe_share
    )
    return replace(result, kpis=kpis, jobs=jobs)
