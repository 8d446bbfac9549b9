"""``optimize(site)``: the perfect-foresight year as a Result, like ``simulate`` (it runs the optimiser
through the engine, so it lives in the engine's layer, above :mod:`islandgrid.optimize`)."""

from __future__ import annotations

from dataclasses import replace

from islandgrid.optimize.model import validate_options
from islandgrid.optimize.solve import Progress
from islandgrid.optimize.strategy import OptimalStrategy
from islandgrid.simulate.engine import simulate
from islandgrid.simulate.result import Result
from islandgrid.site.spec import Site


def optimize(
    site: Site,
    mode: str = "milp",
    resolution: str | None = None,
    *,
    end_soc: str = "free",
    time_limit_s: float = 300.0,
    mip_rel_gap: float = 1e-3,
    reserve: bool = True,
    baseline: bool = True,
    progress: Progress | None = None,
) -> Result:
    """Optimise a year of the site with perfect foresight.

    Parameters
    ----------
    site : Site
        From :func:`islandgrid.load_site`.
    mode : {'lp', 'milp'}
        LP bound (no commitment) or MILP (hourly genset commitment, minimum load, minimum run
        time, start cost).
    resolution : {'1h', '15min', '1min'}, optional
        Overrides ``site.simulation.resolution``.
    end_soc : {'free', 'initial'}
        End-of-year SoC rule.
    time_limit_s : float
        Per HiGHS run [s].
    mip_rel_gap : float
        HiGHS's relative MIP gap [-].
    reserve : bool
        Hold the islanding reserve as a soft floor while grid-tied (default, as the site file asks).
    baseline : bool
        Also run the traditional grid + diesel design.
    progress : callable, optional
        Called with a description of each stage.

    Returns
    -------
    Result
        Flows, carbon flow and KPIs as from :func:`islandgrid.simulate`, plus the solve figures
        ``optimal_objective``, ``lp_bound``, ``optimality_gap``, ``mip_gap``, ``solver_status``
        and ``solve_seconds`` in ``kpis``.
    """
    validate_options(mode, end_soc, time_limit_s, mip_rel_gap)
    strat = OptimalStrategy(
        mode=mode,
        end_soc=end_soc,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
        reserve=reserve,
        progress=progress,
    )
    result = simulate(site, strat, resolution, baseline=baseline, progress=progress)
    assert strat.info is not None
    return replace(result, kpis={**result.kpis, **strat.info.as_kpis()})
