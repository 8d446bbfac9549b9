"""Claims from evidence: the claims storage rule, certificate cover and the hourly CFE supply.

The ledger's intensities follow ``carbon.battery_rule`` (physical attribution). Claims of
carbon-free energy follow ``carbon.claims_rule`` ('fifo' by default: first in, first out with
charge, discharge and self-discharge losses, as the EnergyTag Granular Certificate Scheme Standard
requires for storage), re-run over the ledger's own flows from an *empty* tracked stock: stored
energy whose origin the chain does not show (a battery's initial charge) and any discharge beyond
the tracked stock count as fossil, never as PV (:mod:`islandgrid.carbon.flow`).

Per interval t:

    pv_claim_t      = load_served_t x PV share of the load under the claims rule
    covered_pv_t    = certificate cover of gec_frac x pv_claim_t          (carbon.certificates)
    covered_grid_t  = certificate cover of grid import left after the PV
    cfe_supply_t    = covered_pv_t + granular part of covered_grid_t + (grid_in_t - covered_grid_t) x grid CFE share
    market_t        = (grid_in_t - covered_grid_t + pv_claim_t - covered_pv_t) x max(residual, e_grid_t)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from islandgrid.carbon.certificates import allocate
from islandgrid.carbon.flow import CARBON_COLUMNS, KERNEL_INPUTS, CarbonState, carbon_flow_arrays

_I_PV = CARBON_COLUMNS.index("load_pv_frac")


def claims_pv_frac(records: pd.DataFrame, body: dict[str, Any]) -> np.ndarray:
    """PV share of the load served per record under the claims rule, from an empty tracked stock [-].

    Parameters
    ----------
    records : pandas.DataFrame
        Ledger records (``read_records``).
    body : dict
        The factor set of the first record (claims rule, battery efficiencies).
    """
    if records.empty:
        return np.zeros(0)
    cols = {name: records[name].to_numpy(dtype=np.float64) for name in KERNEL_INPUTS}
    out, _ = carbon_flow_arrays(
        cols,
        records["e_grid_kg_per_kwh"].to_numpy(dtype=np.float64),
        float(records["diesel_kg_per_l"].iloc[0]),
        CarbonState(()),
        float(body.get("eta_charge", 1.0)),
        float(body.get("eta_discharge", 1.0)),
        rule=str(body.get("claims_rule", "fifo")),
        index=records.index,
    )
    return out[:, _I_PV]


def claim_terms(records: pd.DataFrame, factor_sets: dict[str, dict[str, Any]]) -> dict[str, np.ndarray]:
    """Per-record claim terms [kWh; kg; kg/kWh]: see the module docstring.

    Parameters
    ----------
    records : pandas.DataFrame
        Ledger records.
    factor_sets : dict
        Digest (hex) -> factor set.
    """
    n = len(records)
    served = records["load_served_kwh"].to_numpy(dtype=float)
    grid_in = records["grid_in_kwh"].to_numpy(dtype=float)
    e_grid = records["e_grid_kg_per_kwh"].to_numpy(dtype=float)
    first = factor_sets[str(records["factor_set"].iloc[0])] if n else {}
    pv_claim = served * claims_pv_frac(records, first)
    ts_s = pd.DatetimeIndex(records.index).as_unit("s").asi8
    dt_s = records["dt_s"].to_numpy(dtype=np.int64)
    unmatched = np.empty(n)
    cov_pv, cov_grid, granular, cfe_share = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    for digest, body in factor_sets.items():
        mask = (records["factor_set"] == digest).to_numpy()
        if not mask.any():
            continue
        unmatched[mask] = np.maximum(float(body["residual"]["value"]), e_grid[mask])
        claimed = float(body.get("gec_frac", 0.0)) * pv_claim[mask]
        p, g, q = allocate(body.get("certificates"), ts_s[mask], dt_s[mask], claimed, grid_in[mask])
        cov_pv[mask], cov_grid[mask], granular[mask] = p, g, q
        cfe_share[mask] = float(body.get("grid_cfe_share", 0.0))
    return {
        "pv_claim_kwh": pv_claim,
        "covered_pv_kwh": cov_pv,
        "covered_grid_kwh": cov_grid,
        "cfe_supply_kwh": cov_pv + granular + (grid_in - cov_grid) * cfe_share,
        "unmatched_kg_per_kwh": unmatched,
        "scope2_market_kg": (grid_in - cov_grid + pv_claim - cov_pv) * unmatched,
    }
