"""Seasonal-naive load: same time last day or last week."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from islandgrid.forecast.persistence import seasonal_tile


@dataclass(frozen=True)
class SeasonalNaive:
    """Each future interval equals the same interval one season (day or week) earlier.

    With less than one season of history, the daily season is used if available,
    else the last value.

    Attributes
    ----------
    period : int
        Intervals in the season (a day: 24/dt_h; a week: 7*24/dt_h).
    day : int
        Intervals in a day, the fallback season.
    """

    period: int
    day: int
    name: str = "seasonal naive"

    def predict(self, recent: np.ndarray, t: int, horizon: int) -> np.ndarray:
        """The last measured season, tiled over the horizon [kW]."""
        period = self.period if len(recent) >= self.period else self.day
        return seasonal_tile(recent, period, horizon)
