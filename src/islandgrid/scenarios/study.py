"""A site's own design under N scenarios, beside its grid + diesel baseline and its one-draw year."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from islandgrid.errors import SiteFileError
from islandgrid.scenarios.draws import BaseYear, base_year
from islandgrid.scenarios.runner import ScenarioProgress, run_scenarios
from islandgrid.scenarios.summary import derive
from islandgrid.simulate.engine import baseline_site
from islandgrid.site.spec import Site
from islandgrid.sizing.designs import STRATEGY_CODES, param_rows
from islandgrid.sizing.search import site_inputs


@dataclass(frozen=True)
class SiteScenarios:
    """The site's design in every scenario.

    Attributes
    ----------
    values : dict of str to ndarray
        Per-scenario KPIs by name, shape (n,) each (:func:`islandgrid.scenarios.summary.derive`).
    one_draw : dict of str to float
        The same KPIs for the site's one-draw year (its own outage seed and typical weather).
    baseline_co2_kg : ndarray
        The grid + diesel baseline's CO2 in each scenario [kg].
    seed : int
        The scenario seed.
    """

    values: dict[str, np.ndarray]
    one_draw: dict[str, float]
    baseline_co2_kg: np.ndarray
    seed: int
    baseline_values: dict[str, np.ndarray] | None = None

    def frame(self) -> pd.DataFrame:
        """One row per scenario, one column per KPI."""
        return pd.DataFrame({k: np.asarray(v) for k, v in self.values.items()}).rename_axis("scenario")


def own_design(site: Site) -> pd.DataFrame:
    """The site's own sizes and strategy as a one-row design table."""
    strategy = site.simulation.strategy
    if strategy not in STRATEGY_CODES:
        raise SiteFileError(
            "scenario runs use the rule strategies",
            source=str(site.source) if site.source else None,
            field="simulation.strategy",
            value=strategy,
            allowed=", ".join(STRATEGY_CODES),
            fix="set --strategy to one of those for --scenarios",
        )
    b = site.battery
    return pd.DataFrame(
        {
            "pv_kwp": [float(site.pv.kwp)],
            "battery_kwh": [float(b.energy_kwh)],
            "battery_kw": [float(b.discharge_kw)],
            "genset_kw": [float(site.genset.rated_kw)],
            "strategy": [strategy],
        }
    )


def study_inputs(site: Site) -> tuple[Site, Any, BaseYear, np.ndarray]:
    """(site with a PV series to scale, its inputs, the base year, the baseline's parameter row)."""
    site_x, inputs = site_inputs(site)
    base = base_year(site_x, inputs)
    bsite = baseline_site(site_x, inputs)
    bdesign = pd.DataFrame(
        {"pv_kwp": [0.0], "battery_kwh": [0.0], "battery_kw": [0.0], "genset_kw": [bsite.genset.rated_kw],
         "strategy": ["load_following"]}
    )  # fmt: skip
    return site_x, inputs, base, param_rows(bsite, bdesign)


def run_site(
    site: Site,
    n: int,
    *,
    seed: int | None = None,
    cluster: str | None = None,
    workers: int | None = None,
    progress: ScenarioProgress | None = None,
) -> SiteScenarios:
    """Simulate the site's own design in ``n`` scenarios (and the baseline in the same scenarios)."""
    if site.battery.charge_kw != site.battery.discharge_kw:
        raise SiteFileError(
            "scenario runs take one battery power rating",
            source=str(site.source) if site.source else None,
            field="battery.charge_kw, battery.discharge_kw",
            value=(site.battery.charge_kw, site.battery.discharge_kw),
            allowed="charge_kw = discharge_kw",
            fix="give both the same rating (the PCS rating) for --scenarios",
        )
    design = own_design(site)
    site_x, inputs, base, base_row = study_inputs(site)
    params = np.vstack([param_rows(site_x, design), base_row])
    seed = site.scenarios.seed if seed is None else seed
    kpis = run_scenarios(base, params, n, seed=seed, cluster=cluster, workers=workers, progress=progress)
    fuel = site.genset.fuel_price_per_l
    values = derive(kpis[0], fuel, baseline_co2_kg=derive(kpis[1], fuel)["co2_kg"])
    one = evaluate_row(site_x, inputs, params[0])
    one_b = evaluate_row(site_x, inputs, base_row[0])
    one_vals = derive(one, fuel, baseline_co2_kg=derive(one_b, fuel)["co2_kg"])
    return SiteScenarios(
        values=values,
        one_draw={k: float(v) for k, v in one_vals.items()},
        baseline_co2_kg=derive(kpis[1], fuel)["co2_kg"],
        seed=seed,
        baseline_values=derive(kpis[1], fuel),
    )


def evaluate_row(site: Site, inputs: Any, row: np.ndarray) -> np.ndarray:
    """The sizing kernel's annual sums of one parameter row on the site's one-draw inputs."""
    import numba

    from islandgrid.sizing.kernel import KPI_COLUMNS, evaluate_designs
    from islandgrid.sizing.search import kernel_inputs

    pv1, load, crit, up, up_start, p_imp, p_exp, g_co2 = kernel_inputs(site, inputs)
    out = np.zeros((1, len(KPI_COLUMNS)))
    evaluate_designs(np.ascontiguousarray(row.reshape(1, -1)), inputs.dt_h, pv1, load, crit, up, up_start, p_imp,
                     p_exp, g_co2,
                     site.genset.co2_kg_per_l, numba.get_num_threads(), out)  # fmt: skip
    return out[0]
