"""GHG Protocol totals, hourly CFE, intensity distribution and the CBAM-style block, from ledger records.

Every figure is a sum over ledger records (``islandgrid.ledger.verify.read_records``), so the
report, the CSV, the XLSX and the ledger agree to the gram. Definitions:

- Scope 1 = diesel CO2 = fuel_l x diesel factor; CH4 and N2O from the same fuel and their CO2e
  (:mod:`islandgrid.carbon.scope1`).
- Scope 2 location-based = grid_in x grid factor (the MEE factor the site names).
- Scope 2 market-based = (grid import and on-site PV to the load not covered by certificates the
  register holds) x max(residual, grid factor) (:mod:`islandgrid.carbon.claims`,
  :mod:`islandgrid.carbon.pairing`): never below location-based without certificates.
- On-site PV share = PV-attributed load served / load served (the ledger's battery rule).
- Hourly CFE score = sum_h min(load_h, CFE supply_h) / sum_h load_h, the CFE supply being
  certificate-backed on-site PV, granular-certificate-backed grid import and the grid's carbon-free
  share of the rest where one is given, matched hour by hour.
- Carbon intensity of an interval: e_bus [kg/kWh], weighted by the load served for percentiles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from islandgrid.carbon.claims import claim_terms
from islandgrid.carbon.scope1 import co2e, diesel_gases
from islandgrid.ledger.record import FLAG_SIMULATED

#: Percentiles of the interval intensity distribution, load-weighted [%].
PERCENTILES: tuple[float, ...] = (5, 10, 25, 50, 75, 90, 95)

SCOPE_STATEMENT = (
    "CBAM (Regulation (EU) 2023/956) covers imported goods (cement, iron and steel, aluminium, fertilisers, "
    "hydrogen and electricity), not compute services. The emissions of this compute reach EU customers "
    "through their Scope 3 / CSRD reporting, and through goods made with that compute. The block below is "
    "CBAM-style: it follows the indirect-emissions method so that a customer can reuse it, but it is not a "
    "CBAM declaration."
)
CBAM_JUSTIFICATION = (
    "Actual factor: the PV array, the battery and the diesel genset are behind the same point of common "
    "coupling as the load, a direct technical connection, so their metered energy and fuel give an actual "
    "factor; the grid share uses the official MEE/NBS factor of the region. No certificate is used as an "
    "actual factor."
)
CBAM_SIMULATED = (
    "Simulated: the energy and fuel are modelled, not metered, so this is a projection of the factor the microgrid "
    "would give, not an actual factor; a declaration needs the metered ledger (ledger import or the live controller)."
)


def record_terms(records: pd.DataFrame, factor_sets: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Per-record accounting terms [kg, kWh].

    Parameters
    ----------
    records : pandas.DataFrame
        From ``read_records`` (UTC index, payload fields, ``factor_set`` hex digest).
    factor_sets : dict
        Digest (hex) -> factor set (parsed JSON).
    """
    claims = claim_terms(records, factor_sets)
    served = records["load_served_kwh"].to_numpy()
    pv_to_load = served * records["load_pv_frac"].to_numpy()
    grid_in = records["grid_in_kwh"].to_numpy()
    fuel = records["fuel_l"].to_numpy()
    ch4, n2o = diesel_gases(fuel)
    co2 = records["diesel_co2_kg"].to_numpy()
    return pd.DataFrame(
        {
            "load_kwh": records["load_kwh"].to_numpy(),
            "load_served_kwh": served,
            "pv_to_load_kwh": pv_to_load,
            "grid_in_kwh": grid_in,
            "diesel_kwh": records["diesel_kwh"].to_numpy(),
            "fuel_l": fuel,
            "scope1_kg": co2,
            "scope1_ch4_kg": ch4,
            "scope1_n2o_kg": n2o,
            "scope1_co2e_kg": co2e(co2, ch4, n2o),
            "scope2_location_kg": records["grid_co2_kg"].to_numpy(),
            "scope2_market_kg": claims["scope2_market_kg"],
            "pv_claim_kwh": claims["pv_claim_kwh"],
            "covered_pv_kwh": claims["covered_pv_kwh"],
            "covered_grid_kwh": claims["covered_grid_kwh"],
            "cfe_supply_kwh": claims["cfe_supply_kwh"],
            "load_co2_kg": records["load_co2_kg"].to_numpy(),
            "export_co2_kg": records["export_co2_kg"].to_numpy(),
            "loss_co2_kg": records["dump_co2_kg"].to_numpy(),
        },
        index=records.index,
    )


def _summarise(g: pd.DataFrame) -> pd.DataFrame:
    out = g.copy()
    served = out["load_served_kwh"].replace(0.0, np.nan)
    out["pv_share"] = (out["pv_to_load_kwh"] / served).fillna(0.0)
    out["certified_pv_share"] = (out["covered_pv_kwh"] / served).fillna(0.0)
    out["intensity_kg_per_kwh"] = (out["load_co2_kg"] / served).fillna(0.0)
    out["scope1_plus_2_location_kg"] = out["scope1_kg"] + out["scope2_location_kg"]
    return out


