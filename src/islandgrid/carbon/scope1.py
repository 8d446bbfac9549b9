"""Scope 1 as CO2e: CO2, CH4 and N2O of the diesel genset, and the fuel-purchase reconciliation.

The genset is stationary combustion of gas/diesel oil in a commercial/institutional facility
(the compute room; an autoproducer's emissions belong to the sector it serves, IPCC category
1A4a). Factors, per TJ on a net calorific basis (2006 IPCC Guidelines for National Greenhouse Gas
Inventories, Vol. 2 Energy, Ch. 2 Stationary Combustion, Table 2.4 "Default emission factors for
stationary combustion in the commercial/institutional category"):

    CO2 74,100 kg/TJ (the ledger's diesel factor, 2.68 kg/L),  CH4 10 kg/TJ,  N2O 0.6 kg/TJ

(For a genset in the energy industries, category 1A1, Table 2.2 gives CH4 3 and N2O 0.6 kg/TJ.)
Fuel energy: 0.84 kg/L x 43 MJ/kg (the density and net calorific value behind the registry's 2.68
kg/L). GWP-100 from IPCC AR6 WG1 Ch. 7 Table 7.15: CH4 of fossil origin 29.8, N2O 273.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from islandgrid.carbon.csvfile import read_text_csv
from islandgrid.errors import DataFileError

#: Diesel density [kg/L] and net calorific value [MJ/kg] (the registry's 2.68 kg CO2/L uses the same).
DIESEL_DENSITY_KG_PER_L = 0.84
DIESEL_NCV_MJ_PER_KG = 43.0
#: Fuel energy per litre [TJ/L].
DIESEL_TJ_PER_L = DIESEL_DENSITY_KG_PER_L * DIESEL_NCV_MJ_PER_KG * 1e-6
#: 2006 IPCC Guidelines Vol. 2 Ch. 2 Table 2.4 (commercial/institutional), gas/diesel oil [kg/TJ].
CH4_KG_PER_TJ = 10.0
N2O_KG_PER_TJ = 0.6
SCOPE1_TABLE = "2006 IPCC Guidelines Vol. 2 Ch. 2 Table 2.4 (stationary combustion, commercial/institutional)"
#: IPCC AR6 WG1 Ch. 7 Table 7.15, GWP-100 [-].
GWP_CH4_FOSSIL = 29.8
GWP_N2O = 273.0
GWP_SOURCE = "IPCC AR6 WG1 Ch. 7 Table 7.15 (GWP-100: CH4 fossil 29.8, N2O 273)"
#: Purchases and modelled use differ by more than this over the period: flagged [-].
FUEL_RECONCILE_RTOL = 0.05


def diesel_gases(fuel_l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CH4 and N2O from burnt diesel [kg], per element of ``fuel_l`` [L]."""
    tj = np.asarray(fuel_l, dtype=float) * DIESEL_TJ_PER_L
    return tj * CH4_KG_PER_TJ, tj * N2O_KG_PER_TJ


def co2e(co2_kg: np.ndarray, ch4_kg: np.ndarray, n2o_kg: np.ndarray) -> np.ndarray:
    """CO2-equivalent with AR6 GWP-100 [kg CO2e]."""
    return np.asarray(co2_kg) + GWP_CH4_FOSSIL * np.asarray(ch4_kg) + GWP_N2O * np.asarray(n2o_kg)


def read_fuel_log(path: str | Path, tz: str) -> pd.DataFrame:
    """A fuel-purchase log: ``date,litres`` per delivery (other columns such as invoice are kept).

    Naive dates are local time ``tz``. Returns the rows with ``date`` (UTC) and ``litres``.

    Raises
    ------
    DataFileError
        Missing columns, no rows, a bad date or a litre figure that is not a number >= 0.
    """
    path = Path(path)
    raw = read_text_csv(path, missing_fix="check --fuel-log")
    if not {"date", "litres"} <= set(raw.columns):
        raise DataFileError(
            "missing columns", source=str(path), field="header", value=list(raw.columns), allowed="date, litres",
            fix="one row per delivery: date,litres[,invoice]",
        )  # fmt: skip
    if raw.empty:
        raise DataFileError("no deliveries", source=str(path), fix="add at least one row")
    problems = []
    dates, litres = [], []
    for i, r in raw.iterrows():
        line = int(str(i)) + 2
        try:
            d = pd.Timestamp(r["date"])
            v = float(r["litres"])
        except (ValueError, TypeError):
            problems.append(f"line {line}: date {r['date']!r} or litres {r['litres']!r} is malformed")
            continue
        if pd.isna(d) or not (np.isfinite(v) and v >= 0):
            problems.append(f"line {line}: date is empty or litres {r['litres']} is not a number >= 0")
            continue
        dates.append((d.tz_localize(tz) if d.tzinfo is None else d).tz_convert("UTC"))
        litres.append(v)
    if problems:
        raise DataFileError(f"{len(problems)} bad row(s): " + "; ".join(problems[:10]) + ".", source=str(path),
                            fix="correct those lines")  # fmt: skip
    out = raw.copy()
    out["date"] = dates
    out["litres"] = litres
    return out


def reconcile_fuel(purchases: pd.DataFrame, fuel_l: pd.Series, tz: str) -> pd.DataFrame:
    """Purchased against modelled (or metered) fuel, by local month and for the period [L].

    Deliveries fill a tank, so a month can differ; the period total is the test (flagged when
    the difference exceeds :data:`FUEL_RECONCILE_RTOL` of the purchases).
    """
    local = fuel_l.tz_convert(tz)
    used = local.groupby(pd.DatetimeIndex(local.index).strftime("%Y-%m")).sum()
    t0, t1 = fuel_l.index[0], fuel_l.index[-1]
    inside = purchases[(purchases["date"] >= t0) & (purchases["date"] <= t1)]
    bought_local = pd.DatetimeIndex(inside["date"]).tz_convert(tz).strftime("%Y-%m")
    bought = pd.Series(inside["litres"].to_numpy(dtype=float), index=bought_local).groupby(level=0).sum()
    months = sorted(set(used.index) | set(bought.index))
    df = pd.DataFrame(
        {"modelled_l": used.reindex(months).fillna(0.0), "purchased_l": bought.reindex(months).fillna(0.0)}
    )
    df.loc["total"] = df.sum()
    df["difference_l"] = df["purchased_l"] - df["modelled_l"]
    base = df["purchased_l"].where(df["purchased_l"] > 0, np.nan)
    df["difference_frac"] = (df["difference_l"] / base).fillna(0.0)
    df["flag"] = ""
    diff_l, bought_l = (float(x) for x in df[["difference_l", "purchased_l"]].to_numpy()[-1])  # the total row
    if abs(diff_l) > FUEL_RECONCILE_RTOL * max(bought_l, 1e-9):
        df.loc["total", "flag"] = f"differs by more than {100 * FUEL_RECONCILE_RTOL:.0f} %: explain or correct"
    df.index.name = "month"
    return df
