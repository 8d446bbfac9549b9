"""A forecast-error model for planning studies: the truth plus seeded error that grows
with the lead time.

The relative error at lead k follows an AR(1) process that starts at zero at the
issue time (the present is measured):

    e_{-1} = 0,  e_k = phi * e_{k-1} + sqrt(1 - phi^2) * sigma * z_k,  phi = exp(-dt / tau)

so its standard deviation grows as sigma * sqrt(1 - phi^(2(k+1))): small for the
next interval, saturating at ``sigma`` after a few ``tau``. The forecast is
truth * max(0, 1 + e). Errors are correlated over lead times like real forecast
errors (a cloudy afternoon is wrong as a block), not white noise.

Default parameters are ASSUMPTIONS for planning studies, not fitted to any data set:
PV sigma 0.35 of the value with tau 6 h (day-ahead PV errors of tens of percent),
load sigma 0.05 with tau 12 h (a near-flat AI-training load). Set your own.

The noise is seeded per issue time: ``default_rng([seed, t])``, so a run is
reproducible and the forecast issued at t does not depend on which other times were
issued before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def error_std(sigma: float, tau_h: float, dt_h: float, horizon: int) -> np.ndarray:
    """Standard deviation of the relative error at each lead [-] (the model's closed form)."""
    phi = np.exp(-dt_h / tau_h)
    k = np.arange(horizon)
    return sigma * np.sqrt(1.0 - phi ** (2 * (k + 1)))


@dataclass(frozen=True)
class NoisyTruth:
    """The actual series with seeded, horizon-growing multiplicative error.

    Attributes
    ----------
    truth : ndarray
        The whole actual series [kW] (this is a planning-study model: it knows the truth).
    sigma : float
        Saturated relative error standard deviation [-].
    tau_h : float
        Error correlation time [h].
    dt_h : float
        Step length [h].
    seed : int
        Base seed.
    """

    truth: np.ndarray
    sigma: float
    tau_h: float
    dt_h: float
    seed: int = 0
    name: str = "truth + AR(1) error"

    def relative_error(self, t: int, horizon: int) -> np.ndarray:
        """The relative error path of the forecast issued at ``t`` [-]."""
        rng = np.random.default_rng([self.seed, t])
        z = rng.standard_normal(horizon)
        phi = float(np.exp(-self.dt_h / self.tau_h))
        drive = np.sqrt(1.0 - phi * phi) * self.sigma * z
        e = np.empty(horizon)
        prev = 0.0
        for k in range(horizon):
            prev = phi * prev + drive[k]
            e[k] = prev
        return e

    def predict(self, recent: np.ndarray, t: int, horizon: int) -> np.ndarray:
        """truth * max(0, 1 + e) for intervals ``t .. t + horizon - 1`` [kW]."""
        truth = self.truth[t : t + horizon]
        return truth * np.maximum(1.0 + self.relative_error(t, len(truth)), 0.0)
