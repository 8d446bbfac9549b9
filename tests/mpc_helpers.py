"""Small problems for the forecast and MPC tests (a few days, synthetic or from the example site)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from core_helpers import battery, genset, problem
from islandgrid.strategy.base import DispatchProblem


def sunny_days(
    days: int = 3, dt_h: float = 1.0, *, seed: int = 3, outage: tuple[int, int] | None = None
) -> DispatchProblem:
    """A few days of bell-shaped PV with random clouds, a near-flat load and an optional outage [start, stop) steps."""
    per_day = round(24 / dt_h)
    n = days * per_day
    hours = (np.arange(n) * dt_h) % 24 + dt_h / 2
    rng = np.random.default_rng(seed)
    clouds = np.repeat(rng.uniform(0.3, 1.0, days), per_day)
    pv = np.clip(np.sin(np.pi * (hours - 6) / 12), 0, None) * 120.0 * clouds
    load = 40.0 + 5.0 * rng.standard_normal(n).clip(-2, 2)
    up = np.ones(n, dtype=bool)
    if outage is not None:
        up[outage[0] : outage[1]] = False
    p = problem(
        pv,
        load,
        up,
        bat=battery(energy_kwh=200.0, p_kw=100.0, eta=0.95, soc_min=0.1, soc_max=0.95, soc_init=0.5, reserve=0.3),
        gen=genset(rated_kw=60.0, min_frac=0.3, min_run_h=0.5),
        dt_h=dt_h,
        import_kw=80.0,
        critical_frac=0.6,
    )
    price = np.where((pd.DatetimeIndex(p.index).hour >= 8) & (pd.DatetimeIndex(p.index).hour < 21), 0.78, 0.28)
    return replace(p, import_price_per_kwh=price.astype(float), carbon_price_per_kg=0.6)
