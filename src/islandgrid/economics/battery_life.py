"""Battery cell life from cycling: rainflow-counted cycles on a DoD-dependent cycle life.

Each rainflow cycle of depth DoD [-] uses 1 / N(DoD) of the cell life, with the Wöhler-type
curve N(DoD) = N_rated x (DoD_rated / DoD)^k (``rainflow`` package, ASTM E1049-85 counting).
With k = 1 the damage of a year is its stored-energy throughput over the lifetime throughput
N_rated x DoD_rated x E, which is HOMER's lifetime-throughput model; k > 1 ages deep cycles
faster than shallow ones, which only cycle counting can show.
"""

from __future__ import annotations

import numpy as np
import rainflow


def equivalent_full_cycles(soc_kwh: np.ndarray, energy_kwh: float, dod_rated_frac: float, exponent: float) -> float:
    """Cycles at the rated depth of discharge equivalent to a SoC trace [-].

    Parameters
    ----------
    soc_kwh : ndarray
        Stored energy over time [kWh].
    energy_kwh : float
        Nameplate energy [kWh].
    dod_rated_frac : float
        Depth of discharge the cycle life is rated at [-], e.g. 0.8.
    exponent : float
        Wöhler exponent k [-]; 1 = throughput model.

    Returns
    -------
    float
        sum over rainflow cycles of count x (DoD / DoD_rated)^k.
    """
    if energy_kwh <= 0 or len(soc_kwh) < 2:
        return 0.0
    frac = np.asarray(soc_kwh, dtype=float) / energy_kwh
    total = 0.0
    for rng, count in rainflow.count_cycles(frac):
        if rng > 0:
            total += count * (rng / dod_rated_frac) ** exponent
    return float(total)


def cycle_life_years(efc_per_year: float, cycle_life: float) -> float:
    """Years until the rated cycle life is used up [years]; ``inf`` without cycling."""
    return float(cycle_life / efc_per_year) if efc_per_year > 0 else float("inf")


def throughput_life_years(
    throughput_kwh_per_year: np.ndarray, energy_kwh: np.ndarray, cycle_life: float, dod_rated_frac: float
) -> np.ndarray:
    """HOMER's lifetime-throughput battery life, vectorised over designs [years].

    Parameters
    ----------
    throughput_kwh_per_year : ndarray
        Energy drawn from the cells a year, sum(bat_out / eta_d) [kWh].
    energy_kwh : ndarray
        Nameplate energy [kWh].
    cycle_life, dod_rated_frac : float
        Rated cycles and the DoD they are rated at.

    Returns
    -------
    ndarray
        cycle_life x DoD_rated x E / throughput; ``inf`` where nothing cycles.
    """
    q = np.asarray(throughput_kwh_per_year, dtype=float)
    lifetime = cycle_life * dod_rated_frac * np.asarray(energy_kwh, dtype=float)
    return np.where(q > 0, lifetime / np.where(q > 0, q, 1.0), np.inf)