def monthly(terms: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Monthly sums in local time, and a last row 'year' (the annual total)."""
    local = terms.tz_convert(tz)
    g = local.groupby(pd.DatetimeIndex(local.index).strftime("%Y-%m")).sum()
    g.loc["total"] = terms.sum()
    g.index.name = "month"
    return _summarise(g)


def hourly(terms: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Sums per local clock hour, with that hour's CFE score and intensity."""
    local = terms.tz_convert(tz)
    h = local.groupby(pd.DatetimeIndex(local.index).floor("h")).sum()
    h.index.name = "hour_local"
    h["cfe_kwh"] = np.minimum(h["load_kwh"], h["cfe_supply_kwh"])
    h["cfe_score"] = (h["cfe_kwh"] / h["load_kwh"].replace(0.0, np.nan)).fillna(0.0)
    served = h["load_served_kwh"].replace(0.0, np.nan)
    h["intensity_kg_per_kwh"] = (h["load_co2_kg"] / served).fillna(0.0)
    return h


def cfe_score(hours: pd.DataFrame) -> float:
    """Hourly CFE score (24/7 style): sum_h min(load_h, CFE supply_h) / sum_h load_h [-] (see the module docstring)."""
    load = float(hours["load_kwh"].sum())
    return float(hours["cfe_kwh"].sum()) / load if load > 0 else 0.0


def weighted_percentiles(values: np.ndarray, weights: np.ndarray, pct: tuple[float, ...] = PERCENTILES) -> np.ndarray:
    """Percentiles of ``values`` weighted by ``weights`` (inverted CDF, no interpolation)."""
    keep = weights > 0
    v, w = values[keep], weights[keep]
    if len(v) == 0:
        return np.full(len(pct), np.nan)
    order = np.argsort(v, kind="stable")
    v, cw = v[order], np.cumsum(w[order])
    targets = np.asarray(pct) / 100.0 * cw[-1]
    return v[np.minimum(np.searchsorted(cw, targets, side="left"), len(v) - 1)]


def intensity_distribution(records: pd.DataFrame) -> pd.DataFrame:
    """Load-weighted percentiles, mean and range of the interval bus intensity [kg/kWh]."""
    e = records["e_bus_kg_per_kwh"].to_numpy()
    w = records["load_served_kwh"].to_numpy()
    p = weighted_percentiles(e, w)
    rows = [(f"p{int(q)}", float(x)) for q, x in zip(PERCENTILES, p, strict=True)]
    total = float(w.sum())
    rows.append(("load-weighted mean", float((e * w).sum() / total) if total > 0 else 0.0))
    served = w > 0
    rows.append(("min", float(e[served].min()) if served.any() else 0.0))
    rows.append(("max", float(e[served].max()) if served.any() else 0.0))
    return pd.DataFrame(rows, columns=["statistic", "kg_per_kwh"])


@dataclass(frozen=True)
class CbamBlock:
    """The CBAM-style indirect-emissions block.

    Attributes
    ----------
    consumed_mwh : float
        Electricity consumed by the compute room [MWh].
    factor_t_per_mwh : float
        Emission factor of that electricity [t CO2/MWh] (= kg/kWh).
    factor_type : str
        'actual' (with the data-quality breakdown) or 'simulated'.
    justification : str
        Why an actual factor is allowed.
    embedded_t : float
        Embedded indirect emissions [t CO2].
    default_factor_t_per_mwh : float
        The grid factor a default would use, for comparison [t CO2/MWh].
    default_embedded_t : float
        consumed x default factor [t CO2].
    quality : dict
        Share of consumed energy by data-quality flag [-].
    """

    consumed_mwh: float
    factor_t_per_mwh: float
    factor_type: str
    justification: str
    embedded_t: float
    default_factor_t_per_mwh: float
    default_embedded_t: float
    quality: dict[str, float]

    def rows(self) -> list[tuple[str, object, str]]:
        """(item, value, unit) rows for tables."""
        q = ", ".join(f"{k} {100 * v:.1f} %" for k, v in self.quality.items())
        return [
            ("electricity consumed", self.consumed_mwh, "MWh"),
            ("emission factor", self.factor_t_per_mwh, "t CO2/MWh"),
            ("factor type", self.factor_type, ""),
            ("data quality (share of MWh)", q, ""),
            ("justification", self.justification, ""),
            ("embedded indirect emissions", self.embedded_t, "t CO2"),
            ("for comparison: grid default factor", self.default_factor_t_per_mwh, "t CO2/MWh"),
            ("for comparison: embedded at the default", self.default_embedded_t, "t CO2"),
        ]


def cbam_block(records: pd.DataFrame, grid_default_kg_per_kwh: float) -> CbamBlock:
    """The CBAM-style block from the ledger's records."""
    served = records["load_served_kwh"].to_numpy()
    kwh = float(served.sum())
    co2 = float(records["load_co2_kg"].sum())
    quality = {q: float(served[(records["quality"] == q).to_numpy()].sum()) / kwh if kwh else 0.0 for q in
               ("measured", "estimated", "default")}  # fmt: skip
    sim = (records["flags"].to_numpy() & FLAG_SIMULATED) > 0
    quality["simulated"] = float(served[sim].sum()) / kwh if kwh else 0.0
    simulated = bool(sim.any())
    ftype = "simulated (a plan, not a declaration)" if simulated else "actual"
    return CbamBlock(
        consumed_mwh=kwh / 1000.0,
        factor_t_per_mwh=co2 / kwh if kwh else 0.0,
        factor_type=ftype,
        justification=CBAM_SIMULATED if simulated else CBAM_JUSTIFICATION,
        embedded_t=co2 / 1000.0,
        default_factor_t_per_mwh=grid_default_kg_per_kwh,
        default_embedded_t=kwh * grid_default_kg_per_kwh / 1000.0,
        quality=quality,
    )


def parse_factor_sets(raw: dict[bytes, str]) -> dict[str, dict[str, Any]]:
    """Backend factor sets (digest -> JSON) as hex digest -> dict."""
    return {d.hex(): json.loads(body) for d, body in raw.items()}
