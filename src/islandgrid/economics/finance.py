"""Discounting primitives: capital recovery factor, present worth, replacement and salvage.

Definitions follow HOMER Pro's glossary (user manual: 'Net Present Cost', 'Capital Recovery Factor', 'Levelized COE'):

- capital recovery factor  CRF(i, N) = i (1+i)^N / ((1+i)^N - 1)
- net present cost         NPC = sum over years y = 0..N of CF_y / (1+i)^y
- annualised cost          C_ann = NPC x CRF(i, N)
- salvage value (HOMER)    S = C_rep x R_rem / R_comp, R_rem = R_comp - (R_proj - R_rep),
                           R_rep = R_comp x floor(R_proj / R_comp)

Cash flows sit at the end of each year (capex at year 0). All functions work on
numpy arrays so that sizing prices thousands of designs at once.
"""

from __future__ import annotations

import numpy as np


def crf(discount_rate_frac: float, life_years: int) -> float:
    """Capital recovery factor [1/year].

    Parameters
    ----------
    discount_rate_frac : float
        Real discount rate i [-], e.g. 0.06.
    life_years : int
        Project life N [years].

    Returns
    -------
    float
        i (1+i)^N / ((1+i)^N - 1); 1/N when i = 0 (the limit).
    """
    i, n = float(discount_rate_frac), int(life_years)
    if i == 0.0:
        return 1.0 / n
    g = (1.0 + i) ** n
    return i * g / (g - 1.0)


def discount_factors(discount_rate_frac: float, life_years: int) -> np.ndarray:
    """1/(1+i)^y for y = 0..N, shape (N+1,) [-]."""
    return (1.0 + float(discount_rate_frac)) ** -np.arange(int(life_years) + 1, dtype=float)


def replacement_schedule(life_years: np.ndarray, project_years: int) -> tuple[np.ndarray, np.ndarray]:
    """When a component is replaced, and what fraction of its life is left at the end.

    A component of life L [years] is replaced each time k*L < N (k = 1, 2, ...), with the
    cash flow in the year its life runs out, ceil(k*L). HOMER's salvage uses the life left
    at the end of the project.

    Parameters
    ----------
    life_years : ndarray
        Component life per design [years], > 0; ``inf`` for never.
    project_years : int
        Project life N [years].

    Returns
    -------
    counts : ndarray, shape (n_designs, N+1)
        Number of replacements falling in each year (0 or 1 for L >= 1; more if L < 1).
    remaining_frac : ndarray, shape (n_designs,)
        Remaining life of the installed unit at year N over its life [-] (HOMER R_rem / R_comp).
    """
    life = np.atleast_1d(np.asarray(life_years, dtype=float))
    n = int(project_years)
    counts = np.zeros((life.size, n + 1))
    finite = np.isfinite(life)
    life_f = np.where(finite, np.maximum(life, 1e-6), np.inf)
    kmax = np.where(finite, np.ceil(n / life_f) - 1.0, 0.0)  # replacements with k*L < N
    kmax = np.maximum(kmax, 0.0).astype(np.int64)
    for d in np.nonzero(kmax > 0)[0]:
        years = np.ceil(np.arange(1, kmax[d] + 1) * life_f[d] - 1e-9).astype(np.int64)
        np.add.at(counts[d], np.clip(years, 1, n), 1.0)
    # HOMER: R_rep = R_comp * floor(N / R_comp); R_rem = R_comp - (N - R_rep)
    r_rep = np.where(finite, life_f * np.floor(n / np.where(finite, life_f, 1.0)), 0.0)
    r_rem = np.where(finite, life_f - (n - r_rep), np.inf)
    remaining_frac = np.where(finite, r_rem / np.where(finite, life_f, 1.0), 1.0)
    # a life that divides N exactly leaves the unit at its end of life: nothing left
    remaining_frac = np.where(np.isclose(remaining_frac, 1.0) & finite & (life_f <= n), 0.0, remaining_frac)
    return counts, remaining_frac
