"""The per-job emissions export: CodeCarbon's ``emissions.csv`` layout, the SCI per GPU-hour, the ledger's evidence.

:func:`job_emissions` is the one entry point: a ledger and a table of finished jobs (a jobs CSV
read with :func:`~islandgrid.carbon.jobs.read_jobs`, or a scheduler's accounting rows) in, every
job's emissions over its actual run time out, in three layouts (:class:`JobEmissions`).

``emissions.csv``: CodeCarbon's ``EmissionsData`` fields, in its order (mlco2/codecarbon,
``codecarbon/output_methods/emissions_data.py`` at commit 0999d9c: timestamp, project_name,
run_id, ..., pue, wue), so tools that read CodeCarbon files read this one; then islandgrid's:
location- and market-based CO2, CO2e, IT energy, the data-quality shares, the certified PV share,
the region code, the emission rate per kWh, and the ledger's site id, tip and tip signature. What
the ledger does not know (CPU/RAM utilisation, OS, Python version) is left empty, never guessed;
the energy split (``gpu_energy``, ``cpu_energy``, ``ram_energy`` [kWh] and the mean powers [W]) is
filled where the jobs table gives ``gpu_kwh``, ``cpu_kwh``, ``ram_kwh``. ``emissions`` is the
location-based CO2e (CodeCarbon's convention: kg CO2eq at the local grid), ``energy_consumed`` the
facility energy (IT x PUE) [kWh], ``duration`` [s], ``emissions_rate`` [kg/s].

``sci.csv``: the Green Software Foundation's Software Carbon Intensity (SCI specification 1.1,
ISO/IEC 21031:2024) per GPU-hour, ``SCI = ((E x I) + M) per R``: E the job's facility energy
[kWh], I its location-based CO2e intensity [g/kWh] (the SCI excludes market-based instruments),
M the embodied emissions of the hardware reserved, R = GPU-hours. M follows the SCI's
``M = TE x (TiR / EL) x (RR / ToR)``: per GPU-hour, TE / (EL x GPUs per server)
(:class:`EmbodiedBasis`, default from Luccioni et al. 2023, see there).

Unallocated (idle) energy: IT energy the meters record in an interval and no job claims is not
spread over the jobs (a job's figure must not depend on others' idle time); it is one row,
``run_id = "unallocated-idle"``, at each interval's PUE and intensity, so jobs + idle = the metered
IT energy x PUE over the jobs' span. Jobs that claim more IT energy than the meters record in an
interval are listed as warnings (the claim, not the meter, is wrong), as are jobs whose energy
split exceeds their IT energy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from islandgrid.carbon.jobs import ENERGY_SPLIT_COLUMNS, H100_SXM_KW, allocate_jobs
from islandgrid.ledger.store import LedgerStore
from islandgrid.ledger.verify import VerifyReport, read_records, verify_chain
from islandgrid.reports.accounting import parse_factor_sets, record_terms
from islandgrid.reports.carbon_basis import QUALITY_CLASSES, quality_class

#: CodeCarbon's emissions.csv columns (EmissionsData), in its order.
CODECARBON_COLUMNS: tuple[str, ...] = (
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_utilization_percent", "ram_utilization_percent", "ram_used_gb", "cpu_power", "gpu_power", "ram_power",
    "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed", "water_consumed", "country_name",
    "country_iso_code", "region", "cloud_provider", "cloud_region", "os", "python_version", "codecarbon_version",
    "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude", "latitude", "ram_total_size",
    "tracking_mode", "on_cloud", "pue", "wue",
)  # fmt: skip
#: The per-job data-quality shares (the report's classes) [-].
QUALITY_SHARE_COLUMNS: tuple[str, ...] = tuple(f"{c.replace('-', '_')}_share" for c in QUALITY_CLASSES)
#: islandgrid's columns after CodeCarbon's.
EXTRA_COLUMNS: tuple[str, ...] = (
    "co2_location_kg", "co2_market_kg", "co2e_kg", "it_kwh", *QUALITY_SHARE_COLUMNS, "certified_pv_share",
    "onsite_pv_share", "region_code", "emission_rate_kg_per_kwh", "ledger_site_id", "ledger_tip_seq", "ledger_tip",
    "ledger_tip_signature",
)  # fmt: skip
#: The SCI table's columns.
SCI_COLUMNS: tuple[str, ...] = (
    "run_id", "functional_unit", "gpu_hours", "energy_kwh", "intensity_g_per_kwh", "operational_g",
    "embodied_g", "sci_g_per_gpu_hour", "embodied_g_per_gpu_hour", "embodied_source", "ledger_tip",
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
HOURS_PER_YEAR = 8766.0  # 365.25 d


@dataclass(frozen=True)
class EmbodiedBasis:
    """Embodied emissions of the GPU servers, for the SCI's M.

    Defaults: Luccioni, Viguier and Ligozat, "Estimating the Carbon Footprint of BLOOM, a 176B
    Parameter Language Model", JMLR 24(253), 2023, section 3.1 (embodied emissions): 150 kg CO2eq
    per GPU and 2,500 kg CO2eq per server node without its GPUs (an 8-GPU HPE Apollo 6500 Gen10
    Plus with A100s), a 6-year lifetime. No manufacturer LCA of an H100 server gives a per-GPU
    figure; the A100 node is the documented proxy, and the value is a parameter.

    Attributes
    ----------
    server_kg : float
        Embodied CO2e of one server without its GPUs [kg].
    gpu_kg : float
        Embodied CO2e of one GPU [kg].
    gpus_per_server : int
        GPUs in one server (RR / ToR of the SCI: a GPU reserves this share of its server).
    lifetime_years : float
        Expected lifespan EL [years].
    source : str
        Where the figures come from (written into sci.csv).
    """

    server_kg: float = 2500.0
    gpu_kg: float = 150.0
    gpus_per_server: int = 8
    lifetime_years: float = 6.0
    source: str = "Luccioni, Viguier, Ligozat, JMLR 24(253) 2023, s. 3.1: 150 kg/GPU + 2500 kg/server, 6 years"

    @property
    def kg_per_gpu_hour(self) -> float:
        """M per GPU-hour: TE / (EL x GPUs per server) [kg CO2e per GPU-hour]."""
        te_kg = self.server_kg + self.gpus_per_server * self.gpu_kg
        return te_kg / (self.lifetime_years * HOURS_PER_YEAR * self.gpus_per_server)


@dataclass(frozen=True)
class JobEmissions:
    """Every finished job's emissions from the ledger (module docstring).

    Attributes
    ----------
    jobs : pandas.DataFrame
        Per job: :func:`~islandgrid.carbon.jobs.allocate_jobs`' columns, market-based CO2, CO2e and
        the data-quality shares.
    codecarbon : pandas.DataFrame
        CodeCarbon's emissions.csv layout plus :data:`EXTRA_COLUMNS`, one row per job and one for
        the unallocated idle energy.
    sci : pandas.DataFrame
        The SCI per GPU-hour of every job (:data:`SCI_COLUMNS`).
    chain : VerifyReport
        The verified chain whose tip the rows carry.
    warnings : list of str
        Intervals where jobs claim more IT energy than the meters record; energy splits above a
        job's IT energy.
    """

    jobs: pd.DataFrame
    codecarbon: pd.DataFrame
    sci: pd.DataFrame
    chain: VerifyReport
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """File stem -> table: emissions (CodeCarbon's file name and layout), sci, jobs (times as ISO 8601)."""
        jobs = self.jobs.copy()
        for c in ("start", "end"):
            jobs[c] = jobs[c].map(pd.Timestamp.isoformat)
        return {"emissions": self.codecarbon, "sci": self.sci, "jobs": jobs}

    def write(self, out_dir: Path) -> list[str]:
        """Write emissions.csv, sci.csv and jobs.csv into ``out_dir``; returns the names written."""
        names = []
        for stem, df in self.tables().items():
            df.to_csv(out_dir / f"{stem}.csv", index=False)
            names.append(f"{stem}.csv")
        return names


def job_emissions(
    store: LedgerStore,
    jobs: pd.DataFrame,
    site_id: str | None = None,
    *,
    kw_per_gpu: float = H100_SXM_KW,
    pue: float | None = None,
    embodied: EmbodiedBasis | None = None,
) -> JobEmissions:
    """Each finished job's emissions from the ledger over its actual run time.

    Parameters
    ----------
    store : LedgerStore
        The ledger (verified first: a broken chain raises).
    jobs : pandas.DataFrame
        From :func:`~islandgrid.carbon.jobs.validate_jobs` (or ``read_jobs``): job_id, start, end
        (UTC), kw or gpu_hours, optional descriptive columns and energy split.
    site_id : str, optional
        The chain, if the ledger holds several.
    kw_per_gpu : float
        Board power per GPU for ``gpu_hours`` jobs [kW].
    pue : float, optional
        PUE where the ledger has no IT energy [-].
    embodied : EmbodiedBasis, optional
        The SCI's embodied basis; default :class:`EmbodiedBasis`.
    """
    chain = verify_chain(store, site_id)
    records = read_records(store, chain.site_id)
    sets = parse_factor_sets(store.backend.factor_sets())
    sets = {d: b for d, b in sets.items() if d in set(records["factor_set"].unique())}
    region = next((str(b["grid"].get("region", "")) for b in sets.values() if "grid" in b), "")
    return emissions_from_records(
        jobs, records, record_terms(records, sets), store.site_info(chain.site_id), region, chain,
        kw_per_gpu=kw_per_gpu, pue=pue, embodied=embodied,
    )  # fmt: skip


def emissions_from_records(
    jobs: pd.DataFrame,
    records: pd.DataFrame,
    terms: pd.DataFrame,
    site: dict[str, Any],
    region: str,
    chain: VerifyReport,
    *,
    kw_per_gpu: float = H100_SXM_KW,
    pue: float | None = None,
    embodied: EmbodiedBasis | None = None,
) -> JobEmissions:
    """:func:`job_emissions` on records already read and verified (the carbon report's path)."""
    rates = job_rates(terms, quality_class(records))
    alloc = allocate_jobs(jobs, records, kw_per_gpu=kw_per_gpu, pue=pue, **rates)
    return JobEmissions(
        jobs=alloc,
        codecarbon=codecarbon_frame(alloc, records, site, region, chain, rates),
        sci=sci_frame(alloc, embodied or EmbodiedBasis(), chain.tip_hash),
        warnings=overclaims(alloc, records) + split_overclaims(alloc),
        chain=chain,
    )


def job_rates(terms: pd.DataFrame, classes: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """The per-record shares and rates :func:`~islandgrid.carbon.jobs.allocate_jobs` weights by job energy.

    Parameters
    ----------
    terms : pandas.DataFrame
        :func:`~islandgrid.reports.accounting.record_terms`.
    classes : ndarray of str
        Per record, its data-quality class (:func:`~islandgrid.reports.carbon_basis.quality_class`).
    """
    served = terms["load_served_kwh"].to_numpy(dtype=float)
    safe = np.where(served > 0, served, np.inf)
    s1 = terms["scope1_kg"].to_numpy(dtype=float)
    return {
        "shares": {
            "certified_pv_share": terms["covered_pv_kwh"].to_numpy(dtype=float) / safe,
            **{
                col: (np.asarray(classes) == c).astype(float)
                for col, c in zip(QUALITY_SHARE_COLUMNS, QUALITY_CLASSES, strict=True)
            },
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


def split_overclaims(jobs: pd.DataFrame) -> list[str]:
    """Jobs whose given energy split (GPU + CPU + RAM) exceeds their IT energy (one line each, at most ten)."""
    cols = [c for c in ENERGY_SPLIT_COLUMNS if c in jobs.columns]
    if not cols:
        return []
    split = np.nansum(np.column_stack([jobs[c].to_numpy(dtype=float) for c in cols]), axis=1)
    it = jobs["it_kwh"].to_numpy(dtype=float)
    bad = np.flatnonzero(split > it * (1 + OVERCLAIM_RTOL) + OVERCLAIM_ATOL_KWH)
    return [f"job {jobs['job_id'].iloc[i]}: its energy split ({' + '.join(cols)}) is {split[i]:.3f} kWh, "
            f"more than its IT energy {it[i]:.3f} kWh" for i in bad[:10]]  # fmt: skip


def _count(v: object) -> object:
    """A GPU count as CodeCarbon writes it: an integer where integral, empty where unknown."""
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return v if v is not None else ""
    if not np.isfinite(f):
        return ""
    return int(f) if f.is_integer() else f


def _split(j: dict[Any, Any], dur_s: float) -> dict[str, object]:
    """CodeCarbon's energy split columns [kWh] and mean powers [W] from the job's gpu/cpu/ram_kwh, where given."""
    out: dict[str, object] = {}
    for part in ("gpu", "cpu", "ram"):
        kwh = j.get(f"{part}_kwh", np.nan)
        if kwh is not None and np.isfinite(float(kwh)):
            out[f"{part}_energy"] = float(kwh)
            out[f"{part}_power"] = float(kwh) * 3.6e6 / dur_s if dur_s > 0 else 0.0
    return out


def codecarbon_frame(
    jobs: pd.DataFrame, records: pd.DataFrame, site: dict[str, Any], region: str, chain: VerifyReport,
    rates: dict[str, Any],
) -> pd.DataFrame:  # fmt: skip
    """The export: one row per job and one for the unallocated idle energy (module docstring)."""
    rows = []
    idle = idle_energy(jobs, records, rates["rates"])
    sig = "" if chain.signature is None else chain.signature.signature.hex()
    for j in [*jobs.to_dict("records"), None]:
        if j is None:
            if idle["it_kwh"] <= 0:
                continue
            start, end = pd.Timestamp(jobs["start"].min()), pd.Timestamp(jobs["end"].max())
            j = {"job_id": IDLE_RUN_ID, "start": start, "end": end, "it_kwh": idle["it_kwh"],
                 "facility_kwh": idle["facility_kwh"], "co2_kg": idle["co2_kg"], "co2_market_kg": idle["co2_market_kg"],
                 "co2e_kg": idle["co2e_kg"], "certified_pv_share": np.nan, "onsite_pv_share": np.nan,
                 **dict.fromkeys(QUALITY_SHARE_COLUMNS, np.nan)}  # fmt: skip
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
            gpu_count=_count(j.get("gpu_count", "")),
            gpu_model=j.get("gpu_model", ""),
            tracking_mode="ledger",
            on_cloud="N",
            pue=fac / float(j["it_kwh"]) if float(j["it_kwh"]) > 0 else np.nan,
            co2_location_kg=float(j["co2_kg"]),
            co2_market_kg=float(j["co2_market_kg"]),
            co2e_kg=float(j["co2e_kg"]),
            it_kwh=float(j["it_kwh"]),
            certified_pv_share=j["certified_pv_share"],
            onsite_pv_share=j["onsite_pv_share"],
            region_code=REGION_CODES.get(region, ""),
            emission_rate_kg_per_kwh=float(j["co2e_kg"]) / fac if fac > 0 else 0.0,
            ledger_site_id=site.get("site_id", chain.site_id),
            ledger_tip_seq=chain.n_records - 1,
            ledger_tip=chain.tip_hash,
            ledger_tip_signature=sig,
            **{c: j[c] for c in QUALITY_SHARE_COLUMNS},
            **_split(j, dur_s),
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=[*CODECARBON_COLUMNS, *EXTRA_COLUMNS])


def _gpu_hours(jobs: pd.DataFrame) -> np.ndarray:
    """Each job's GPU-hours: given, else gpu_count x its duration; NaN where neither is known [GPU-h]."""
    given = jobs["gpu_hours"].to_numpy(dtype=float) if "gpu_hours" in jobs.columns else np.full(len(jobs), np.nan)
    if "gpu_count" in jobs.columns:
        count = pd.to_numeric(jobs["gpu_count"], errors="coerce").to_numpy(dtype=float)
        given = np.where(np.isfinite(given), given, count * jobs["job_h"].to_numpy(dtype=float))
    return given


def sci_frame(jobs: pd.DataFrame, embodied: EmbodiedBasis, tip: str) -> pd.DataFrame:
    """The SCI per GPU-hour of each job (module docstring) [g CO2e per GPU-hour].

    A job with no GPU count or GPU-hours has no functional unit: its SCI is left empty (never
    guessed from its power). Only the part of a job inside the ledger's period is counted (E and R alike).
    """
    gpu_h = _gpu_hours(jobs) * jobs["covered_h"].to_numpy(dtype=float) / jobs["job_h"].to_numpy(dtype=float)
    e_kwh = jobs["facility_kwh"].to_numpy(dtype=float)
    op_g = jobs["co2e_kg"].to_numpy(dtype=float) * 1000.0
    m_g = gpu_h * embodied.kg_per_gpu_hour * 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        sci = np.where(gpu_h > 0, (op_g + m_g) / gpu_h, np.nan)
        intensity = np.where(e_kwh > 0, op_g / e_kwh, np.nan)
    return pd.DataFrame(
        {
            "run_id": jobs["job_id"].to_numpy(),
            "functional_unit": "GPU-hour",
            "gpu_hours": gpu_h,
            "energy_kwh": e_kwh,
            "intensity_g_per_kwh": intensity,
            "operational_g": op_g,
            "embodied_g": m_g,
            "sci_g_per_gpu_hour": sci,
            "embodied_g_per_gpu_hour": embodied.kg_per_gpu_hour * 1000.0,
            "embodied_source": embodied.source,
            "ledger_tip": tip,
        },
        columns=list(SCI_COLUMNS),
    )
