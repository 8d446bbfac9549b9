"""The planning loop: run the site's strategy over the next hours from the measured SoC.

The same strategies as ``islandgrid simulate`` (rule strategies, or 'mpc*'). The plan's
battery power for the current interval becomes the fast loop's grid-tied setpoint; the
fast loop still enforces the islanding reserve and the limits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from islandgrid.dispatch.registry import get_strategy
from islandgrid.inputs.series import InputSeries
from islandgrid.site.spec import Site
from islandgrid.strategy.base import DispatchProblem
from islandgrid.strategy.problem import build_problem


@dataclass(frozen=True)
class Plan:
    """A plan: battery power per interval [kW, + discharge] and genset on/off.

    Attributes
    ----------
    start_epoch_s : float
        UNIX time of the first interval's start [s].
    dt_s : float
        Interval length [s].
    bat_kw, genset_on : ndarray
        Battery power [kW] and genset commitment per interval.
    strategy : str
        Strategy name.
    """

    start_epoch_s: float
    dt_s: float
    bat_kw: np.ndarray
    genset_on: np.ndarray
    strategy: str

    def at(self, epoch_s: float) -> tuple[float, bool]:
        """(battery kW, genset on) for the interval containing ``epoch_s``; (0, False) outside."""
        k = int((epoch_s - self.start_epoch_s) // self.dt_s)
        if 0 <= k < len(self.bat_kw):
            return float(self.bat_kw[k]), bool(self.genset_on[k])
        return 0.0, False

    def at_kw(self, epoch_s: float) -> float:
        """Battery power for the interval containing ``epoch_s`` [kW, + discharge]; 0 outside the plan."""
        return self.at(epoch_s)[0]


class Planner:
    """Builds rolling windows of the site's dispatch problem and runs a strategy on them.

    Parameters
    ----------
    site : Site
        The site.
    inputs : InputSeries
        The site's yearly inputs; a window is cut at the time of year of 'now'.
    horizon_h : float
        Plan length [h].
    """

    def __init__(self, site: Site, inputs: InputSeries, horizon_h: float) -> None:
        self.site = site
        self.full = build_problem(site, inputs)
        self.horizon_h = horizon_h
        idx = self.full.index
        self._t0_s = idx[0].timestamp()
        self._dt_s = self.full.dt_h * 3600.0

    def window(self, epoch_s: float, soc_kwh: float, horizon_h: float | None = None) -> DispatchProblem:
        """The problem from the interval containing ``epoch_s`` on, starting at ``soc_kwh``.

        ``horizon_h`` overrides the plan length (the compute budget looks 48 h ahead) [h].
        """
        p = self.full
        n_all = p.n
        n = max(round((self.horizon_h if horizon_h is None else horizon_h) * 3600.0 / self._dt_s), 1)
        i0 = int(((epoch_s - self._t0_s) // self._dt_s) % n_all)
        take = (i0 + np.arange(n)) % n_all
        start = pd.Timestamp(epoch_s // self._dt_s * self._dt_s, unit="s", tz="UTC").tz_convert(self.site.location.tz)
        index = pd.date_range(start, periods=n, freq=pd.Timedelta(seconds=self._dt_s))
        bat = replace(p.battery, soc_init_kwh=min(max(soc_kwh, p.battery.soc_min_kwh), p.battery.soc_max_kwh))
        return replace(
            p,
            index=index,
            pv_kw=np.ascontiguousarray(p.pv_kw[take]),
            load_kw=np.ascontiguousarray(p.load_kw[take]),
            critical_kw=np.ascontiguousarray(p.critical_kw[take]),
            grid_available=np.ones(n, dtype=bool),
            import_price_per_kwh=p.import_price_per_kwh[take],
            export_price_per_kwh=p.export_price_per_kwh[take],
            grid_co2_kg_per_kwh=p.grid_co2_kg_per_kwh[take],
            battery=bat,
        )

    def grid_co2_kg_per_kwh(self, epoch_s: float) -> float:
        """The grid's carbon factor at ``epoch_s`` [kg/kWh]."""
        i = int(((epoch_s - self._t0_s) // self._dt_s) % self.full.n)
        return float(self.full.grid_co2_kg_per_kwh[i])

    def plan(self, strategy: str, epoch_s: float, soc_kwh: float) -> Plan:
        """Run ``strategy`` on the window from ``epoch_s``.

        Raises
        ------
        SiteFileError
            Unknown strategy name. Strategy errors propagate (the caller logs them).
        """
        prob = self.window(epoch_s, soc_kwh)
        flows = get_strategy(strategy).dispatch(prob)
        bat_kw = (np.asarray(flows["bat_out_kwh"]) - np.asarray(flows["bat_in_kwh"])) / prob.dt_h
        return Plan(
            start_epoch_s=prob.index[0].timestamp(),
            dt_s=self._dt_s,
            bat_kw=bat_kw,
            genset_on=np.asarray(flows["genset_on"]) > 0.5,
            strategy=strategy,
        )
