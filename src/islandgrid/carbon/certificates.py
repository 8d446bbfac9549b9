"""The certificate register: the energy attribute certificates a site holds, and what they cover.

A claim of carbon-free energy counts only what the register holds (GHG Protocol Scope 2
Guidance (2015), Ch. 7 Scope 2 Quality Criteria: an instrument conveys the claim, is retired on
the reporter's behalf and matches the period of consumption). The register is a CSV, one
certificate (or bundle) per row::

    certificate_id,mwh,period_start,period_end,retired_for
    GEC-2025-000123,12.5,2025-06-01,2025-07-01,Horinger AI room

- ``certificate_id`` unique; ``mwh`` > 0; the production period ``[period_start, period_end)``
  (ISO 8601; without an offset in the site's local time); ``retired_for``: whom it was retired for.
- Its SHA-256 and every row are written into the ledger's factor set, which every record's hash
  covers: changing the register after the fact changes the chain.

Allocation (:func:`allocate`): certificates in order of their period start; each covers, in
time order, the intervals lying wholly inside its period: first the on-site PV delivered to the
load that the site claims (``gec_frac``, its own generation's certificates), then grid import
(unbundled certificates). A certificate whose period is at most one hour is granular (EnergyTag
Granular Certificate Scheme Standard): only those count for grid import in the hourly CFE score.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from islandgrid.carbon.csvfile import read_text_csv
from islandgrid.errors import DataFileError

COLUMNS: tuple[str, ...] = ("certificate_id", "mwh", "period_start", "period_end", "retired_for")
#: Longest period of a granular (hourly-matchable) certificate [s].
GRANULAR_MAX_S = 3600
MAX_REPORTED = 10


def read_register(path: str | Path, tz: str) -> dict[str, Any]:
    """Read and validate a certificate register; returns its factor-set entry.

    Parameters
    ----------
    path : str or Path
        The CSV.
    tz : str
        The site's time zone, for times without an offset.

    Returns
    -------
    dict
        ``file``, ``sha256`` (of the file's bytes), ``total_mwh`` and ``certificates``: one
        ``[id, mwh, start_s, end_s, retired_for]`` per row (Unix seconds, UTC).

    Raises
    ------
    DataFileError
        Missing columns, no rows, duplicate ids, bad numbers or times; names every bad line (up to ten).
    """
    path = Path(path)
    raw = read_text_csv(path, missing_fix="check carbon.certificates")
    data = path.read_bytes()
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise DataFileError(
            "missing columns",
            source=str(path),
            field="header",
            value=list(raw.columns),
            allowed=", ".join(COLUMNS),
            fix="see the certificate register in docs/ledger.md",
        )
    if raw.empty:
        raise DataFileError("no certificates", source=str(path), fix="add a row, or drop carbon.certificates")
    problems: list[str] = []
    rows: list[list[Any]] = []
    seen: set[str] = set()
    for i, r in raw.iterrows():
        line = int(str(i)) + 2
        cid = str(r["certificate_id"]).strip()
        if not cid or cid in seen:
            problems.append(f"line {line}: certificate_id {cid!r} is empty or repeated")
        seen.add(cid)
        try:
            mwh = float(r["mwh"])
        except ValueError:
            problems.append(f"line {line}: mwh = {r['mwh']!r} is not a number")
            continue
        if not (np.isfinite(mwh) and mwh > 0):
            problems.append(f"line {line}: mwh = {r['mwh']} must be a finite number > 0")
        try:
            start, end = pd.Timestamp(r["period_start"]), pd.Timestamp(r["period_end"])
        except (ValueError, TypeError):
            problems.append(f"line {line}: period {r['period_start']!r}/{r['period_end']!r} is not ISO 8601")
            continue
        if pd.isna(start) or pd.isna(end):
            problems.append(f"line {line}: period_start or period_end is empty")
            continue
        start = start.tz_localize(tz) if start.tzinfo is None else start
        end = end.tz_localize(tz) if end.tzinfo is None else end
        if end <= start:
            problems.append(f"line {line}: period_end {r['period_end']} is not after period_start")
        if not str(r["retired_for"]).strip():
            problems.append(f"line {line}: retired_for is empty (whom was it retired for?)")
        rows.append([cid, mwh, int(start.timestamp()), int(end.timestamp()), str(r["retired_for"]).strip()])
    if problems:
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise DataFileError(
            f"{len(problems)} bad row(s): " + "; ".join(problems[:MAX_REPORTED]) + more + ".",
            source=str(path),
            fix="correct those lines",
        )
    rows.sort(key=lambda x: (x[2], x[0]))
    return {
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "total_mwh": float(sum(x[1] for x in rows)),
        "certificates": rows,
    }


def _fill(budget_kwh: float, room: np.ndarray) -> np.ndarray:
    """Fill ``room`` [kWh] in order with at most ``budget_kwh``; returns what each element got."""
    before = np.concatenate(([0.0], np.cumsum(room)[:-1]))
    return np.clip(budget_kwh - before, 0.0, room)


def allocate(
    register: dict[str, Any] | None,
    ts_s: np.ndarray,
    dt_s: np.ndarray,
    claimed_pv_kwh: np.ndarray,
    grid_in_kwh: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Certificate cover per interval [kWh].

    Parameters
    ----------
    register : dict or None
        From :func:`read_register` (as stored in the factor set); None = no certificates.
    ts_s, dt_s : ndarray
        Interval start (Unix seconds, UTC, ascending) and length [s].
    claimed_pv_kwh : ndarray
        On-site PV to the load that the site claims (``gec_frac`` x certified-path PV) [kWh].
    grid_in_kwh : ndarray
        Grid import [kWh].

    Returns
    -------
    (ndarray, ndarray, ndarray)
        Covered PV, covered grid import, and the part of the latter from granular certificates [kWh].
    """
    n = len(ts_s)
    pv = np.zeros(n)
    grid = np.zeros(n)
    granular = np.zeros(n)
    if not register:
        return pv, grid, granular
    ends = ts_s + dt_s
    for _cid, mwh, start, end, _who in register["certificates"]:
        lo = int(np.searchsorted(ts_s, start, side="left"))
        hi = int(np.searchsorted(ends, end, side="right"))
        if hi <= lo:
            continue
        z = slice(lo, hi)
        budget = float(mwh) * 1000.0
        got = _fill(budget, claimed_pv_kwh[z] - pv[z])
        pv[z] += got
        budget -= float(got.sum())
        if budget > 0:
            got = _fill(budget, grid_in_kwh[z] - grid[z])
            grid[z] += got
            if end - start <= GRANULAR_MAX_S:
                granular[z] += got
    return pv, grid, granular
