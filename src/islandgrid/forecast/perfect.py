"""The perfect forecaster: the truth, for perfect-foresight MPC and as a sanity bound."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PerfectSeries:
    """Returns the actual future values; the only forecaster handed the truth.

    Attributes
    ----------
    truth : ndarray
        The whole actual series [kW].
    """

    truth: np.ndarray
    name: str = "perfect"

    def predict(self, recent: np.ndarray, t: int, horizon: int) -> np.ndarray:
        """The actual values of intervals ``t .. t + horizon - 1`` [kW]."""
        return np.array(self.truth[t : t + horizon], dtype=float, copy=True)
