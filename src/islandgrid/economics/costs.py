"""Life-cycle costs of designs: capex, O&M, replacement, salvage, fuel, grid, export, carbon.

One vectorised path prices one design or ten thousand: every input is an array over
designs, every output a matrix (designs x years) per cost line. NPC, CRF, annualised
cost and LCOE follow HOMER Pro's definitions (HOMER Pro user manual, glossary; :mod:`islandgrid.economics.finance`).

Cost lines (positive = cost, negative = income), each a separate row of the table:

=================  =============================================================
capex              components bought at year 0
om                 fixed O&M per kWp / kWh a year, genset O&M per running hour
replacement        battery (cycle or calendar life, whichever first), its PCS,
                   genset (running hours or calendar life), PV (its life)
salvage            HOMER's linear salvage of the life left at year N (negative)
fuel               litres x fuel price
grid               import energy on the time-of-use tariff
export             export revenue (negative)
carbon             t CO2 (Scope 1 + Scope 2 location-based) x carbon price
=================  =============================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from islandgrid.economics.finance import crf, discount_factors, replacement_schedule
from islandgrid.site.spec import EconomicsSpec

#: The cost lines, in table order.
COST_LINES: tuple[str, ...] = ("capex", "om", "replacement", "salvage", "fuel", "grid", "export", "carbon")


@dataclass(frozen=True)
class Sizes:
    """Component sizes of one or many designs (arrays broadcast together).

    Attributes
    ----------
    pv_kwp : ndarray
        PV DC nameplate [kWp].
    battery_kwh, battery_kw : ndarray
        Battery energy [kWh] and PCS power [kW].
    genset_kw : ndarray
        Genset nameplate [kW].
    """

    pv_kwp: np.ndarray
    battery_kwh: np.ndarray
    battery_kw: np.ndarray
    genset_kw: np.ndarray


@dataclass(frozen=True)
class Operation:
    """One simulated year's operating figures per design (arrays).

    Attributes
    ----------
    served_kwh, export_kwh : ndarray
        Load served and grid export [kWh/year]; LCOE divides by their sum (HOMER).
    grid_cost, export_revenue : ndarray
        Import bill on the TOU tariff and export income [currency/year].
    fuel_l : ndarray
        Diesel burnt [L/year].
    diesel_hours : ndarray
        Genset running hours [h/year].
    co2_scope1_kg, co2_scope2_kg : ndarray
        Diesel and grid (location-based) emissions [kg/year].
    battery_life_years : ndarray
        Years until the battery cells are replaced (cycle or calendar life) [years].
    """

    served_kwh: np.ndarray
    export_kwh: np.ndarray
    grid_cost: np.ndarray
    export_revenue: np.ndarray
    fuel_l: np.ndarray
    diesel_hours: np.ndarray
    co2_scope1_kg: np.ndarray
    co2_scope2_kg: np.ndarray
    battery_life_years: np.ndarray


@dataclass(frozen=True)
class Prices:
    """The prices a sensitivity study varies; defaults come from the site.

    Attributes
    ----------
    fuel_per_l : float
        Diesel price [currency/L].
    carbon_per_t : float
        Carbon price in the site currency [currency/t CO2].
    grid_factor_scale : float
        Multiplier on Scope 2 emissions (a different grid factor) [-].
    discount_rate_frac : float
        Real discount rate [-].
    """

    fuel_per_l: float
    carbon_per_t: float
    grid_factor_scale: float
    discount_rate_frac: float


def site_prices(econ: EconomicsSpec, fuel_price_per_l: float) -> Prices:
    """The site file's prices (carbon converted from EUR/t to the site currency)."""
    return Prices(
        fuel_per_l=fuel_price_per_l,
        carbon_per_t=econ.carbon_price_eur_per_t * econ.eur_to_currency,
        grid_factor_scale=1.0,
        discount_rate_frac=econ.discount_rate_frac,
    )


@dataclass(frozen=True)
class CostTable:
    """Yearly cash flows per cost line and the derived figures, for n designs.

    Attributes
    ----------
    flows : dict of str to ndarray
        Per line of :data:`COST_LINES`, shape (n, N+1) [currency], year 0..N, undiscounted.
    npc_by_line : dict of str to ndarray
        Present value of each line, shape (n,) [currency].
    npc : ndarray
        Net present cost, the sum of the lines [currency].
    annualised : ndarray
        NPC x CRF [currency/year].
    lcoe_per_kwh : ndarray
        Annualised cost over (load served + export) [currency/kWh].
    crf : float
        Capital recovery factor used [1/year].
    """

    flows: dict[str, np.ndarray]
    npc_by_line: dict[str, np.ndarray]
    npc: np.ndarray
    annualised: np.ndarray
    lcoe_per_kwh: np.ndarray
    crf: float

    @property
    def npc_excl_carbon(self) -> np.ndarray:
        """NPC without the carbon line [currency]."""
        return self.npc - self.npc_by_line["carbon"]

    def total_flows(self) -> np.ndarray:
        """Net cash flow per year, shape (n, N+1) [currency]."""
        return np.sum([self.flows[k] for k in COST_LINES], axis=0)


