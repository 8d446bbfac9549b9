"""What every number of the carbon report is: data-quality labels and the basis of preparation.

Data quality of a record (one class each, from the ledger's quality code and flags):
'simulated' (flag simulated: ``ledger build``), else 'gap-filled' (flag gap_filled), else
'measured' (quality code measured), else 'estimated' (quality codes estimated and default).
A figure's label gives the shares of the load served behind it in each class.

A report with any simulated record is a *projection*, never headed as a GHG Protocol inventory
(GHG Protocol Corporate Standard, Ch. 7 and ISO 14064-1:2018 clause 6: an inventory quantifies
emissions that occurred).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from islandgrid import __version__
from islandgrid.carbon.factors import FACTORS, REGISTRY_VERSION
from islandgrid.carbon.scope1 import GWP_CH4_FOSSIL, GWP_N2O, GWP_SOURCE, SCOPE1_TABLE
from islandgrid.ledger.record import FLAG_GAP_FILLED, FLAG_SIMULATED

QUALITY_CLASSES: tuple[str, ...] = ("measured", "estimated", "gap-filled", "simulated")
#: Accuracy class of revenue energy meters assumed for measured kWh: IEC 62053-22 class 0.5S [-].
METER_RTOL = 0.005
#: Restatement threshold: a correction that changes a Scope total by more than this [-].
RESTATEMENT_THRESHOLD = 0.05
#: 2006 IPCC Guidelines: gas/diesel oil CO2 74,100 kg/TJ, range 72,600 to 74,800 (Vol. 2 Ch. 1 Table 1.4);
#: CH4 10 (3 to 30) and N2O 0.6 (0.2 to 2) kg/TJ (Vol. 2 Ch. 2 Table 2.4).
DIESEL_CO2_RANGE = (72600.0 / 74100.0, 74800.0 / 74100.0)
DIESEL_CH4_RANGE = (0.3, 3.0)
DIESEL_N2O_RANGE = (0.2 / 0.6, 2.0 / 0.6)


def quality_class(records: pd.DataFrame) -> np.ndarray:
    """The data-quality class of every record (:data:`QUALITY_CLASSES`)."""
    flags = records["flags"].to_numpy(dtype=np.int64)
    q = records["quality"].to_numpy(dtype=object)
    return np.select(
        [(flags & FLAG_SIMULATED) > 0, (flags & FLAG_GAP_FILLED) > 0, q == "measured"],
        ["simulated", "gap-filled", "measured"],
        default="estimated",
    ).astype(object)


def quality_shares(records: pd.DataFrame, keys: pd.Index, total: bool = True) -> pd.DataFrame:
    """Share of the load served in each quality class per group key (rows, in first-seen order), and 'total' [-]."""
    cls = quality_class(records)
    w = records["load_served_kwh"].to_numpy(dtype=float)
    w = np.where(w > 0, w, 1e-12)  # an interval with no load still has a quality
    codes, uniques = pd.factorize(keys)
    sums = np.column_stack([np.bincount(codes, weights=np.where(cls == c, w, 0.0), minlength=len(uniques))
                            for c in QUALITY_CLASSES])  # fmt: skip
    index: list[object] = list(uniques)
    if total:
        sums = np.vstack([sums, sums.sum(axis=0)])
        index.append("total")
    return pd.DataFrame(sums / sums.sum(axis=1, keepdims=True), index=index, columns=list(QUALITY_CLASSES))


def label(shares: dict[Any, Any]) -> str:
    """'measured 97.1 %, gap-filled 2.9 %': the non-zero shares (class -> share), largest first."""
    parts = [(str(k), float(v)) for k, v in shares.items() if float(v) > 0.0005]
    return ", ".join(f"{k} {100 * v:.1f} %" for k, v in sorted(parts, key=lambda kv: -kv[1])) or "no data"


def is_projection(records: pd.DataFrame) -> bool:
    """True when any record is simulated: the report is a projection, not an inventory."""
    return bool(((records["flags"].to_numpy(dtype=np.int64) & FLAG_SIMULATED) > 0).any())


def _vintage_range(name: str) -> float:
    """Relative change to the nearest other year of the same region and kind in the registry [-]; NaN if none."""
    f = next((x for x in FACTORS if x.ref == name or x.name == name), None)
    if f is None:
        return float("nan")
    others = [x for x in FACTORS if x.region == f.region and x.kind == f.kind and x.year != f.year]
    if not others:
        return float("nan")
    near = min(others, key=lambda x: abs(x.year - f.year))
    return abs(near.value - f.value) / f.value


def uncertainty(totals_kg: dict[str, float], shares: dict[str, float], grid_ref: str) -> pd.DataFrame:
    """Quantified uncertainty ranges of the annual totals [kg CO2(e)], one row per source.

    Parameters
    ----------
    totals_kg : dict
        scope1_kg, scope1_ch4_kg, scope1_n2o_kg, scope2_location_kg [kg].
    shares : dict
        Share of the load served per quality class [-].
    grid_ref : str
        The grid factor's registry reference.
    """
    s1, s2 = totals_kg["scope1_kg"], totals_kg["scope2_location_kg"]
    ch4e = GWP_CH4_FOSSIL * totals_kg["scope1_ch4_kg"]
    n2oe = GWP_N2O * totals_kg["scope1_n2o_kg"]
    vint = _vintage_range(grid_ref)
    vint_kg = s2 * vint if np.isfinite(vint) else float("nan")
    sim = 100 * shares.get("simulated", 0.0)
    meas = shares.get("measured", 0.0)
    rows = [
        ("meters (measured share)", f"+-{100 * METER_RTOL:.1f} % of measured kWh (IEC 62053-22 class 0.5S)",
         METER_RTOL * meas * s2, METER_RTOL * meas * s2),
        ("diesel CO2 factor", "74,100 kg/TJ, 72,600 to 74,800 (IPCC 2006 Vol. 2 Ch. 1 Table 1.4)",
         s1 * (1 - DIESEL_CO2_RANGE[0]), s1 * (DIESEL_CO2_RANGE[1] - 1)),
        ("diesel CH4 + N2O factors (kg CO2e)", "CH4 3 to 30, N2O 0.2 to 2 kg/TJ (Table 2.4)",
         ch4e * (1 - DIESEL_CH4_RANGE[0]) + n2oe * (1 - DIESEL_N2O_RANGE[0]),
         ch4e * (DIESEL_CH4_RANGE[1] - 1) + n2oe * (DIESEL_N2O_RANGE[1] - 1)),
        ("grid factor vintage", "no range published by MEE/NBS; change to the nearest other year of the region",
         vint_kg, vint_kg),
        ("model (simulated share)", f"{sim:.1f} % of the load served is simulated: weather-year and load "
         "assumptions, not bounded by measurement", float("nan"), float("nan")),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["source", "basis", "minus_kg", "plus_kg"])


def basis_of_preparation(
    site: dict[str, str],
    first: Any,
    last: Any,
    factors: pd.DataFrame,
    sets: dict[str, dict[str, Any]],
    projection: bool,
    counted_mwh: float = 0.0,
    format_version: int = 1,
) -> list[tuple[str, str]]:
    """The generated basis of preparation: (heading, text) pairs in the order a verifier reads them.

    ``counted_mwh`` is the certificate energy the claims used [MWh]; ``format_version`` the chain's
    ledger format (docs/ledger.md).
    """
    name = site.get("name", site.get("site_id", ""))
    grid = factors[factors["role"] == "grid"].iloc[0] if (factors["role"] == "grid").any() else None
    resid = factors[factors["role"] == "residual"].iloc[0] if (factors["role"] == "residual").any() else None
    reasons = sorted({str(b["mixed_years_reason"]) for b in sets.values() if b.get("mixed_years_reason")})
    certs = [b["certificates"] for b in sets.values() if b.get("certificates")]
    grid_txt = f"{grid['name']} ({grid['region']}, {grid['year']})" if grid is not None else "site-file value"
    res_txt = f"{resid['name']} ({resid['region']}, {resid['year']})" if resid is not None else "site-file value"
    cert_txt = (
        "; ".join(f"{c['file']} (SHA-256 {c['sha256'][:16]}..., {c['total_mwh']:,.3f} MWh, "
                  f"{len(c['certificates'])} certificates)" for c in certs)
        + (f"; counted: {counted_mwh:,.3f} MWh (the rest lies outside the ledger's intervals or exceeds the energy "
           "it can cover)" if certs else "")
        or "none: no carbon-free energy is claimed in market-based Scope 2, the CFE score or per-job shares"
    )  # fmt: skip
    return [
        ("Status", "Projection from simulated data: not a GHG Protocol inventory and not a basis for claims."
         if projection else "Inventory from the ledger's metered records (with the data-quality shares shown)."),
        ("Organisational boundary", f"Operational control: the microgrid of {name} (PV, battery, diesel genset, "
         "grid connection) and the compute room it supplies, behind one point of common coupling."),
        ("Operational boundary", "Scope 1: diesel burnt in the genset (CO2, CH4, N2O). Scope 2: grid electricity "
         "imported, location-based and market-based. Scope 3: not reported."),
        ("Period", f"{first} to {last} UTC (the ledger's first and last interval)."),
        ("Sources included", "Diesel combustion (Scope 1, " + SCOPE1_TABLE + "); grid import (Scope 2)."),
        ("Sources excluded, with materiality", "Materiality threshold: "
         f"{100 * RESTATEMENT_THRESHOLD:.0f} % of Scope 1 + 2. Refrigerant leakage of the cooling plant (HFCs, "
         "Scope 1): not estimated, no refrigerant charge or service records in the ledger; estimate from the charge "
         "and a leak rate (2006 IPCC Guidelines Vol. 3 Ch. 7) before any claim. SF6 in medium-voltage switchgear "
         "(Scope 1): not estimated, no SF6 inventory; sealed-for-life switchgear leaks little, confirm from the "
         "nameplate charge. Upstream fuel and grid transmission losses (Scope 3 category 3): excluded, no official "
         "Chinese well-to-tank or loss factor in the registry."),
        ("Standards and versions", "GHG Protocol Corporate Standard (revised edition, 2004); GHG Protocol Scope 2 "
         "Guidance (2015) and its 2025 public-consultation revision (hourly matching, unmatched load at the residual "
         "factor); ISO 14064-1:2018; prepared for verification under ISO 14064-3:2019; 2006 IPCC Guidelines; "
         f"{GWP_SOURCE}; EnergyTag Granular Certificate Scheme Standard (storage: first in, first out with losses)."),
        ("Factors", f"Location-based: {grid_txt}. Market-based: {res_txt}, floored at the location factor for "
         "unmatched load. " + ("Years mixed, allowed because: " + " / ".join(reasons) if reasons
                               else "Both factors are of the same year.")),
        ("Certificates", cert_txt),
        ("Versions", f"islandgrid {__version__}; emission-factor registry {REGISTRY_VERSION}; "
         f"ledger format {format_version}."),
        ("Uncertainty", "Quantified per source in the table below (meter class, factor ranges, vintage); the "
         "simulated share carries model uncertainty that meters do not bound."),
        ("Recalculation policy", "Restate when a factor of a newer vintage for the reporting year is published (e.g. "
         "MEE/NBS provincial factors of the period's year), when a correction changes a Scope total by more than "
         f"{100 * RESTATEMENT_THRESHOLD:.0f} %, or when a method changes (battery or claims rule, boundary). The "
         "ledger is append-only: a restatement is a new report citing the new factor set; the old chain stays."),
    ]  # fmt: skip
