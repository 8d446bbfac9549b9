"""The regret table: every strategy against perfect foresight on the same site-year.

The reference is the registered 'optimal' strategy: the perfect-foresight MILP of the
whole year from :mod:`islandgrid.optimize` (hourly genset commitment, the islanding
reserve as a soft floor while grid-tied as the PV-first rules and the MPC keep it, free
end SoC), whose row also carries its ``optimality_gap`` to the LP bound. Only if
'optimal' is not registered does it fall back to 'mpc_perfect' (the MPC on perfect
forecasts: perfect foresight over each 48 h window, re-planned hourly); the table says
which one it used. Strategies that ignore the reserve (load following, cycle charging)
can spend it and so show a negative cost regret; the optimum's objective, which prices
the reserve, is never beaten. The row 'optimal_no_reserve' (the same MILP without the
reserve: perfect foresight knows every outage) is the bound for those strategies too.
Cost = energy cost (grid bill + fuel - export revenue) plus
the carbon cost at the site's carbon price, the quantity every optimiser here
minimises. Regret = strategy - reference (for pv_share: reference - strategy, so a
positive regret is always worse).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from islandgrid.compute.place import place_jobs
from islandgrid.dispatch.registry import get_strategy, strategy_factories
from islandgrid.inputs.series import build_inputs
from islandgrid.simulate.engine import run_problem
from islandgrid.site.spec import Site
from islandgrid.strategy.problem import build_problem

#: Columns of the table: key, label, unit.
REGRET_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("cost", "cost incl. carbon", "{currency}"),
    ("co2_kg", "CO2", "kg"),
    ("diesel_hours", "diesel", "h"),
    ("pv_share", "PV share", "-"),
    ("unserved_kwh", "unserved", "kWh"),
)


def reference_name(names: list[str]) -> str:
    """'optimal' if registered, else 'mpc_perfect'."""
    return "optimal" if "optimal" in names else "mpc_perfect"


def default_strategies() -> list[str]:
    """Every registered strategy (rules, MPC variants, optimal)."""
    return list(strategy_factories())


def regret_rows(
    site: Site,
    strategies: list[str] | None = None,
    resolution: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Simulate every strategy and its regret against the perfect-foresight reference (with a ``[compute]``
    section, on the load of the jobs as its policy places them).

    Returns
    -------
    reference : str
        The reference strategy's name.
    rows : list of dict
        One per strategy: strategy, the KPIs of :data:`REGRET_COLUMNS`, ``regret_<key>``
        for each, ``seconds`` (wall time of the run) and ``optimality_gap`` (the optimiser's
        certified gap to its LP bound; None for other strategies).
    """
    names = strategies or default_strategies()
    ref = reference_name(default_strategies())
    # the reference runs first (its silent HiGHS instance also keeps highspy's one-off banner off stdout)
    names = [ref, *(n for n in names if n != ref)]
    inputs = build_inputs(site, resolution)
    if site.compute is not None:  # flexible jobs: placed once by the job policy, the same load for every strategy
        inputs = place_jobs(site, inputs).inputs
    problem = build_problem(site, inputs)
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        if progress is not None:
            progress(name)
        t0 = time.perf_counter()
        strat = get_strategy(name)
        r = run_problem(site, inputs, problem, strat)
        k = r.kpis
        info = getattr(strat, "info", None)
        results[name] = {
            "strategy": name,
            "cost": k["energy_cost"] + k["co2_kg"] * problem.carbon_price_per_kg,
            "co2_kg": k["co2_kg"],
            "diesel_hours": k["diesel_hours"],
            "pv_share": k["pv_share"],
            "unserved_kwh": k["unserved_kwh"],
            "seconds": time.perf_counter() - t0,
            "optimality_gap": getattr(info, "optimality_gap", None),
        }
    base = results[ref]
    rows = []
    for name in names:
        row = dict(results[name])
        for key, _, _ in REGRET_COLUMNS:
            sign = -1.0 if key == "pv_share" else 1.0
            row[f"regret_{key}"] = sign * (row[key] - base[key])
        rows.append(row)
    return ref, rows
