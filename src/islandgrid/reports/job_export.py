"""The per-job emissions export: CodeCarbon's ``emissions.csv`` layout plus the ledger's evidence.

Columns, in order: CodeCarbon's ``EmissionsData`` fields (mlco2/codecarbon,
``codecarbon/output_methods/emissions_data.py``: timestamp, project_name, run_id, ..., pue, wue),
so tools that read CodeCarbon files read this one; then islandgrid's: location- and market-based
CO2, CO2e, IT energy, the measured share, the certified PV share, the region code, the emission
rate per kWh, and the ledger's site id and tip hash. What the ledger does not know (CPU/GPU/RAM
power split, OS, Python version) is left empty, never guessed; ``emissions`` is the location-based
CO2e (CodeCarbon's convention: kg CO2eq at the local grid), ``energy_consumed`` the facility energy
(IT x PUE) [kWh], ``duration`` [s], ``emissions_rate`` [kg/s].

Unallocated (idle) energy: IT energy the meters record in an interval and no job claims is not
spread over the jobs (a job's figure must not depend on others' idle time); it is one row,
``run_id = "unallocated-idle"``, at each interval's PUE and intensity, so jobs + idle = the metered
IT energy x PUE. Jobs that claim more IT energy than the meters record in an interval are listed
as warnings (the claim, not the meter, is wrong).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: CodeCarbon's emissions.csv columns (EmissionsData), in its order.
CODECARBON_COLUMNS: tuple[str, ...] = (
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_utilization_percent", "ram_utilization_percent", "ram_used_gb", "cpu_power", "gpu_power", "ram_power",
    "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed", "water_consumed", "country_name",
    "country_iso_code", "region", "cloud_provider", "cloud_region", "os", "python_version", "codecarbon_version",
    "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude", "latitude", "ram_total_size",
    "tracking_mode", "on_cloud", "pue", "wue",
)  # fmt: skip
#: islandgrid's columns after CodeCarbon's.
EXTRA_COLUMNS: tuple[str, ...] = (
    "co2_location_kg", "co2_market_kg", "co2e_kg", "it_kwh", "measured_share", "certified_pv_share",
    "onsite_pv_share", "region_code", "emission_rate_kg_per_kwh", "ledger_site_id", "ledger_tip",
)  # fmt: skip
#: ISO 3166-2 codes of the grid regions the registry names.
REGION_CODES: dict[str, str] = {
    "China": "CN",
    "Inner Mongolia": "CN-NM",
    "Ningxia": "CN-NX",
    "Gansu": "CN-GS",
    "Guizhou": "CN-GZ",
}
IDLE_RUN_ID = "unallocated-idle"
#: A claim above the metered IT energy by more than this is an over-claim [-], [kWh].
OVERCLAIM_RTOL = 1e-6
OVERCLAIM_ATOL_KWH = 1e-6


def job_rates(terms: pd.DataFrame, measured: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """The per-record shares and rates :func:`~islandgrid.carbon.jobs.allocate_jobs` weights by job energy.

    Parameters
    ----------
    terms : pandas.DataFrame
        :func:`~islandgrid.reports.accounting.record_terms`.
    measured : ndarray of bool
        Per record, measured data.
    """
    served = terms["load_served_kwh"].to_numpy(dtype=float)
    safe = np.where(served > 0, served, np.inf)
    s1 = terms["scope1_kg"].to_numpy(dtype=float)
    return {
        "shares": {
            "certified_pv_share": terms["covered_pv_kwh"].to_numpy(dtype=float) / safe,
            "measured_share": np.asarray(measured, dtype=float),
        },
        "rates": {
            "co2_market_kg": (s1 + terms["scope2_market_kg"].to_numpy(dtype=float)) / safe,
            "co2e_kg": (terms["load_co2_kg"].to_numpy(dtype=float) + terms["scope1_co2e_kg"].to_numpy(dtype=float) - s1)
            / safe,
        },
    }


def overclaims(jobs: pd.DataFrame, records: pd.DataFrame) -> list[str]:
    """Intervals where the jobs claim more IT energy than the meters record (one line each, at most ten)."""
    claimed = np.asarray(jobs.attrs.get("claimed_it_kwh", np.zeros(len(records))))
    it = records["it_kwh"].to_numpy(dtype=float)
    bad = np.isfinite(it) & (claimed > it * (1 + OVERCLAIM_RTOL) + OVERCLAIM_ATOL_KWH)
    idx = np.flatnonzero(bad)
    lines = [f"{records.index[i]}: jobs claim {claimed[i]:.3f} kWh of IT energy, the meters show {it[i]:.3f} kWh"
             for i in idx[:10]]  # fmt: skip
    if len(idx) > 10:
        lines.append(f"... and {len(idx) - 10} more intervals")
    return lines


def idle_energy(jobs: pd.DataFrame, records: pd.DataFrame, rates: dict[str, np.ndarray]) -> dict[str, float]:
    """The unallocated IT energy over the jobs' span and its facility energy and CO2 [kWh, kg]."""
    claimed = np.asarray(jobs.attrs.get("claimed_it_kwh", np.zeros(len(records))))
    it = records["it_kwh"].to_numpy(dtype=float)
    t0 = pd.DatetimeIndex(records.index)
    span = (t0 >= pd.Timestamp(jobs["start"].min())) & (t0 < pd.Timestamp(jobs["end"].max()))
    known = np.isfinite(it) & (it > 0) & span
    idle = np.where(known, np.clip(it - claimed, 0.0, None), 0.0)
    pue = np.where(known, records["load_kwh"].to_numpy(dtype=float) / np.where(known, it, 1.0), 0.0)
    fac = idle * pue
    return {
        "it_kwh": float(idle.sum()),
        "facility_kwh": float(fac.sum()),
        "co2_kg": float((fac * records["e_bus_kg_per_kwh"].to_numpy(dtype=float)).sum()),
        **{k: float((fac * v).sum()) for k, v in rates.items()},
    }


