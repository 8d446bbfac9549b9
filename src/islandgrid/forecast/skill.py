"""Forecast skill by lead time: RMSE and MAE, and skill against persistence.

Forecasts are issued every ``issue_every`` intervals from the first full day on (so
persistence has a day of history) up to the last time with a full horizon ahead.
Errors are over all intervals, nights included (every PV forecaster is right at
night, which lowers PV RMSE for all alike; the skill ratio is unaffected by scale).

skill = 1 - RMSE / RMSE_persistence (the usual definition: 0 = persistence,
1 = perfect, negative = worse than persistence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from islandgrid.forecast.base import Forecaster, recent_window, steps_per_day
from islandgrid.strategy.base import DispatchProblem


@dataclass(frozen=True)
class ErrorMatrix:
    """Forecast and actual values of one series for every issue time and lead.

    Attributes
    ----------
    forecast_kw, actual_kw : ndarray
        Shape (issues, horizon) [kW].
    """

    forecast_kw: np.ndarray
    actual_kw: np.ndarray

    def rmse_kw(self) -> np.ndarray:
        """Root-mean-square error per lead [kW]."""
        return np.sqrt(np.mean((self.forecast_kw - self.actual_kw) ** 2, axis=0))

    def mae_kw(self) -> np.ndarray:
        """Mean absolute error per lead [kW]."""
        return np.mean(np.abs(self.forecast_kw - self.actual_kw), axis=0)


def issue_times(n: int, dt_h: float, horizon: int, issue_every: int) -> np.ndarray:
    """Issue indices: from one day in, every ``issue_every``, with a full horizon left."""
    start = steps_per_day(dt_h)
    return np.arange(start, n - horizon + 1, issue_every)


def error_matrices(
    problem: DispatchProblem, forecaster: Forecaster, horizon: int, issue_every: int
) -> tuple[ErrorMatrix, ErrorMatrix]:
    """PV and load error matrices of ``forecaster`` on ``problem``."""
    times = issue_times(problem.n, problem.dt_h, horizon, issue_every)
    shape = (len(times), horizon)
    pv_f, load_f = np.empty(shape), np.empty(shape)
    for i, t in enumerate(times.tolist()):
        pv_f[i] = forecaster.pv.predict(recent_window(problem.pv_kw, t, forecaster.lookback), t, horizon)
        load_f[i] = forecaster.load.predict(recent_window(problem.load_kw, t, forecaster.lookback), t, horizon)
    cols = times[:, None] + np.arange(horizon)[None, :]
    return (
        ErrorMatrix(np.maximum(pv_f, 0.0), problem.pv_kw[cols]),
        ErrorMatrix(np.maximum(load_f, 0.0), problem.load_kw[cols]),
    )


#: Lead times reported in the table [h].
REPORT_LEADS_H: tuple[float, ...] = (0.25, 1.0, 3.0, 6.0, 12.0, 24.0, 48.0)


def skill_table(
    problem: DispatchProblem,
    forecasters: dict[str, Forecaster],
    horizon_h: float = 48.0,
    issue_every_h: float = 1.0,
    leads_h: tuple[float, ...] = REPORT_LEADS_H,
    reference: str = "persistence",
) -> pd.DataFrame:
    """RMSE, MAE and skill vs ``reference`` by lead time, per forecaster and series.

    Parameters
    ----------
    problem : DispatchProblem
        The actual series.
    forecasters : dict
        Name -> forecaster; must include ``reference``.
    horizon_h : float
        Horizon of each issued forecast [h].
    issue_every_h : float
        Time between issues [h].
    leads_h : tuple of float
        Lead times to report [h]; a lead of L hours is the interval ending L hours
        after the issue time (L = dt is the next interval). Leads not on the grid or
        beyond the horizon are skipped.

    Returns
    -------
    pandas.DataFrame
        Columns forecaster, series ('pv' or 'load'), lead_h, rmse_kw, mae_kw, skill.
    """
    dt = problem.dt_h
    horizon = round(horizon_h / dt)
    every = max(1, round(issue_every_h / dt))
    leads = [
        (h, round(h / dt) - 1) for h in leads_h if abs(h / dt - round(h / dt)) < 1e-9 and 1 <= round(h / dt) <= horizon
    ]
    rows: list[dict[str, float | str]] = []
    rmse_ref: dict[str, np.ndarray] = {}
    order = [reference] + [k for k in forecasters if k != reference]
    for name in order:
        pv, load = error_matrices(problem, forecasters[name], horizon, every)
        for series, m in (("pv", pv), ("load", load)):
            rmse, mae = m.rmse_kw(), m.mae_kw()
            if name == reference:
                rmse_ref[series] = rmse
            ref = rmse_ref[series]
            for lead_h, k in leads:
                skill = 1.0 - rmse[k] / ref[k] if ref[k] > 0 else float("nan")
                rows.append(
                    {
                        "forecaster": name,
                        "series": series,
                        "lead_h": lead_h,
                        "rmse_kw": float(rmse[k]),
                        "mae_kw": float(mae[k]),
                        "skill": float(skill),
                    }
                )
    return pd.DataFrame(rows)
