"""Annual KPIs from flows and carbon flow (HOMER Pro's glossary, REopt's delivered-RE share)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from islandgrid.carbon.flow import pv_share
from islandgrid.strategy.base import DispatchProblem


def compute_kpis(
    flows: pd.DataFrame, carbon: pd.DataFrame, problem: DispatchProblem, outages: pd.DataFrame
) -> dict[str, Any]:
    """The KPI dictionary of one run.

    ``pv_share`` is the load energy attributed to PV by the carbon-flow source mix
    (through the battery) over load served. ``renewable_fraction`` is HOMER's,
    1 - non-renewable production / (load served + grid export), where the non-renewable
    production is grid_in + diesel less the dump: the genset's minimum-load surplus nothing
    absorbed serves no load, as curtailed PV is no renewable production (so a design with no
    renewable source has 0, not a negative fraction). ``battery_throughput_kwh`` is HOMER's:
    energy leaving the store, sum(bat_out / eta_d). An off-grid site (import limit 0) has no
    grid outages: 0 events and 0 hours.
    """
    dt = problem.dt_h

    def tot(c: str) -> float:
        return float(flows[c].sum())

    load = tot("load_kwh")
    served = tot("load_served_kwh")
    unserved = tot("unserved_kwh")
    crit = tot("critical_load_kwh")
    grid_in, grid_out, diesel = tot("grid_in_kwh"), tot("grid_out_kwh"), tot("diesel_kwh")
    non_renewable = grid_in + diesel - tot("dump_kwh")
    has_grid = problem.grid.import_kw > 0
    on = flows["genset_on"].to_numpy()
    running = on > 0
    starts = int(np.count_nonzero(running[1:] & ~running[:-1]) + (1 if running[:1].any() else 0))
    pv_to_load = float((flows["load_served_kwh"] * carbon["load_pv_frac"]).sum())
    scope1 = float(carbon["diesel_co2_kg"].sum())
    scope2 = float(carbon["grid_co2_kg"].sum())
    throughput = float(flows["bat_out_kwh"].sum()) / problem.battery.eta_discharge
    e_bat = problem.battery.energy_kwh
    cost_grid = float((flows["grid_in_kwh"] * problem.import_price_per_kwh).sum())
    revenue = float((flows["grid_out_kwh"] * problem.export_price_per_kwh).sum())
    cost_fuel = tot("fuel_l") * problem.genset.fuel_price_per_l
    kpis: dict[str, Any] = {
        "load_kwh": load,
        "served_kwh": served,
        "unserved_kwh": unserved,
        "unserved_critical_kwh": tot("unserved_critical_kwh"),
        "pv_available_kwh": tot("pv_available_kwh"),
        "pv_used_kwh": tot("pv_used_kwh"),
        "pv_curtailed_kwh": tot("pv_curtailed_kwh"),
        "pv_to_load_kwh": pv_to_load,
        "pv_share": pv_share(flows["load_served_kwh"], carbon["load_pv_frac"]),
        "renewable_fraction": _clean(1.0 - non_renewable / (served + grid_out)) if served + grid_out > 0 else 0.0,
        "grid_import_kwh": grid_in,
        "grid_export_kwh": grid_out,
        "diesel_kwh": diesel,
        "diesel_hours": float(on.sum() * dt),
        "diesel_starts": starts,
        "fuel_l": tot("fuel_l"),
        "dump_kwh": tot("dump_kwh"),
        "battery_throughput_kwh": throughput,
        "battery_cycles": throughput / e_bat if e_bat > 0 else 0.0,
        "co2_kg": scope1 + scope2,
        "co2_scope1_kg": scope1,
        "co2_scope2_location_kg": scope2,
        "carbon_intensity_kg_per_kwh": (scope1 + scope2) / served if served > 0 else 0.0,
        "availability": 1.0 - unserved / load if load > 0 else 1.0,
        "critical_availability": 1.0 - tot("unserved_critical_kwh") / crit if crit > 0 else 1.0,
        "loss_of_load_hours": float(np.count_nonzero(flows["unserved_kwh"].to_numpy() > 1e-6) * dt),
        "grid_outage_events": len(outages) if has_grid else 0,
        "grid_outage_hours": float((1.0 - flows["grid_available"].to_numpy()).sum() * dt) if has_grid else 0.0,
        "energy_cost": cost_grid + cost_fuel - revenue,
        "grid_cost": cost_grid,
        "fuel_cost": cost_fuel,
        "export_revenue": revenue,
    }
    return kpis


def _clean(x: float) -> float:
    """Drop floating-point dust (a printed -0.0) without hiding real negatives."""
    return 0.0 if abs(x) < 1e-12 else x


def add_baseline(kpis: dict[str, Any], baseline_kpis: dict[str, Any] | None) -> dict[str, Any]:
    """Add ``baseline_co2_kg`` and ``co2_reduction`` = 1 - co2 / baseline_co2."""
    if baseline_kpis is None:
        return kpis
    base = baseline_kpis["co2_kg"]
    kpis = dict(kpis)
    kpis["baseline_co2_kg"] = base
    kpis["co2_reduction"] = 1.0 - kpis["co2_kg"] / base if base > 0 else 0.0
    kpis["baseline_diesel_hours"] = baseline_kpis["diesel_hours"]
    kpis["baseline_fuel_l"] = baseline_kpis["fuel_l"]
    return kpis
