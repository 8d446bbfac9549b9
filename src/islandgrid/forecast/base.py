"""The forecasting seam: what a forecaster may see, and what it returns.

A :class:`SeriesForecaster` predicts one series (PV or load power [kW]) from a
window of its own past. It never receives the full series: :func:`issue` copies
only the last ``lookback`` values before the issue time ``t`` into a fresh array, so
a forecaster cannot peek at the future by construction (a slice would keep a
``.base`` reference to the whole array). The exception is the perfect forecaster,
which is handed the truth explicitly when it is built.

A :class:`Forecaster` bundles a PV and a load forecaster with a rule for the grid:
the controller measures whether the grid is up at the start of the interval it
plans from; an outage then is assumed to last ``outage_hold_h`` more hours, and an
up grid is assumed to stay up (outages are not forecastable from the past here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from islandgrid.strategy.base import DispatchProblem

#: Days of history a forecaster sees (a week plus a day covers weekly seasonality).
LOOKBACK_DAYS = 8


class SeriesForecaster(Protocol):
    """Predicts one power series [kW] from its own recent past."""

    @property
    def name(self) -> str:
        """A short label used in tables."""
        ...

    def predict(self, recent: np.ndarray, t: int, horizon: int) -> np.ndarray:
        """Forecast intervals ``t .. t + horizon - 1``.

        Parameters
        ----------
        recent : ndarray
            The measured values of intervals ``t - len(recent) .. t - 1`` [kW], a copy.
            It may be shorter than the lookback (start of the record) or empty (t = 0).
        t : int
            Index of the first forecast interval (the issue time).
        horizon : int
            Number of intervals to forecast.

        Returns
        -------
        ndarray
            ``horizon`` non-negative values [kW].
        """
        ...


@dataclass(frozen=True)
class Forecast:
    """One issued forecast over a horizon of intervals.

    Attributes
    ----------
    pv_kw, load_kw, critical_kw : ndarray
        Forecast mean power per interval [kW].
    grid_available : ndarray of float
        The grid-connected share assumed for each interval [-] (1 up, 0 islanded).
    """

    pv_kw: np.ndarray
    load_kw: np.ndarray
    critical_kw: np.ndarray
    grid_available: np.ndarray


def recent_window(series: np.ndarray, t: int, lookback: int) -> np.ndarray:
    """A fresh copy of ``series[t - lookback : t]`` (shorter at the start of the record)."""
    return np.array(series[max(t - lookback, 0) : t], dtype=float, copy=True)


@dataclass(frozen=True)
class Forecaster:
    """PV, load and grid forecasts for a controller.

    Attributes
    ----------
    name : str
        Label, e.g. 'clearsky'.
    pv, load : SeriesForecaster
        The two series forecasters.
    lookback : int
        Intervals of history handed to each series forecaster.
    outage_hold_h : float
        Hours an outage measured at the issue time is assumed to last [h].
    grid_truth : ndarray of float or None
        Only for the perfect forecaster: the actual grid-connected share of each interval.
    """

    name: str
    pv: SeriesForecaster
    load: SeriesForecaster
    lookback: int
    outage_hold_h: float = 3.0
    grid_truth: np.ndarray | None = None

    def issue(self, problem: DispatchProblem, t: int, horizon: int) -> Forecast:
        """Forecast intervals ``t .. t + horizon - 1`` of ``problem`` from its past only.

        The critical share is the measured critical/load ratio of the last interval
        (the site file's split when nothing is measured yet).
        """
        horizon = int(min(horizon, problem.n - t))
        pv = np.maximum(self.pv.predict(recent_window(problem.pv_kw, t, self.lookback), t, horizon), 0.0)
        load = np.maximum(self.load.predict(recent_window(problem.load_kw, t, self.lookback), t, horizon), 0.0)
        if t > 0 and problem.load_kw[t - 1] > 0:
            crit_frac = float(problem.critical_kw[t - 1] / problem.load_kw[t - 1])
        else:
            crit_frac = float(np.mean(problem.critical_kw[:1] / np.maximum(problem.load_kw[:1], 1e-12)))
        crit_frac = min(max(crit_frac, 0.0), 1.0)
        if self.grid_truth is not None:
            grid = np.array(self.grid_truth[t : t + horizon], dtype=float, copy=True)
        else:
            grid = np.ones(horizon, dtype=float)
            if not bool(problem.up_at_start[t]):  # measured at the start of interval t
                hold = max(1, round(self.outage_hold_h / problem.dt_h))
                grid[:hold] = 0.0
        return Forecast(pv_kw=pv, load_kw=load, critical_kw=load * crit_frac, grid_available=grid)


def steps_per_day(dt_h: float) -> int:
    """Intervals in a day at step ``dt_h`` [h]."""
    return round(24.0 / dt_h)
