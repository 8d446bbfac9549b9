"""CBAM supplier data: embedded indirect emissions of goods made with this microgrid's electricity.

Compute is not a CBAM good. When the microgrid powers the production of one (Regulation (EU)
2023/956, Annex I), the installation's operator must give the EU importer the indirect embedded
emissions per tonne (Implementing Regulation (EU) 2023/1773, Annex III: electricity consumed x its
emission factor). The goods file gives, per installation and CN code, the tonnes produced and the
sub-metered process electricity in the ledger's period::

    installation,cn_code,tonnes,electricity_mwh
    Horinger kiln 1,25232900,1200,96.5

The electricity emission factor is built from the supply the ledger records, as the load received it
(source mix through the battery):

    EF = share_PV x 0 + share_diesel x (genset CO2 / genset MWh) + share_grid x grid factor   [t CO2/MWh]

with the grid share at the factor the site names (the MEE/NBS factor of its region; the Commission's
default for the country may replace it). Indirect emissions count in the CBAM obligation only for
goods not in Annex II of Regulation (EU) 2023/956 (Annex II: iron and steel, aluminium, hydrogen count
direct emissions only), i.e. cement and fertilisers; the carbon price line is given only for those.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from islandgrid.carbon.csvfile import read_text_csv
from islandgrid.errors import DataFileError

#: CN code prefixes of Annex I goods whose indirect emissions count (cement, fertilisers; Annex I, II of 2023/956).
INDIRECT_COUNTED: dict[str, str] = {
    "250700": "cement",
    "2523": "cement",
    "2808": "fertilisers",
    "2814": "fertilisers",
    "283421": "fertilisers",
    "3102": "fertilisers",
    "3105": "fertilisers",
}
#: Annex I goods whose indirect emissions do not count (Annex II): direct emissions only.
DIRECT_ONLY: dict[str, str] = {"72": "iron and steel", "73": "iron and steel", "76": "aluminium", "280410": "hydrogen"}
#: Excluded from the Annex I fertiliser heading 3105 (Regulation (EU) 2023/956, Annex I).
NOT_CBAM: tuple[str, ...] = ("310560",)


def good_category(cn_code: str) -> tuple[str, bool]:
    """(CBAM category or 'not a CBAM good', whether indirect emissions count) for an 8-digit CN code."""
    if any(cn_code.startswith(p) for p in NOT_CBAM):
        return "not a CBAM good", False
    for prefix, name in sorted(INDIRECT_COUNTED.items(), key=lambda kv: -len(kv[0])):
        if cn_code.startswith(prefix):
            return name, True
    for prefix, name in sorted(DIRECT_ONLY.items(), key=lambda kv: -len(kv[0])):
        if cn_code.startswith(prefix):
            return name, False
    return "not a CBAM good", False


def read_goods(path: str | Path) -> pd.DataFrame:
    """Read and validate the goods file (columns installation, cn_code, tonnes, electricity_mwh).

    Raises
    ------
    DataFileError
        Missing columns, no rows, a CN code that is not 8 digits, tonnes <= 0 or MWh < 0; names the lines.
    """
    path = Path(path)
    raw = read_text_csv(path, missing_fix="check --cbam-goods")
    need = ["installation", "cn_code", "tonnes", "electricity_mwh"]
    if [c for c in need if c not in raw.columns] or raw.empty:
        raise DataFileError(
            "missing columns or no rows", source=str(path), field="header", value=list(raw.columns),
            allowed=", ".join(need), fix="one row per installation and CN code",
        )  # fmt: skip
    problems = []
    rows = []
    for i, r in raw.iterrows():
        line = int(str(i)) + 2
        cn = str(r["cn_code"]).replace(" ", "")
        try:
            t, mwh = float(r["tonnes"]), float(r["electricity_mwh"])
        except ValueError:
            problems.append(f"line {line}: tonnes or electricity_mwh is not a number")
            continue
        if not (cn.isdigit() and len(cn) == 8):
            problems.append(f"line {line}: cn_code {r['cn_code']!r} is not an 8-digit CN code")
        if not (np.isfinite(t) and t > 0) or not (np.isfinite(mwh) and mwh >= 0):
            problems.append(f"line {line}: tonnes must be > 0 and electricity_mwh >= 0")
        if not str(r["installation"]).strip():
            problems.append(f"line {line}: installation is empty")
        rows.append((str(r["installation"]).strip(), cn, t, mwh))
    if problems:
        raise DataFileError(f"{len(problems)} bad row(s): " + "; ".join(problems[:10]) + ".", source=str(path),
                            fix="correct those lines")  # fmt: skip
    return pd.DataFrame(rows, columns=need)


def electricity_factor(records: pd.DataFrame) -> dict[str, float]:
    """The supply's emission factor and its parts [t CO2/MWh = kg/kWh; shares -]."""
    served = records["load_served_kwh"].to_numpy(dtype=float)
    total = max(float(served.sum()), 1e-12)
    shares = {k: float((served * records[f"load_{k}_frac"].to_numpy(dtype=float)).sum()) / total
              for k in ("pv", "diesel", "grid")}  # fmt: skip
    d_kwh = float(records["diesel_kwh"].sum())
    genset = float(records["diesel_co2_kg"].sum()) / d_kwh if d_kwh > 0 else 0.0
    g_in = records["grid_in_kwh"].to_numpy(dtype=float)
    grid = (
        float((g_in * records["e_grid_kg_per_kwh"].to_numpy(dtype=float)).sum()) / float(g_in.sum())
        if g_in.sum() > 0
        else float(records["e_grid_kg_per_kwh"].mean())
    )
    ef = shares["diesel"] * genset + shares["grid"] * grid
    return {"ef": ef, "genset": genset, "grid": grid, **{f"share_{k}": v for k, v in shares.items()}}


def supplier_table(goods: pd.DataFrame, records: pd.DataFrame, price_eur_per_t: float, simulated: bool) -> pd.DataFrame:
    """One row per installation and CN code, in the order of the Commission's communication template."""
    f = electricity_factor(records)
    source = "projection from simulated data (not for a declaration)" if simulated else (
        "actual: own generation behind the point of common coupling (direct technical connection), grid at "
        "the factor the site names")  # fmt: skip
    rows = []
    cols = (
        goods["installation"].astype(str).tolist(),
        goods["cn_code"].astype(str).tolist(),
        goods["tonnes"].to_numpy(dtype=float).tolist(),
        goods["electricity_mwh"].to_numpy(dtype=float).tolist(),
    )
    for inst, cn, tonnes, mwh in zip(*cols, strict=True):  # fmt: skip
        category, counted = good_category(cn)
        embedded_t = mwh * f["ef"]
        rows.append(
            {
                "installation": inst,
                "cn_code": cn,
                "good_category": category,
                "tonnes": tonnes,
                "electricity_mwh": mwh,
                "ef_t_co2_per_mwh": f["ef"],
                "ef_source": source,
                "ef_genset_t_per_mwh": f["genset"],
                "ef_pv_t_per_mwh": 0.0,
                "ef_grid_t_per_mwh": f["grid"],
                "share_pv": f["share_pv"],
                "share_diesel": f["share_diesel"],
                "share_grid": f["share_grid"],
                "embedded_indirect_t": embedded_t,
                "specific_indirect_t_per_t": embedded_t / tonnes,
                "indirect_counted_in_cbam": counted,
                "carbon_price_eur": embedded_t * price_eur_per_t if counted else np.nan,
            }
        )
    return pd.DataFrame(rows)