def _arr(x: np.ndarray | float, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=float), (n,)).astype(float)


def cost_table(sizes: Sizes, op: Operation, econ: EconomicsSpec, prices: Prices) -> CostTable:
    """Price designs over the project life.

    Parameters
    ----------
    sizes : Sizes
        Component sizes [kWp, kWh, kW].
    op : Operation
        A simulated year's figures, repeated every year (no degradation of PV or tariffs).
    econ : EconomicsSpec
        Unit costs and lives.
    prices : Prices
        Fuel, carbon, grid-factor scale and discount rate.

    Returns
    -------
    CostTable
        Cash-flow matrices, NPC per line and in total, annualised cost and LCOE.
    """
    n = int(np.broadcast(sizes.pv_kwp, sizes.battery_kwh, sizes.battery_kw, sizes.genset_kw, op.served_kwh).size)
    life = econ.project_life_years
    pv, bkwh, bkw, gkw = (_arr(x, n) for x in (sizes.pv_kwp, sizes.battery_kwh, sizes.battery_kw, sizes.genset_kw))
    hours = _arr(op.diesel_hours, n)

    # components: (capex, replacement cost, life in years, fixed O&M a year)
    genset_life = np.minimum(
        econ.genset_life_hours / np.maximum(hours, 1e-9), np.full(n, econ.genset_calendar_life_years)
    )
    comps = [
        (pv * econ.pv_capex_per_kwp, np.full(n, econ.pv_life_years), pv * econ.pv_om_per_kwp_year),
        (
            bkwh * econ.battery_capex_per_kwh,
            np.minimum(_arr(op.battery_life_years, n), econ.battery_calendar_life_years),
            bkwh * econ.battery_om_per_kwh_year,
        ),
        (bkw * econ.battery_capex_per_kw, np.full(n, econ.battery_pcs_life_years), np.zeros(n)),
        (gkw * econ.genset_capex_per_kw, genset_life, np.zeros(n)),
    ]
    years = life + 1
    flows = {k: np.zeros((n, years)) for k in COST_LINES}
    for capex, comp_life, om in comps:
        flows["capex"][:, 0] += capex
        flows["om"][:, 1:] += om[:, None]
        counts, rem = replacement_schedule(comp_life, life)
        rep_cost = capex * econ.replacement_cost_frac
        flows["replacement"] += counts * rep_cost[:, None]
        flows["salvage"][:, life] -= rep_cost * rem
    flows["om"][:, 1:] += (hours * econ.genset_om_per_hour)[:, None]
    flows["fuel"][:, 1:] += (_arr(op.fuel_l, n) * prices.fuel_per_l)[:, None]
    flows["grid"][:, 1:] += _arr(op.grid_cost, n)[:, None]
    flows["export"][:, 1:] -= _arr(op.export_revenue, n)[:, None]
    co2_t = (_arr(op.co2_scope1_kg, n) + prices.grid_factor_scale * _arr(op.co2_scope2_kg, n)) / 1000.0
    flows["carbon"][:, 1:] += (co2_t * prices.carbon_per_t)[:, None]

    df = discount_factors(prices.discount_rate_frac, life)
    npc_by_line = {k: flows[k] @ df for k in COST_LINES}
    npc = np.sum([npc_by_line[k] for k in COST_LINES], axis=0)
    f = crf(prices.discount_rate_frac, life)
    annualised = npc * f
    energy = _arr(op.served_kwh, n) + _arr(op.export_kwh, n)
    lcoe = np.where(energy > 0, annualised / np.where(energy > 0, energy, 1.0), np.nan)
    return CostTable(flows=flows, npc_by_line=npc_by_line, npc=npc, annualised=annualised, lcoe_per_kwh=lcoe, crf=f)


def payback_years(design: np.ndarray, baseline: np.ndarray, discount_rate_frac: float) -> tuple[float, float]:
    """Simple and discounted payback of a design against the baseline.

    Parameters
    ----------
    design, baseline : ndarray, shape (N+1,)
        Net yearly cash flows (costs positive) [currency].
    discount_rate_frac : float
        For the discounted payback [-].

    Returns
    -------
    simple, discounted : float
        Years until the cumulative saving (baseline - design) turns non-negative,
        interpolated within the year; ``inf`` if it never does within the project life,
        0 if the design costs no more up front.
    """
    saving = np.asarray(baseline, dtype=float) - np.asarray(design, dtype=float)
    df = discount_factors(discount_rate_frac, saving.size - 1)
    return _crossing(np.cumsum(saving)), _crossing(np.cumsum(saving * df))


def _crossing(cum: np.ndarray) -> float:
    if cum[0] >= 0:
        return 0.0
    idx = np.nonzero(cum >= 0)[0]
    if idx.size == 0:
        return float("inf")
    y = int(idx[0])
    prev, cur = cum[y - 1], cum[y]
    return float(y - 1 + (-prev) / (cur - prev))
