"""The islanding reserve, sized from the site's outage risk (optional; the MPC holds the
site file's reserve by default, see :mod:`islandgrid.mpc.strategy`).

Rule: while the grid is up, keep enough energy for the battery ALONE to carry the
forecast critical load through the ``quantile`` (e.g. 80th) percentile of the
site's outage durations, and never less than the site file's reserve:

    reserve_kwh = max(soc_min_kwh + critical_kw * D_q / eta_discharge, site reserve)
                  (capped at soc_max_kwh)

where critical_kw is the mean forecast critical load over the next D_q hours, and D_q
comes from the outage model: for the stochastic model (exponential durations with
mean SAIDI / SAIFI) D_q = -mean * ln(1 - q); for an outage CSV it is the empirical
quantile of the listed durations. Without either, the site file's reserve_frac is
used. Horinger (20 events, 60 h a year): mean 3 h, D_0.8 = 4.8 h. The battery serves
the whole load during an outage (load is shed only as a last resort), so this reserve
carries it for about critical / load x D_q (60 % of D_q on Horinger), not D_q.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from islandgrid.inputs.grid import outages_from_csv
from islandgrid.site.spec import Site
from islandgrid.strategy.base import DispatchProblem

DEFAULT_QUANTILE = 0.8


def outage_duration_quantile_h(site: Site | None, quantile: float = DEFAULT_QUANTILE) -> float | None:
    """The ``quantile`` of the site's outage durations [h], or None without an outage model."""
    if site is None:
        return None
    g = site.grid
    if g.outages is not None and g.outages.events_per_year > 0 and g.outages.hours_per_year > 0:
        mean_h = g.outages.hours_per_year / g.outages.events_per_year
        return float(-mean_h * np.log(1.0 - quantile))
    if g.outages_csv is not None:
        w = outages_from_csv(g.outages_csv, site.location.tz)
        if len(w):
            d = (pd.DatetimeIndex(w["end"]) - pd.DatetimeIndex(w["start"])).total_seconds().to_numpy() / 3600.0
            return float(np.quantile(d, quantile))
    return None


def reserve_kwh(problem: DispatchProblem, duration_h: float | None, critical_kw: np.ndarray) -> float:
    """Energy to hold while grid-tied [kWh] (see the module rule).

    Parameters
    ----------
    problem : DispatchProblem
        Battery parameters and step length.
    duration_h : float or None
        The outage-duration quantile; None falls back to the site file's reserve.
    critical_kw : ndarray
        Forecast critical load from now on [kW].
    """
    b = problem.battery
    if duration_h is None:
        return b.reserve_kwh
    steps = max(1, round(duration_h / problem.dt_h))
    crit = float(np.mean(critical_kw[:steps])) if len(critical_kw) else 0.0
    return float(min(max(b.soc_min_kwh + crit * duration_h / b.eta_discharge, b.reserve_kwh), b.soc_max_kwh))