def codecarbon_frame(
    jobs: pd.DataFrame, records: pd.DataFrame, site: dict[str, Any], region: str, tip: str, rates: dict[str, Any]
) -> pd.DataFrame:
    """The export: one row per job and one for the unallocated idle energy (module docstring)."""
    rows = []
    idle = idle_energy(jobs, records, rates["rates"])
    for j in [*jobs.to_dict("records"), None]:
        if j is None:
            if idle["it_kwh"] <= 0:
                continue
            start, end = pd.Timestamp(jobs["start"].min()), pd.Timestamp(jobs["end"].max())
            j = {"job_id": IDLE_RUN_ID, "start": start, "end": end, "it_kwh": idle["it_kwh"],
                 "facility_kwh": idle["facility_kwh"], "co2_kg": idle["co2_kg"], "co2_market_kg": idle["co2_market_kg"],
                 "co2e_kg": idle["co2e_kg"], "measured_share": np.nan, "certified_pv_share": np.nan,
                 "onsite_pv_share": np.nan}  # fmt: skip
        dur_s = (pd.Timestamp(j["end"]) - pd.Timestamp(j["start"])).total_seconds()
        fac = float(j["facility_kwh"])
        row: dict[str, Any] = dict.fromkeys(CODECARBON_COLUMNS, "")
        row.update(
            timestamp=pd.Timestamp(j["end"]).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S"),
            project_name=j.get("project_name") or site.get("name", ""),
            run_id=j["job_id"],
            experiment_id=j.get("experiment_id", ""),
            duration=dur_s,
            emissions=float(j["co2e_kg"]),
            emissions_rate=float(j["co2e_kg"]) / dur_s if dur_s > 0 else 0.0,
            energy_consumed=fac,
            country_name="China",
            country_iso_code="CHN",
            region=region,
            gpu_count=j.get("gpu_count", ""),
            gpu_model=j.get("gpu_model", ""),
            tracking_mode="ledger",
            on_cloud="N",
            pue=fac / float(j["it_kwh"]) if float(j["it_kwh"]) > 0 else np.nan,
            co2_location_kg=float(j["co2_kg"]),
            co2_market_kg=float(j["co2_market_kg"]),
            co2e_kg=float(j["co2e_kg"]),
            it_kwh=float(j["it_kwh"]),
            measured_share=j["measured_share"],
            certified_pv_share=j["certified_pv_share"],
            onsite_pv_share=j["onsite_pv_share"],
            region_code=REGION_CODES.get(region, ""),
            emission_rate_kg_per_kwh=float(j["co2e_kg"]) / fac if fac > 0 else 0.0,
            ledger_site_id=site.get("site_id", ""),
            ledger_tip=tip,
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=[*CODECARBON_COLUMNS, *EXTRA_COLUMNS])
