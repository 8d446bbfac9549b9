"""``economics SITE --scenarios N``: NPC and payback over scenario years and price ranges.

Each scenario's year (the site's design and its grid + diesel baseline in the same outages, weather and
load) is priced with its own prices: fuel price, grid bill and carbon price each scaled by a factor
uniform in [1 - span, 1 + span] (the tornado's +-30 % by default), drawn from the scenario's own price
stream (``SeedSequence(seed, spawn_key=(k, 1))``), so the prices of scenario k do not depend on N.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from islandgrid.economics.costs import COST_LINES, Operation, Sizes, cost_table, payback_years, site_prices
from islandgrid.scenarios.runner import ScenarioProgress
from islandgrid.scenarios.study import own_design, run_site
from islandgrid.scenarios.summary import quantiles
from islandgrid.site.spec import Site


def _op(v: dict[str, np.ndarray], i: int, grid_scale: float, life: float) -> Operation:
    a = np.array
    return Operation(
        served_kwh=a([v["served_kwh"][i]]),
        export_kwh=a([v["grid_export_kwh"][i]]),
        grid_cost=a([v["grid_cost"][i] * grid_scale]),
        export_revenue=a([v["export_revenue"][i]]),
        fuel_l=a([v["fuel_l"][i]]),
        diesel_hours=a([v["diesel_hours"][i]]),
        co2_scope1_kg=a([v["co2_scope1_kg"][i]]),
        co2_scope2_kg=a([v["co2_scope2_location_kg"][i]]),
        battery_life_years=a([life]),
    )


def economics_scenarios(
    site: Site,
    n: int,
    *,
    seed: int | None = None,
    cluster: str | None = None,
    workers: int | None = None,
    progress: ScenarioProgress | None = None,
    span_frac: float = 0.3,
) -> dict[str, Any]:
    """{"quantiles": {npc, npc_baseline, saving, simple_payback_years, discounted_payback_years}, ...}."""
    res = run_site(site, n, seed=seed, cluster=cluster, workers=workers, progress=progress)
    v, bv = res.values, res.baseline_values
    assert bv is not None
    design = own_design(site)
    table = pd.concat([design.loc[design.index.repeat(n)].reset_index(drop=True), pd.DataFrame(v)], axis=1)
    b = site.battery
    from islandgrid.economics.battery_life import throughput_life_years

    life = throughput_life_years(
        table["bat_out_kwh"].to_numpy() / b.eta_discharge, table["battery_kwh"].to_numpy(), b.cycle_life,
        b.cycle_life_dod_frac,
    )  # fmt: skip
    base_prices = site_prices(site.economics, site.genset.fuel_price_per_l)
    sizes = Sizes(*(np.array([float(design[c].iloc[0])]) for c in ("pv_kwp", "battery_kwh", "battery_kw", "genset_kw")))
    from islandgrid.scenarios.study import study_inputs

    _, _, _, base_row = study_inputs(site)
    bsizes = Sizes(np.zeros(1), np.zeros(1), np.zeros(1), np.array([float(base_row[0, 11])]))
    out: dict[str, list[float]] = {k: [] for k in ("npc", "npc_baseline", "saving", "simple_payback_years",
                                                   "discounted_payback_years", "fuel_factor", "grid_factor",
                                                   "carbon_factor")}  # fmt: skip
    for i in range(n):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(res.seed, spawn_key=(i, 1))))
        f_fuel, f_grid, f_carbon = rng.uniform(1.0 - span_frac, 1.0 + span_frac, size=3)
        prices = replace(
            base_prices, fuel_per_l=base_prices.fuel_per_l * f_fuel, carbon_per_t=base_prices.carbon_per_t * f_carbon
        )
        ct = cost_table(sizes, _op(v, i, f_grid, float(life[i])), site.economics, prices)
        bt = cost_table(bsizes, _op(bv, i, f_grid, float("inf")), site.economics, prices)
        net = np.sum([ct.flows[k][0] for k in COST_LINES], axis=0)
        bnet = np.sum([bt.flows[k][0] for k in COST_LINES], axis=0)
        simple, disc = payback_years(net, bnet, prices.discount_rate_frac)
        for k, x in (("npc", ct.npc[0]), ("npc_baseline", bt.npc[0]), ("saving", bt.npc[0] - ct.npc[0]),
                     ("simple_payback_years", simple), ("discounted_payback_years", disc), ("fuel_factor", f_fuel),
                     ("grid_factor", f_grid), ("carbon_factor", f_carbon)):  # fmt: skip
            out[k].append(float(x))
    arrays = {k: np.asarray(x) for k, x in out.items()}
    return {"scenarios": n, "seed": res.seed, "price_span_frac": span_frac, "quantiles": quantiles(arrays),
            "per_scenario": arrays}  # fmt: skip
