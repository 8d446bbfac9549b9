"""Persistence: the reference every other forecaster's skill is measured against."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LastValue:
    """Every future interval equals the last measured one (0 with no history)."""

    name: str = "last value"

    def predict(self, recent: np.ndarray, t: int, horizon: int) -> np.ndarray:
        """``horizon`` copies of the last measured value [kW]."""
        last = float(recent[-1]) if len(recent) else 0.0
        return np.full(horizon, last)


@dataclass(frozen=True)
class SameTimeYesterday:
    """Each future interval equals the same interval one day earlier (PV persistence).

    Lead times beyond a day reuse the last measured day. Without a full day of history
    the last value is repeated.

    Attributes
    ----------
    period : int
        Intervals in a day.
    """

    period: int
    name: str = "same time yesterday"

    def predict(self, recent: np.ndarray, t: int, horizon: int) -> np.ndarray:
        """The last measured day, tiled over the horizon [kW]."""
        return seasonal_tile(recent, self.period, horizon)


def seasonal_tile(recent: np.ndarray, period: int, horizon: int) -> np.ndarray:
    """Value at lead k = value at ``t + k - m*period``, the most recent measured such m.

    Falls back to the last value when less than one period is known.
    """
    if len(recent) < period:
        return LastValue().predict(recent, 0, horizon)
    season = recent[len(recent) - period :]
    reps = -(-horizon // period)
    return np.tile(season, reps)[:horizon].astype(float, copy=True)
