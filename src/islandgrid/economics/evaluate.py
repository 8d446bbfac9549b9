"""Economics of a simulated year: the microgrid beside its grid + diesel baseline.

The baseline is ``result.baseline`` (grid for all load, a genset sized for the peak load
covering every outage). Its capex is that genset; grid connection costs are common to
both designs and left out of both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from islandgrid.economics.battery_life import cycle_life_years, equivalent_full_cycles
from islandgrid.economics.costs import COST_LINES, CostTable, Operation, Prices, Sizes, cost_table, payback_years
from islandgrid.economics.costs import site_prices as _site_prices
from islandgrid.errors import InputError
from islandgrid.simulate.result import Result


@dataclass(frozen=True)
class EconomicsReport:
    """Life-cycle economics of a run and its baseline.

    Attributes
    ----------
    microgrid, baseline : CostTable
        Cash flows and NPC of each (one design each).
    sizes, baseline_sizes : Sizes
        What each design buys.
    operation, baseline_operation : Operation
        The simulated year each is priced on.
    battery_efc_per_year : float
        Rainflow equivalent full cycles a year at the rated DoD [-].
    battery_life_years : float
        Cell life: cycle life or calendar life, whichever first [years].
    simple_payback_years, discounted_payback_years : float
        Against the baseline; ``inf`` if never within the project life.
    prices : Prices
        The prices used.
    currency : str
        Site currency.
    """

    microgrid: CostTable
    baseline: CostTable
    sizes: Sizes
    baseline_sizes: Sizes
    operation: Operation
    baseline_operation: Operation
    battery_efc_per_year: float
    battery_life_years: float
    simple_payback_years: float
    discounted_payback_years: float
    prices: Prices
    currency: str

    def lines(self) -> pd.DataFrame:
        """NPC per cost line [currency] for the microgrid and the baseline, with totals."""
        rows = {
            k: [float(self.microgrid.npc_by_line[k][0]), float(self.baseline.npc_by_line[k][0])] for k in COST_LINES
        }
        rows["NPC"] = [float(self.microgrid.npc[0]), float(self.baseline.npc[0])]
        rows["NPC excl. carbon"] = [float(self.microgrid.npc_excl_carbon[0]), float(self.baseline.npc_excl_carbon[0])]
        rows["annualised"] = [float(self.microgrid.annualised[0]), float(self.baseline.annualised[0])]
        rows["LCOE per kWh"] = [float(self.microgrid.lcoe_per_kwh[0]), float(self.baseline.lcoe_per_kwh[0])]
        return pd.DataFrame.from_dict(rows, orient="index", columns=["microgrid", "baseline"])

    def summary(self) -> dict[str, float]:
        """Headline figures as a flat dict (for ``--json``)."""
        return {
            "npc": float(self.microgrid.npc[0]),
            "npc_excl_carbon": float(self.microgrid.npc_excl_carbon[0]),
            "annualised_cost": float(self.microgrid.annualised[0]),
            "lcoe_per_kwh": float(self.microgrid.lcoe_per_kwh[0]),
            "baseline_npc": float(self.baseline.npc[0]),
            "baseline_lcoe_per_kwh": float(self.baseline.lcoe_per_kwh[0]),
            "npc_saving": float(self.baseline.npc[0] - self.microgrid.npc[0]),
            "capex": float(self.microgrid.npc_by_line["capex"][0]),
            "baseline_capex": float(self.baseline.npc_by_line["capex"][0]),
            "carbon_cost_npc": float(self.microgrid.npc_by_line["carbon"][0]),
            "simple_payback_years": self.simple_payback_years,
            "discounted_payback_years": self.discounted_payback_years,
            "battery_efc_per_year": self.battery_efc_per_year,
            "battery_life_years": self.battery_life_years,
            "crf": self.microgrid.crf,
        }


def operation_of(result: Result, battery_life_years: float) -> Operation:
    """The operating figures of a run's year [kWh, currency, L, h, kg]."""
    k = result.kpis
    years = float(len(result.flows)) * result.dt_h / 8760.0
    scale = 1.0 / years if years > 0 else 1.0  # a leap year still counts as one year

    def a(x: float) -> np.ndarray:
        return np.array([x * scale])

    return Operation(
        served_kwh=a(k["served_kwh"]),
        export_kwh=a(k["grid_export_kwh"]),
        grid_cost=a(k["grid_cost"]),
        export_revenue=a(k["export_revenue"]),
        fuel_l=a(k["fuel_l"]),
        diesel_hours=a(k["diesel_hours"]),
        co2_scope1_kg=a(k["co2_scope1_kg"]),
        co2_scope2_kg=a(k["co2_scope2_location_kg"]),
        battery_life_years=np.array([battery_life_years]),
    )


def sizes_of(result: Result) -> Sizes:
    """Component sizes of a run's site [kWp, kWh, kW, kW]."""
    s = result.site
    return Sizes(
        pv_kwp=np.array([s.pv.kwp]),
        battery_kwh=np.array([s.battery.energy_kwh]),
        battery_kw=np.array([max(s.battery.charge_kw, s.battery.discharge_kw) if s.battery.energy_kwh > 0 else 0.0]),
        genset_kw=np.array([s.genset.rated_kw]),
    )


def battery_cycling(result: Result) -> tuple[float, float]:
    """Rainflow equivalent full cycles a year and the resulting cell life [-, years]."""
    b = result.site.battery
    econ = result.site.economics
    years = float(len(result.flows)) * result.dt_h / 8760.0
    soc = np.concatenate([[result.problem.battery.soc_init_kwh], result.flows["soc_kwh"].to_numpy()])
    efc = equivalent_full_cycles(soc, b.energy_kwh, b.cycle_life_dod_frac, econ.battery_dod_exponent) / years
    return efc, min(cycle_life_years(efc, b.cycle_life), econ.battery_calendar_life_years)


def economics(result: Result, prices: Prices | None = None) -> EconomicsReport:
    """NPC, LCOE and payback of a simulated run against its baseline.

    Parameters
    ----------
    result : Result
        From :func:`islandgrid.simulate` with ``baseline=True``.
    prices : Prices, optional
        Overrides the site's fuel price, carbon price, grid factor scale and discount rate.

    Raises
    ------
    InputError
        If the result has no baseline.
    """
    if result.baseline is None:
        raise InputError(
            "economics needs the baseline run", field="baseline", value=None, fix="simulate with baseline=True"
        )
    site = result.site
    prices = prices or _site_prices(site.economics, site.genset.fuel_price_per_l)
    efc, life = battery_cycling(result)
    op = operation_of(result, life)
    base_op = operation_of(result.baseline, float("inf"))
    sizes = sizes_of(result)
    base_sizes = sizes_of(result.baseline)
    mg = cost_table(sizes, op, site.economics, prices)
    base = cost_table(base_sizes, base_op, site.economics, prices)
    simple, disc = payback_years(mg.total_flows()[0], base.total_flows()[0], prices.discount_rate_frac)
    return EconomicsReport(
        microgrid=mg,
        baseline=base,
        sizes=sizes,
        baseline_sizes=base_sizes,
        operation=op,
        baseline_operation=base_op,
        battery_efc_per_year=efc,
        battery_life_years=life,
        simple_payback_years=simple,
        discounted_payback_years=disc,
        prices=prices,
        currency=site.economics.currency,
    )
