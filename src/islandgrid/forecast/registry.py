"""Named forecaster bundles, built for one dispatch problem."""

from __future__ import annotations

from islandgrid.errors import SiteFileError
from islandgrid.forecast.base import LOOKBACK_DAYS, Forecaster, steps_per_day
from islandgrid.forecast.noise import NoisyTruth
from islandgrid.forecast.perfect import PerfectSeries
from islandgrid.forecast.persistence import LastValue, SameTimeYesterday
from islandgrid.forecast.seasonal import SeasonalNaive
from islandgrid.site.spec import Site
from islandgrid.strategy.base import DispatchProblem

#: Forecaster names and what each one is.
FORECASTERS: dict[str, str] = {
    "perfect": "the actual future (perfect foresight, incl. outages)",
    "persistence": "PV: same time yesterday; load: last value",
    "clearsky": "PV: pvlib Ineichen clear-sky x recent clear-sky index; load: same time last day",
    "noisy": "truth with seeded AR(1) error growing with lead time (planning studies)",
}


def mean_outage_h(site: Site | None) -> float:
    """Mean outage duration from the site's outage model [h] (3 h when unknown)."""
    if site is not None and site.grid.outages is not None and site.grid.outages.events_per_year > 0:
        return site.grid.outages.hours_per_year / site.grid.outages.events_per_year
    return 3.0


def build_forecaster(name: str, problem: DispatchProblem, site: Site | None = None, *, seed: int = 0) -> Forecaster:
    """The forecaster called ``name`` for ``problem``.

    Parameters
    ----------
    name : {'perfect', 'persistence', 'clearsky', 'noisy'}
        See :data:`FORECASTERS`.
    problem : DispatchProblem
        The run; forecasters other than 'perfect' and 'noisy' see only its past.
    site : Site, optional
        Needed by 'clearsky' (location and PV array); defaults to ``problem.site``.
    seed : int
        Seed of the 'noisy' error model.
    """
    site = site if site is not None else getattr(problem, "site", None)
    day = steps_per_day(problem.dt_h)
    lookback = LOOKBACK_DAYS * day
    hold = mean_outage_h(site)
    if name == "perfect":
        return Forecaster(
            name, PerfectSeries(problem.pv_kw), PerfectSeries(problem.load_kw), lookback, hold, problem.grid_available
        )
    if name == "persistence":
        return Forecaster(name, SameTimeYesterday(day), LastValue(), lookback, hold)
    if name == "clearsky":
        if site is None:
            raise SiteFileError(
                "the clear-sky forecaster needs the site's location and PV array",
                field="forecaster",
                value=name,
                allowed=", ".join(FORECASTERS),
                fix="run through islandgrid.simulate(site, ...) or pass site=",
            )
        from islandgrid.forecast.clearsky import ClearSkyIndex, clearsky_pv_kw

        cs = clearsky_pv_kw(site, problem.index, problem.dt_h)
        return Forecaster(name, ClearSkyIndex(cs, problem.dt_h, site.pv.kwp), SeasonalNaive(day, day), lookback, hold)
    if name == "noisy":
        pv = NoisyTruth(problem.pv_kw, sigma=0.35, tau_h=6.0, dt_h=problem.dt_h, seed=seed)
        load = NoisyTruth(problem.load_kw, sigma=0.05, tau_h=12.0, dt_h=problem.dt_h, seed=seed + 1)
        return Forecaster(name, pv, load, lookback, hold)
    raise SiteFileError(
        "unknown forecaster", field="forecaster", value=name, allowed=", ".join(FORECASTERS), fix="pick one of those"
    )
