"""Meter CSV -> ledger flows: validation with line numbers, reconciliation, conservative gap filling.

Format (one row per interval; ``docs/ledger.md``)::

    timestamp,pv_kwh,grid_in_kwh,grid_out_kwh,diesel_kwh,fuel_l,bat_in_kwh,bat_out_kwh,load_kwh[,soc_kwh][,it_kwh]
        [,dump_kwh][,unserved_kwh][,quality]

``timestamp`` is the interval start, ISO 8601; without an offset it is the site's local time.
Energies are per interval [kWh], fuel [L]. ``quality`` is measured (default), estimated or default.

- A row whose sources and sinks differ by more than 2 % of its throughput (+ 0.01 kWh) is
  rejected; a smaller difference is reconciled (surplus to losses, shortfall to the largest
  source) and flagged ``reconciled``.
- A missing interval is filled conservatively and flagged ``gap_filled`` with quality
  ``default``: the larger neighbouring load, served by grid import at the higher of the site's
  grid factor and MEE's national fossil-only factor (0.8273 kg/kWh), battery idle. A gap can
  only raise the footprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from islandgrid.carbon.csvfile import read_text_csv
from islandgrid.carbon.factors import get_factor
from islandgrid.errors import DataFileError
from islandgrid.ledger.batch import (
    GAP_FILL_FACTOR,
    balance_tolerance_kwh,
    bus_residual,
    reconcile_bus,
    site_grid_factor,
)
from islandgrid.ledger.record import FLAG_GAP_FILLED, FLAG_RECONCILED, QUALITY_CODES
from islandgrid.site.spec import Site
from islandgrid.strategy.base import FLOW_COLUMNS

REQUIRED: tuple[str, ...] = (
    "timestamp",
    "pv_kwh",
    "grid_in_kwh",
    "grid_out_kwh",
    "diesel_kwh",
    "fuel_l",
    "bat_in_kwh",
    "bat_out_kwh",
    "load_kwh",
)
OPTIONAL: tuple[str, ...] = ("soc_kwh", "it_kwh", "dump_kwh", "unserved_kwh", "quality")
MAX_REPORTED = 10


@dataclass(frozen=True)
class MeterData:
    """A validated meter file, ready for :meth:`LedgerStore.append_flows`.

    Attributes
    ----------
    flows : pandas.DataFrame
        FLOW_COLUMNS on a tz-aware, constant-step index (gaps filled).
    quality : list of str
        Per row.
    flags : ndarray
        Flag bits per row.
    grid_co2_kg_per_kwh : ndarray
        Grid factor per row [kg/kWh] (raised in filled gaps).
    it_kwh : ndarray
        IT energy per row [kWh], NaN when not metered.
    dt_s : int
        Interval length [s].
    """

    flows: pd.DataFrame
    quality: list[str]
    flags: np.ndarray
    grid_co2_kg_per_kwh: np.ndarray
    it_kwh: np.ndarray
    dt_s: int


def _fail(path: Path, problems: list[str], fix: str) -> DataFileError:
    more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
    return DataFileError(
        f"{len(problems)} bad row(s): " + "; ".join(problems[:MAX_REPORTED]) + more + ".",
        source=str(path),
        fix=fix,
    )


def read_meters(path: str | Path, site: Site) -> MeterData:
    """Read and validate a meter CSV; reject it whole on any bad row (line numbers in the message).

    Parameters
    ----------
    path : str or Path
        The CSV.
    site : Site
        For the time zone and grid factor.

    Raises
    ------
    DataFileError
        Unreadable file, missing columns, malformed, negative or unbalanced rows, timestamps out of order.
    """
    path = Path(path)
    raw = read_text_csv(path)
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise DataFileError(
            "missing columns",
            source=str(path),
            field="header",
            value=missing,
            allowed=", ".join(REQUIRED) + " (+ optional " + ", ".join(OPTIONAL) + ")",
            fix="name the columns as in examples/horinger-meters.csv",
        )
    unknown = [c for c in raw.columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise DataFileError(
            "unknown columns",
            source=str(path),
            field="header",
            value=unknown,
            allowed=", ".join(REQUIRED + OPTIONAL),
            fix="remove them or fix the spelling",
        )
    if raw.empty:
        raise DataFileError("no data rows", source=str(path), fix="add at least one interval")
    lines = np.arange(len(raw)) + 2  # header is line 1
    problems: list[str] = []
    ts = pd.to_datetime(raw["timestamp"], errors="coerce", format="mixed", utc=False)
    tz = site.location.tz
    stamps: list[pd.Timestamp | None] = []
    for i, t in enumerate(ts):
        if pd.isna(t):
            problems.append(f"line {lines[i]}: timestamp {raw['timestamp'].iloc[i]!r} is not ISO 8601")
            stamps.append(None)
            continue
        t = pd.Timestamp(t)
        stamps.append(t.tz_localize(tz) if t.tzinfo is None else t)
    numeric = [c for c in (*REQUIRED[1:], "soc_kwh", "it_kwh", "dump_kwh", "unserved_kwh") if c in raw.columns]
    values: dict[str, np.ndarray] = {}
    for c in numeric:
        col = pd.to_numeric(raw[c].replace("", np.nan), errors="coerce").to_numpy(dtype=float)
        optional = c in OPTIONAL
        for i in np.flatnonzero(~np.isfinite(col)).tolist():
            if optional and raw[c].iloc[i] == "":
                continue
            problems.append(f"line {lines[i]}: {c} = {raw[c].iloc[i]!r} is not a number")
        for i in np.flatnonzero(col < 0).tolist():
            problems.append(f"line {lines[i]}: {c} = {col[i]:g} is negative (energies are >= 0 per direction)")
        values[c] = col
    quality = raw["quality"].str.strip().replace("", "measured").tolist() if "quality" in raw else None
    if quality is not None:
        for i, q in enumerate(quality):
            if q not in QUALITY_CODES:
                problems.append(f"line {lines[i]}: quality {q!r} is not measured, estimated or default")
    if problems:
        raise _fail(path, problems, "correct those lines; nothing was written")
    utc = pd.DatetimeIndex([s for s in stamps if s is not None]).tz_convert("UTC")  # none is None here
    secs = utc.as_unit("s").asi8
    steps = np.diff(secs)
    for i in np.flatnonzero(steps <= 0).tolist():
        problems.append(f"line {lines[i + 1]}: timestamp {raw['timestamp'].iloc[i + 1]} is not after line {lines[i]}")
    if problems:
        raise _fail(path, problems, "sort the rows by time and drop duplicates; nothing was written")
    dt_s = int(steps.min()) if len(steps) else 3600
    for i in np.flatnonzero(steps % dt_s != 0).tolist():
        problems.append(
            f"line {lines[i + 1]}: {steps[i]} s after the previous row, not a multiple of the {dt_s} s step"
        )
    v = values
    dump = v.get("dump_kwh", np.zeros(len(raw)))
    dump = np.where(np.isfinite(dump), dump, 0.0)
    bus = {
        "pv_used_kwh": v["pv_kwh"],
        "grid_in_kwh": v["grid_in_kwh"],
        "diesel_kwh": v["diesel_kwh"],
        "bat_out_kwh": v["bat_out_kwh"],
        "load_served_kwh": v["load_kwh"],
        "bat_in_kwh": v["bat_in_kwh"],
        "grid_out_kwh": v["grid_out_kwh"],
        "dump_kwh": dump,
    }
    resid, through = bus_residual(bus)
    tol = balance_tolerance_kwh(through)
    for i in np.flatnonzero(np.abs(resid) > tol).tolist():
        sources = through[i] if resid[i] >= 0 else through[i] + resid[i]  # through = max(sources, sinks)
        problems.append(
            f"line {lines[i]}: sources {sources:.4g} kWh and sinks {sources - resid[i]:.4g} kWh differ by more than "
            f"{tol[i]:.3g} kWh"
        )
    if problems:
        raise _fail(path, problems, "check the meters of those intervals; nothing was written")
    return _assemble(site, utc, dt_s, v, bus, quality)


def _assemble(
    site: Site,
    utc: pd.DatetimeIndex,
    dt_s: int,
    v: dict[str, np.ndarray],
    bus: dict[str, np.ndarray],
    quality: list[str] | None,
) -> MeterData:
    """Reconcile small imbalances (as every ledger append does), then place rows on the full grid and fill gaps."""
    n = len(utc)
    bus, reconciled = reconcile_bus(bus, utc, rounding_rtol=0.0)  # flag every row that did not balance
    pv, grid_in, diesel, bat_out = (bus[c] for c in ("pv_used_kwh", "grid_in_kwh", "diesel_kwh", "bat_out_kwh"))
    dump = bus["dump_kwh"]
    flags = np.zeros(n, dtype=np.uint8)
    flags[reconciled] |= FLAG_RECONCILED
    unserved = v.get("unserved_kwh", np.zeros(n))
    unserved = np.where(np.isfinite(unserved), unserved, 0.0)
    soc = v.get("soc_kwh", np.full(n, np.nan))
    it = v.get("it_kwh", np.full(n, np.nan))
    frame = pd.DataFrame(
        {
            "load_kwh": v["load_kwh"] + unserved,
            "critical_load_kwh": 0.0,  # not metered
            "load_served_kwh": v["load_kwh"],
            "unserved_kwh": unserved,
            "unserved_critical_kwh": 0.0,
            "pv_available_kwh": pv,
            "pv_used_kwh": pv,
            "pv_curtailed_kwh": 0.0,
            "grid_in_kwh": grid_in,
            "grid_out_kwh": v["grid_out_kwh"],
            "diesel_kwh": diesel,
            "bat_in_kwh": v["bat_in_kwh"],
            "bat_out_kwh": bat_out,
            "bat_selfdis_kwh": 0.0,
            "dump_kwh": dump,
            "fuel_l": v["fuel_l"],
            "soc_kwh": soc,
            "genset_on": ((diesel > 0) | (v["fuel_l"] > 0)).astype(float),
            "grid_available": np.nan,
            "quality": quality if quality is not None else ["measured"] * n,
            "flags": flags,
            "it_kwh": it,
        },
        index=utc,
    )
    full = pd.date_range(utc[0], utc[-1], freq=pd.Timedelta(seconds=dt_s), tz="UTC")
    grid = site_grid_factor(site, full.tz_convert(site.location.tz))
    if len(full) > n:
        frame = frame.reindex(full)
        gap = frame["load_served_kwh"].isna().to_numpy()
        load = frame["load_served_kwh"]
        fill_load = np.maximum(load.ffill().to_numpy(), load.bfill().to_numpy())[gap]
        fossil = get_factor(GAP_FILL_FACTOR).value
        zero_cols = [c for c in FLOW_COLUMNS if c.endswith("_kwh") or c in ("fuel_l", "genset_on")]
        frame.loc[gap, zero_cols] = 0.0
        frame.loc[gap, "load_kwh"] = fill_load
        frame.loc[gap, "load_served_kwh"] = fill_load
        frame.loc[gap, "grid_in_kwh"] = fill_load
        frame.loc[gap, ["soc_kwh", "it_kwh", "critical_load_kwh", "grid_available"]] = np.nan
        frame.loc[gap, "quality"] = "default"
        frame.loc[gap, "flags"] = FLAG_GAP_FILLED
        grid = np.where(gap, np.maximum(grid, fossil), grid)
    frame.index = pd.DatetimeIndex(frame.index).tz_convert(site.location.tz)
    return MeterData(
        flows=frame[list(FLOW_COLUMNS)].astype(float),
        quality=frame["quality"].astype(str).tolist(),
        flags=frame["flags"].to_numpy(dtype=np.uint8),
        grid_co2_kg_per_kwh=np.asarray(grid, dtype=float),
        it_kwh=frame["it_kwh"].to_numpy(dtype=float),
        dt_s=dt_s,
    )


def meters_from_flows(flows: pd.DataFrame, it_kwh: np.ndarray | None = None) -> pd.DataFrame:
    """The meter CSV view of simulated flows (to make example and test files).

    The simulation's self-discharge is not a bus flow and has no meter; the rest maps one to one.
    """
    out = pd.DataFrame(
        {
            "timestamp": [t.isoformat() for t in flows.index],
            "pv_kwh": flows["pv_used_kwh"].to_numpy(),
            "grid_in_kwh": flows["grid_in_kwh"].to_numpy(),
            "grid_out_kwh": flows["grid_out_kwh"].to_numpy(),
            "diesel_kwh": flows["diesel_kwh"].to_numpy(),
            "fuel_l": flows["fuel_l"].to_numpy(),
            "bat_in_kwh": flows["bat_in_kwh"].to_numpy(),
            "bat_out_kwh": flows["bat_out_kwh"].to_numpy(),
            "load_kwh": flows["load_served_kwh"].to_numpy(),
            "soc_kwh": flows["soc_kwh"].to_numpy(),
            "dump_kwh": flows["dump_kwh"].to_numpy(),
            "unserved_kwh": flows["unserved_kwh"].to_numpy(),
        }
    )
    if it_kwh is not None:
        out["it_kwh"] = np.asarray(it_kwh, dtype=float)
    return out
